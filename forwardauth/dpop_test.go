package forwardauth_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// TestDPoPThroughForwardAuth: a DPoP-bound token is checked against the
// ORIGINAL request, as the proxy describes it in each convention (nginx
// X-Original-URI with X-Forwarded-Proto and -Host, Traefik
// X-Forwarded-Uri, Envoy's ext_authz path), and the DPoP header reaches
// the check: a proof of the URI the client used passes; its replay, a
// proof of another scheme, host or path, a bound token as Bearer and a
// request without its proof are refused 401 with a DPoP challenge; a
// scheme header that is repeated or unknown is 400. With nonces, the
// refusal carries DPoP-Nonce (and for nginx the body header and one
// WWW-Authenticate). Before, the DPoP header was not copied: every DPoP
// request was refused, and the scheme was always http.
func TestDPoPThroughForwardAuth(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	authn := dualAuthenticator(t, iss, func(cfg *keywardtest.Config) { cfg.JWT.DPoP = &jwtauth.DPoP{} })
	h := newHandler(t, authn, forwardauth.Config{Routes: issueRoutes, Unmatched: forwardauth.UnmatchedDeny})
	token := iss.Token(t, jwt.MapClaims{"sub": "alice", "scope": "bookings:read", "cnf": map[string]any{"jkt": key.Thumbprint()}})
	proof := func(method, uri string) string {
		p, err := key.Proof(method, uri, token, nil)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	const client = "https://api.example.com/v1/bookings"
	nginx := func(p string, extra ...string) http.Header {
		return hdr(append([]string{"X-Original-Method", "GET", "X-Original-Uri", "/v1/bookings?page=2",
			"X-Forwarded-Host", "api.example.com", "X-Forwarded-Proto", "https",
			"Authorization", "DPoP " + token, "Dpop", p}, extra...)...)
	}
	replayed := proof("GET", client)
	tests := []struct {
		name   string
		target string
		header http.Header
		status int
		code   string
	}{
		{"nginx", "/auth", nginx(replayed), http.StatusOK, ""},
		{"nginx replay", "/auth", nginx(replayed), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"traefik", "/auth", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "API.example.com",
			"X-Forwarded-Proto", "https", "Authorization", "DPoP "+token, "Dpop", proof("GET", client)), http.StatusOK, ""},
		{"envoy", "http://api.example.com/ext_authz/v1/bookings", hdr("X-Forwarded-Proto", "https",
			"Authorization", "DPoP "+token, "Dpop", proof("GET", client)), http.StatusOK, ""},
		{"absolute URI names the scheme", "/auth", hdr("X-Original-Method", "GET", "X-Original-Uri", client,
			"Authorization", "DPoP "+token, "Dpop", proof("GET", client)), http.StatusOK, ""},
		{"proof of http", "/auth", nginx(proof("GET", "http://api.example.com/v1/bookings")), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"proof of keyward's own URI", "/auth", nginx(proof("GET", "http://127.0.0.1/auth")), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"proof of another host", "/auth", nginx(proof("GET", "https://other.example.com/v1/bookings")), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"proof of another method", "/auth", nginx(proof("POST", client)), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"no proto is http", "/auth", hdr("X-Original-Method", "GET", "X-Original-Uri", "/v1/bookings", "X-Forwarded-Host", "api.example.com",
			"Authorization", "DPoP "+token, "Dpop", proof("GET", client)), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"no proof", "/auth", hdr("X-Original-Method", "GET", "X-Original-Uri", "/v1/bookings", "X-Forwarded-Proto", "https",
			"Authorization", "DPoP "+token), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"two proofs", "/auth", nginx(proof("GET", client), "Dpop", proof("GET", client)), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"bound as Bearer", "/auth", hdr("X-Original-Method", "GET", "X-Original-Uri", "/v1/bookings", "X-Forwarded-Proto", "https",
			"Authorization", "Bearer "+token, "Dpop", proof("GET", client)), http.StatusUnauthorized, "invalid_token"},
		{"two protos", "/auth", nginx(proof("GET", client), "X-Forwarded-Proto", "http"), http.StatusBadRequest, "invalid_request"},
		{"a proto list", "/auth", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Proto", "http, https",
			"Authorization", "DPoP "+token, "Dpop", proof("GET", client)), http.StatusBadRequest, "invalid_request"},
		{"an unknown proto", "/ext_authz/v1/bookings", hdr("X-Forwarded-Proto", "gopher",
			"Authorization", "DPoP "+token, "Dpop", proof("GET", client)), http.StatusBadRequest, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := ask(h, http.MethodGet, tt.target, tt.header)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if tt.status == http.StatusOK {
				if got := w.Header().Get("X-Auth-Subject"); got != "" && got != "alice" {
					t.Errorf("subject %q", got)
				}
				return
			}
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != tt.code {
				t.Errorf("body %s (%v), want error %q", w.Body, err, tt.code)
			}
			if tt.status == http.StatusUnauthorized && !strings.Contains(strings.Join(w.Header().Values("WWW-Authenticate"), ", "), "DPoP ") {
				t.Errorf("WWW-Authenticate %q offers no DPoP", w.Header().Values("WWW-Authenticate"))
			}
		})
	}

	// Nonces: the refusal carries DPoP-Nonce; for nginx one challenge
	// header and the body header too.
	nonced := dualAuthenticator(t, iss, func(cfg *keywardtest.Config) { cfg.JWT.DPoP = &jwtauth.DPoP{Nonces: true} })
	hn := newHandler(t, nonced, forwardauth.Config{Routes: issueRoutes})
	w := ask(hn, http.MethodGet, "/auth", nginx(proof("GET", client)))
	nonce := w.Header().Get("DPoP-Nonce")
	challenges := w.Header().Values("WWW-Authenticate")
	if w.Code != http.StatusUnauthorized || nonce == "" || len(challenges) != 1 || !strings.Contains(challenges[0], `error="use_dpop_nonce"`) ||
		!strings.Contains(w.Header().Get(forwardauth.HeaderBody), "use_dpop_nonce") {
		t.Fatalf("without a nonce: %d, DPoP-Nonce %q, WWW-Authenticate %q, body header %q; want 401 use_dpop_nonce with a nonce",
			w.Code, nonce, challenges, w.Header().Get(forwardauth.HeaderBody))
	}
	withNonce, err := key.Proof("GET", client, token, &keywardtest.ProofOptions{Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	if w := ask(hn, http.MethodGet, "/auth", nginx(withNonce)); w.Code != http.StatusOK {
		t.Errorf("with the nonce: %d %s, want 200", w.Code, w.Body)
	}
}
