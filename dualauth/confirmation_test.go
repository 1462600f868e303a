package dualauth_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
)

// TestVerifyRefusesSenderConstrainedTokens: a token carrying cnf (RFC 7800)
// is bound to a key whose possession this server does not check, so it is
// refused whatever the confirmation method, the shape of cnf or its
// spelling in the JSON; and the refusal is never cached, so that presenting
// the token again checks it again. The exception is a certificate-bound
// token (cnf x5t#S256, RFC 8705), whose binding is always checked: it is
// verified (and cached), then refused for want of a client certificate,
// which Verify, without a request, never has. Tokens signed by the issuer's published
// key (a real JWKS over loopback).
func TestVerifyRefusesSenderConstrainedTokens(t *testing.T) {
	s := newCacheSetup(t, jwtauth.TokenCache{})
	claims, err := json.Marshal(s.iss.Claims(nil))
	if err != nil {
		t.Fatal(err)
	}
	// withMembers adds raw JSON members to the issuer's claims: for
	// duplicates and escapes, which no encoder writes.
	withMembers := func(members string) []byte {
		return []byte(strings.TrimSuffix(string(claims), "}") + "," + members + "}")
	}
	const (
		bound     = "the access token is bound to a key (cnf), and this server cannot verify that binding"
		malformed = "the access token's cnf claim is malformed"
		noCert    = "the access token is bound to a client certificate (cnf x5t#S256), and the request has none"
		jkt       = `"0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"`
	)
	ecJWK := map[string]any{"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
	tests := []struct {
		name    string
		claims  jwt.MapClaims // added to the issuer's; or
		payload []byte        // the whole payload, signed as is
		want    string        // the description; "" means accepted
		cached  bool          // refused after it was verified (and cached) for its binding
	}{
		{name: "DPoP key thumbprint (jkt, RFC 9449)", claims: jwt.MapClaims{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}, want: bound},
		{name: "certificate thumbprint (x5t#S256, RFC 8705)", claims: jwt.MapClaims{"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg0"}}, want: noCert, cached: true},
		{name: "certificate thumbprint with stray bits", claims: jwt.MapClaims{"cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}, want: malformed},
		{name: "embedded key (jwk, RFC 7800)", claims: jwt.MapClaims{"cnf": map[string]any{"jwk": ecJWK}}, want: bound},
		{name: "key id (kid, RFC 7800)", claims: jwt.MapClaims{"cnf": map[string]any{"kid": "dfd1aa97-6d8d-4575-a0fe-34b96de2bfad"}}, want: bound},
		{name: "key set URL (jku, RFC 7800)", claims: jwt.MapClaims{"cnf": map[string]any{"jku": "https://client.example/jwks", "kid": "k1"}}, want: bound},
		{name: "encrypted key (jwe, RFC 7800)", claims: jwt.MapClaims{"cnf": map[string]any{"jwe": "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d"}}, want: bound},
		{name: "a method nobody registered", claims: jwt.MapClaims{"cnf": map[string]any{"x-custom": true}}, want: bound},
		{name: "empty object binds nothing", claims: jwt.MapClaims{"cnf": map[string]any{}}, want: malformed},
		{name: "null", payload: withMembers(`"cnf":null`), want: malformed},
		{name: "string", claims: jwt.MapClaims{"cnf": "0ZcOCORZNYy"}, want: malformed},
		{name: "array", claims: jwt.MapClaims{"cnf": []any{map[string]any{"jkt": "a"}}}, want: malformed},
		{name: "number", claims: jwt.MapClaims{"cnf": 1}, want: malformed},
		{name: "boolean", claims: jwt.MapClaims{"cnf": false}, want: malformed},
		{name: "duplicate cnf, empty last", payload: withMembers(`"cnf":{"jkt":` + jkt + `},"cnf":{}`), want: malformed},
		{name: "duplicate cnf, empty first", payload: withMembers(`"cnf":{},"cnf":{"jkt":` + jkt + `}`), want: malformed},
		{name: "duplicate cnf, null last", payload: withMembers(`"cnf":{"jkt":` + jkt + `},"cnf":null`), want: malformed},
		{name: "duplicate jkt inside cnf", payload: withMembers(`"cnf":{"jkt":` + jkt + `,"jkt":"other"}`), want: bound},
		{name: "name spelled with escapes", payload: withMembers(`"c\u006ef":{"jkt":` + jkt + `}`), want: bound},

		// Controls: what is not a cnf claim passes, and is cached.
		{name: "no cnf", claims: nil, want: ""},
		{name: "claim names are case-sensitive (CNF)", claims: jwt.MapClaims{"CNF": map[string]any{"jkt": "a"}}, want: ""},
		{name: "cnf inside another claim", claims: jwt.MapClaims{"act": map[string]any{"sub": "svc", "cnf": map[string]any{"jkt": "a"}}}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw string
			if tt.payload != nil {
				if raw, err = s.iss.Key().SignRaw([]byte(`{"alg":"ES256","kid":"`+s.iss.Key().ID+`"}`), tt.payload); err != nil {
					t.Fatal(err)
				}
			} else {
				raw = s.iss.Token(t, tt.claims)
			}
			for i := range 2 {
				before := s.keys.lookups.Load()
				p, err := s.auth.Verify(t.Context(), raw, "")
				checked := s.keys.lookups.Load() != before
				if tt.want == "" {
					if err != nil {
						t.Fatalf("use %d: %v", i+1, err)
					}
					// The first use verifies the signature, the second is
					// answered by the cache.
					if checked != (i == 0) {
						t.Fatalf("use %d: signature checked = %v", i+1, checked)
					}
					continue
				}
				if err == nil {
					t.Fatalf("use %d: accepted: %+v", i+1, p)
				}
				e := asError(t, err)
				if e.Status != http.StatusUnauthorized || e.Code != dualauth.CodeInvalidToken || e.Description != tt.want {
					t.Fatalf("use %d: error = %d %q %q, want 401 invalid_token %q", i+1, e.Status, e.Code, e.Description, tt.want)
				}
				if e.Err == nil || strings.Contains(e.Err.Error(), raw) {
					t.Fatalf("use %d: cause %v: want one, without the token", i+1, e.Err)
				}
				// Never cached: every use verifies the signature again.
				if !checked && !(tt.cached && i > 0) {
					t.Fatalf("use %d: answered without a signature check: the refusal or the token was cached", i+1)
				}
			}
		})
	}
}
