package dualauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

func TestVerifyEveryAlgorithm(t *testing.T) {
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			iss := keywardtest.NewIssuer(t, alg)
			a := newAuthenticator(t, nil, iss)
			raw := iss.Token(t, jwt.MapClaims{"scope": "bookings:read", "sub": "user-1", "client_id": "acme"})
			p, err := a.Verify(context.Background(), raw, "")
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if p.Method != dualauth.MethodJWT || p.Subject != "user-1" || p.ClientID != "acme" || p.Issuer != iss.URL {
				t.Fatalf("principal = %+v", p)
			}
			if !p.Scopes.Has("bookings:read") {
				t.Fatalf("scopes = %q", p.Scopes)
			}
			if p.ExpiresAt.IsZero() || p.Claims()["jti"] == nil {
				t.Fatalf("expiry %v, claims %v", p.ExpiresAt, p.Claims())
			}
		})
	}
}

func TestVerifyScopeClaimShapes(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, nil, iss)
	tests := []struct {
		name   string
		claims jwt.MapClaims
		want   []string
	}{
		{"scope string", jwt.MapClaims{"scope": "a b"}, []string{"a", "b"}},
		{"scp string", jwt.MapClaims{"scp": "a"}, []string{"a"}},
		{"scp array", jwt.MapClaims{"scp": []string{"b", "a"}}, []string{"a", "b"}},
		{"scopes array", jwt.MapClaims{"scopes": []string{"bookings:create"}}, []string{"bookings:create"}},
		{"no scopes", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Verify(context.Background(), iss.Token(t, tt.claims), "")
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal([]string(p.Scopes), tt.want) {
				t.Fatalf("scopes = %q, want %q", p.Scopes, tt.want)
			}
		})
	}
}

func TestVerifyClientIDFallsBackToAzp(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, nil, iss)
	p, err := a.Verify(context.Background(), iss.Token(t, jwt.MapClaims{"client_id": nil, "azp": "portal"}), "")
	if err != nil {
		t.Fatal(err)
	}
	if p.ClientID != "portal" {
		t.Fatalf("ClientID = %q, want portal", p.ClientID)
	}
}

// TestVerifySeed002Token mirrors the partner token of seed 002: RS256 with
// typ JWT and no kid, fractional iat/nbf/exp, an empty sub, a scopes array
// and the client id as aud, from an issuer that publishes a PEM key.
func TestVerifySeed002Token(t *testing.T) {
	key, err := keywardtest.NewKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	static, err := jwks.NewStatic("partner.pem", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	const aud = "9b1e82a7-0a59-4e7e-add5-b9ffa37aade1"
	a, err := build(testConfig{
		Issuers: []jwtauth.Issuer{{Issuer: "https://partner.example", Audiences: []string{aud}, Keys: static}},
		Now:     func() time.Time { return time.Unix(1710220100, 0) },
	})
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{
		"iss": "https://partner.example", "aud": aud, "sub": "",
		"jti": "81755a6a7daf0382f0f2723a2cc951f830f533afb46b75d9b9a4cea7d215ee99",
		"iat": 1710220031.583112, "nbf": 1710220031.583114, "exp": 1710223631.577478,
		"scopes":  []string{"bookings:create", "bookings:delete"},
		"user_id": "842902db-54e5-4614-b348-002e8ce5da12", "is_test": false,
	}
	raw, err := key.Sign(claims, map[string]any{"kid": nil, "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.Verify(context.Background(), raw, "")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !p.Scopes.Has("bookings:create") || !p.Scopes.Has("bookings:delete") || p.Subject != "" {
		t.Fatalf("principal = %+v", p)
	}
	if got := p.ExpiresAt.Unix(); got != 1710223631 {
		t.Fatalf("ExpiresAt = %d, want 1710223631", got)
	}
	if p.Claims()["user_id"] != "842902db-54e5-4614-b348-002e8ce5da12" {
		t.Fatalf("claims = %v", p.Claims())
	}
}

// encode builds an unsigned compact token from raw JSON parts.
func encode(header, payload string, sig string) string {
	e := base64.RawURLEncoding.EncodeToString
	return e([]byte(header)) + "." + e([]byte(payload)) + "." + sig
}

func TestVerifyRejects(t *testing.T) {
	now := time.Now()
	iss := keywardtest.NewIssuer(t)
	other := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, nil, iss, other)
	stranger, err := keywardtest.NewKey("RS256")
	if err != nil {
		t.Fatal(err)
	}
	stranger.ID = iss.Key().ID // same kid, different key
	ecKey, err := keywardtest.NewKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(iss.Claims(nil))
	goodParts := strings.Split(iss.Token(t, nil), ".")

	tests := []struct {
		name  string
		token string
		want  string // part of the description
	}{
		{"expired", iss.Token(t, jwt.MapClaims{"exp": now.Add(-time.Minute).Unix()}), "expired"},
		{"expired beyond leeway by a second", iss.Token(t, jwt.MapClaims{"exp": now.Add(-31 * time.Second).Unix()}), "expired"},
		{"not valid yet", iss.Token(t, jwt.MapClaims{"nbf": now.Add(time.Minute).Unix()}), "not valid yet"},
		{"issued in the future", iss.Token(t, jwt.MapClaims{"iat": now.Add(time.Minute).Unix()}), "iat"},
		{"no exp", iss.Token(t, jwt.MapClaims{"exp": nil}), "no expiry"},
		{"exp not a number", iss.Token(t, jwt.MapClaims{"exp": "tomorrow"}), "malformed"},
		{"untrusted issuer", iss.Token(t, jwt.MapClaims{"iss": "https://evil.example"}), "issuer is not trusted"},
		{"no issuer", iss.Token(t, jwt.MapClaims{"iss": nil}), "issuer is not trusted"},
		{"issuer differs in case", iss.Token(t, jwt.MapClaims{"iss": strings.ToUpper(iss.URL)}), "issuer is not trusted"},
		{"wrong audience", iss.Token(t, jwt.MapClaims{"aud": "other-api"}), "not meant for this API"},
		{"no audience", iss.Token(t, jwt.MapClaims{"aud": nil}), "not meant for this API"},
		{"audience array without ours", iss.Token(t, jwt.MapClaims{"aud": []string{"a", "b"}}), "not meant for this API"},
		{"signed by an unpublished key with a known kid", iss.Sign(t, stranger, nil, iss.Claims(nil)), "signature is invalid"},
		{"other issuer's key", iss.Sign(t, other.Key(), nil, iss.Claims(nil)), "unknown key"},
		{"tampered payload", goodParts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), "test-client", "admin", 1))) + "." + goodParts[2], "signature is invalid"},
		{"alg none", encode(`{"alg":"none","typ":"JWT"}`, string(payload), ""), "algorithm is not accepted"},
		{"alg HS256", encode(`{"alg":"HS256","kid":"`+iss.Key().ID+`"}`, string(payload), "c2ln"), "algorithm is not accepted"},
		{"alg missing", encode(`{"typ":"JWT"}`, string(payload), "c2ln"), "no algorithm"},
		{"alg not a string", encode(`{"alg":256}`, string(payload), "c2ln"), "malformed"},
		{"key type does not fit alg", iss.Sign(t, ecKey, map[string]any{"kid": iss.Key().ID}, iss.Claims(nil)), "no key of the issuer"},
		{"JWE", "a.b.c.d.e", "JWE"},
		{"not a JWT", "abc", "not a JWT"},
		{"two parts", "abc.def", "not a JWT"},
		{"header not base64url", "!!!." + goodParts[1] + "." + goodParts[2], "base64url"},
		{"header padded", goodParts[0] + "==." + goodParts[1] + "." + goodParts[2], "base64url"},
		{"line break in the signature", goodParts[0] + "." + goodParts[1] + "." + goodParts[2][:10] + "\n" + goodParts[2][10:], "malformed"},
		{"trailing line break", goodParts[0] + "." + goodParts[1] + "." + goodParts[2] + "\r\n", "malformed"},
		{"line break in the header", goodParts[0][:5] + "\n" + goodParts[0][5:] + "." + goodParts[1] + "." + goodParts[2], "base64url"},
		{"header not JSON", encode(`not json`, string(payload), "c2ln"), "malformed"},
		{"crit", iss.Sign(t, iss.Key(), map[string]any{"crit": []string{"exp"}, "exp": 1}, iss.Claims(nil)), "critical"},
		{"empty crit", iss.Sign(t, iss.Key(), map[string]any{"crit": []string{}}, iss.Claims(nil)), "critical"},
		{"id token type", iss.Sign(t, iss.Key(), map[string]any{"typ": "id+jwt"}, iss.Claims(nil)), "not an access token"},
		{"dpop proof type", iss.Sign(t, iss.Key(), map[string]any{"typ": "dpop+jwt"}, iss.Claims(nil)), "not an access token"},
		{"zip", iss.Sign(t, iss.Key(), map[string]any{"zip": "DEF"}, iss.Claims(nil)), "compressed"},
		{"b64 false without crit", iss.Sign(t, iss.Key(), map[string]any{"b64": false}, iss.Claims(nil)), "unencoded payload"},
		{"b64 true", iss.Sign(t, iss.Key(), map[string]any{"b64": true}, iss.Claims(nil)), "unencoded payload"},
		{"nested JWT", iss.Sign(t, iss.Key(), map[string]any{"cty": "JWT"}, iss.Claims(nil)), "nested"},
		{"nested JWT, media type", iss.Sign(t, iss.Key(), map[string]any{"cty": "application/jwt"}, iss.Claims(nil)), "nested"},
		{"too large", iss.Token(t, jwt.MapClaims{"pad": strings.Repeat("x", 9000)}), "too large"},
		{"jku pointing elsewhere", iss.Sign(t, stranger, map[string]any{"kid": "attacker", "jku": other.JWKSURL}, iss.Claims(nil)), "unknown key"},
		{"embedded jwk", iss.Sign(t, stranger, map[string]any{"kid": nil, "jwk": map[string]any{"kty": "RSA"}}, iss.Claims(nil)), "signature is invalid"},
		{"sub not a string", iss.Token(t, jwt.MapClaims{"sub": 7}), "malformed"},
		{"client_id not a string", iss.Token(t, jwt.MapClaims{"client_id": []string{"a"}}), "client_id"},
		{"scope not a string", iss.Token(t, jwt.MapClaims{"scope": 7}), "scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := a.Verify(context.Background(), tt.token, "")
			if err == nil {
				t.Fatalf("Verify accepted the token: %+v", p)
			}
			e := asError(t, err)
			if e.Status != http.StatusUnauthorized || e.Code != dualauth.CodeInvalidToken {
				t.Fatalf("error = %d %q, want 401 invalid_token", e.Status, e.Code)
			}
			if !strings.Contains(e.Description, tt.want) {
				t.Fatalf("description %q does not contain %q", e.Description, tt.want)
			}
			if strings.Contains(e.Error(), tt.token) {
				t.Fatal("the error text contains the token")
			}
			checkCause(t, e, tt.token)
		})
	}
}

// checkCause fails unless e carries a cause for the debug log (Err) that
// quotes no part of the token raw.
func checkCause(t *testing.T, e *dualauth.Error, raw string) {
	t.Helper()
	if e.Err == nil {
		t.Fatalf("refusal %q has no cause for the debug log", e.Description)
	}
	for _, part := range strings.Split(raw, ".") {
		if len(part) >= 8 && strings.Contains(e.Err.Error(), part) {
			t.Fatalf("the cause %q quotes the token", e.Err)
		}
	}
}

func TestVerifyLeeway(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, nil, iss)
	now := time.Now()
	for name, claims := range map[string]jwt.MapClaims{
		"expired 10s ago":      {"exp": now.Add(-10 * time.Second).Unix()},
		"nbf in 10s":           {"nbf": now.Add(10 * time.Second).Unix()},
		"iat in 10s":           {"iat": now.Add(10 * time.Second).Unix()},
		"fractional exp later": {"exp": float64(now.Add(time.Minute).UnixMilli()) / 1000},
	} {
		if _, err := a.Verify(context.Background(), iss.Token(t, claims), ""); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestVerifyAlgorithmAllowlist(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "RS256")
	a := newAuthenticator(t, func(c *testConfig) { c.Algorithms = []string{"ES256"} }, iss)
	_, err := a.Verify(context.Background(), iss.Token(t, nil), "")
	if e := asError(t, err); !strings.Contains(e.Description, "algorithm is not accepted") {
		t.Fatalf("description = %q", e.Description)
	}
}

func TestVerifyRequireType(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, func(c *testConfig) { c.RequireType = "at+jwt" }, iss)
	for typ, ok := range map[string]bool{"at+jwt": true, "application/AT+JWT": true, "JWT": false, "": false} {
		header := map[string]any{"typ": typ}
		if typ == "" {
			header["typ"] = nil
		}
		_, err := a.Verify(context.Background(), iss.Sign(t, iss.Key(), header, iss.Claims(nil)), "")
		if (err == nil) != ok {
			t.Errorf("typ %q: err = %v, want accepted %v", typ, err, ok)
		}
	}
}

// TestVerifyIssuersDoNotCross checks that a key of issuer B never verifies a
// token that claims issuer A, even when B's JWKS is also trusted.
func TestVerifyIssuersDoNotCross(t *testing.T) {
	a1 := keywardtest.NewIssuer(t)
	b1 := keywardtest.NewIssuer(t)
	b1.Audience = a1.Audience
	auth := newAuthenticator(t, nil, a1, b1)
	forged := b1.Sign(t, b1.Key(), nil, a1.Claims(nil)) // iss A, B's key and kid
	if _, err := auth.Verify(context.Background(), forged, ""); err == nil {
		t.Fatal("a token claiming issuer A verified with issuer B's key")
	}
	if _, err := auth.Verify(context.Background(), b1.Token(t, nil), ""); err != nil {
		t.Fatalf("B's own token: %v", err)
	}
}

func TestVerifyNoKidUsesKeysThatFit(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	keys := []*keywardtest.Key{iss.Key(), iss.Rotate(t, "RS256"), iss.Rotate(t, "EdDSA")}
	a := newAuthenticator(t, nil, iss)
	for _, k := range keys {
		raw := iss.Sign(t, k, map[string]any{"kid": nil}, iss.Claims(nil))
		if _, err := a.Verify(context.Background(), raw, ""); err != nil {
			t.Errorf("no-kid %s token: %v", k.Alg, err)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	static, err := jwks.NewStatic("k", key.Public())
	if err != nil {
		t.Fatal(err)
	}
	good := jwtauth.Issuer{Issuer: "https://a", Audiences: []string{"api"}, Keys: static}
	tests := map[string]testConfig{
		"no issuers":         {},
		"empty issuer":       {Issuers: []jwtauth.Issuer{{Audiences: []string{"api"}, Keys: static}}},
		"no audience":        {Issuers: []jwtauth.Issuer{{Issuer: "https://a", Keys: static}}},
		"empty audience":     {Issuers: []jwtauth.Issuer{{Issuer: "https://a", Audiences: []string{""}, Keys: static}}},
		"no keys":            {Issuers: []jwtauth.Issuer{{Issuer: "https://a", Audiences: []string{"api"}}}},
		"typed nil keys":     {Issuers: []jwtauth.Issuer{{Issuer: "https://a", Audiences: []string{"api"}, Keys: (*jwks.Remote)(nil)}}},
		"duplicate issuer":   {Issuers: []jwtauth.Issuer{good, good}},
		"HS256":              {Issuers: []jwtauth.Issuer{good}, Algorithms: []string{"HS256"}},
		"none":               {Issuers: []jwtauth.Issuer{good}, Algorithms: []string{"none"}},
		"huge leeway":        {Issuers: []jwtauth.Issuer{good}, Leeway: time.Hour},
		"quote in realm":     {Issuers: []jwtauth.Issuer{good}, Realm: `a"b`},
		"negative max bytes": {Issuers: []jwtauth.Issuer{good}, MaxTokenBytes: -1},
		"unknown mode":       {Issuers: []jwtauth.Issuer{good}, Mode: "magic"},
	}
	for name, cfg := range tests {
		if _, err := build(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	if _, err := build(testConfig{Issuers: []jwtauth.Issuer{good}}); err != nil {
		t.Fatalf("good config: %v", err)
	}
}

func TestKeyStatus(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "RS256", "ES256")
	a := newAuthenticator(t, nil, iss)
	st, ok := a.KeyStatus()[iss.URL]
	if !ok {
		t.Fatalf("KeyStatus has no entry for %s", iss.URL)
	}
	if st.Keys != 2 || st.LastError != "" || st.LastRefresh.IsZero() || st.Source != iss.JWKSURL {
		t.Fatalf("status = %+v", st)
	}
}

// TestVerifyRejectsHostileEncodings covers tokens a JSON encoder would not
// write, signed with the trusted key.
func TestVerifyRejectsHostileEncodings(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, nil, iss)
	key := iss.Key()
	claims, _ := json.Marshal(iss.Claims(nil))
	header := func(extra string) []byte {
		return []byte(`{"alg":"RS256","kid":"` + key.ID + `"` + extra + `}`)
	}
	withClaim := func(name, raw string) []byte {
		return []byte(strings.TrimSuffix(string(claims), "}") + `,"` + name + `":` + raw + `}`)
	}
	tests := []struct {
		name            string
		header, payload []byte
		want            string
	}{
		{"typ in another case hides an id token", header(`,"typ":"id+jwt","TYP":"JWT"`), claims, "not an access token"},
		{"typ with spaces", header(`,"typ":" id+jwt "`), claims, "not an access token"},
		{"typ not a string", header(`,"typ":1`), claims, "typ"},
		{"trailing data after the claims", header(""), append(slices.Clone(claims), []byte(`{"scope":"admin"}`)...), "claims are malformed"},
		{"claims not an object", header(""), []byte(`["a"]`), "claims are malformed"},
		{"nbf far beyond range", header(""), withClaim("nbf", "1e400"), "out of range"},
		{"iat negative overflow", header(""), withClaim("iat", "-1e400"), "out of range"},
		{"exp in year 285 billion", header(""), withClaim("exp", "9e18"), "out of range"},
		{"negative iat", header(""), withClaim("iat", "-5"), "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := key.SignRaw(tt.header, tt.payload)
			if err != nil {
				t.Fatal(err)
			}
			p, err := a.Verify(context.Background(), raw, "")
			if err == nil {
				t.Fatalf("accepted: %+v", p)
			}
			e := asError(t, err)
			if !strings.Contains(e.Description, tt.want) {
				t.Fatalf("description %q does not contain %q", e.Description, tt.want)
			}
			checkCause(t, e, raw)
		})
	}
}

func TestVerifyNoLeeway(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, func(c *testConfig) { c.Leeway = jwtauth.NoLeeway }, iss)
	_, err := a.Verify(context.Background(), iss.Token(t, jwt.MapClaims{"exp": time.Now().Add(-2 * time.Second).Unix()}), "")
	if e := asError(t, err); !strings.Contains(e.Description, "expired") {
		t.Fatalf("a token expired 2s ago with NoLeeway: %v", err)
	}
}
