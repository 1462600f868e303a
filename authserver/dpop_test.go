package authserver_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/keywardtest"
)

// newDPoPKey generates a client's DPoP key for alg.
func newDPoPKey(t testing.TB, alg string) *keywardtest.DPoPKey {
	t.Helper()
	key, err := keywardtest.NewDPoPKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// proof is a DPoP proof signed by key for a token request, a POST to path
// under the issuer, issued at the fake clock's time unless o says
// otherwise.
func (ts *testServer) proof(t testing.TB, key *keywardtest.DPoPKey, path string, o *keywardtest.ProofOptions) string {
	t.Helper()
	if o == nil {
		o = &keywardtest.ProofOptions{}
	}
	if o.IssuedAt.IsZero() {
		o.IssuedAt = ts.Clock.Now()
	}
	p, err := key.Proof(http.MethodPost, ts.Cfg.Issuer+path, "", o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// withDPoP returns req with the DPoP header fields proofs.
func withDPoP(req request, proofs ...string) request {
	h := http.Header{}
	if req.header != nil {
		h = req.header.Clone()
	}
	h["Dpop"] = proofs // canonical spelling of DPoP
	req.header = h
	return req
}

// introspectAs asks about token as acme, which the tests that call it allow
// to introspect, and returns the answer.
func (ts *testServer) introspectAs(t testing.TB, token string) map[string]any {
	t.Helper()
	resp := ts.do(t, request{path: authserver.PathIntrospect, basic: []string{"acme", "acme-secret"}, form: formOf("token", token)})
	if resp.status != http.StatusOK || resp.body["active"] != true {
		t.Fatalf("introspection: status %d, body %s", resp.status, resp.raw)
	}
	return resp.body
}

// checkIntrospectedBinding checks that an introspection answer gives the
// token_type and cnf of a token bound as cnf says (nil: a Bearer token
// without cnf).
func checkIntrospectedBinding(t testing.TB, answer map[string]any, cnf map[string]any) {
	t.Helper()
	wantType := "Bearer"
	if _, ok := cnf["jkt"]; ok {
		wantType = "DPoP"
	}
	if answer["token_type"] != wantType {
		t.Errorf("introspection token_type = %v, want %s", answer["token_type"], wantType)
	}
	if got, ok := answer["cnf"]; ok != (cnf != nil) || ok && !reflect.DeepEqual(got, cnf) {
		t.Errorf("introspection cnf = %v, want %v", got, cnf)
	}
}

// bindingOptions give globex the token format and acme introspection.
func bindingOptions(format string) map[string]authserver.ClientOptions {
	return map[string]authserver.ClientOptions{"globex": {TokenFormat: format}, "acme": {Introspect: true}}
}

// TestDPoPIssuance: a client_credentials request with a good proof gets,
// at every endpoint and in each token format, a DPoP token bound to the
// proof's key (RFC 9449 §5, §6): token_type DPoP, cnf.jkt the key's RFC
// 7638 thumbprint in the JWT and in the introspection answer. The same
// request without a proof still gets a Bearer token without cnf.
func TestDPoPIssuance(t *testing.T) {
	t.Parallel()
	for _, format := range []string{authserver.TokenFormatJWT, authserver.TokenFormatOpaque} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256"; c.ClientOptions = bindingOptions(format) })
			for _, alg := range []string{"ES256", "EdDSA", "PS256"} {
				key := newDPoPKey(t, alg)
				cnf := map[string]any{"jkt": key.Thumbprint()}
				for _, tc := range styleRequests {
					t.Run(alg+"/"+tc.name, func(t *testing.T) {
						resp := ts.mustToken(t, withDPoP(tc.req, ts.proof(t, key, tc.req.path, nil)))
						token := resp.str("access_token")
						if format == authserver.TokenFormatJWT {
							checkBoundTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", tc.lifetime, cnf)
						} else if resp.str("token_type") != "DPoP" {
							t.Errorf("token_type = %q, want DPoP", resp.str("token_type"))
						}
						checkIntrospectedBinding(t, ts.introspectAs(t, token), cnf)

						bearer := ts.mustToken(t, tc.req)
						if format == authserver.TokenFormatJWT {
							checkTokenResponse(t, ts, bearer, "globex", "bookings:read bookings:create", tc.lifetime)
						} else if bearer.str("token_type") != "Bearer" {
							t.Errorf("without a proof: token_type = %q, want Bearer", bearer.str("token_type"))
						}
						checkIntrospectedBinding(t, ts.introspectAs(t, bearer.str("access_token")), nil)
					})
				}
			}
		})
	}
}

// TestDPoPProofRefused: a token request whose proof fails a check of RFC
// 9449 §4.3 is refused with 400 invalid_dpop_proof (§5), and issues
// nothing: not even with good client credentials.
func TestDPoPProofRefused(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
	key, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "ES256")
	now := ts.Clock.Now()
	good := request{path: authserver.PathTokenV2, basic: []string{"globex", "globex-secret"}, form: formOf("grant_type", "client_credentials")}
	tests := []struct {
		name   string
		proofs func() []string
	}{
		{"bad signature: another key's jwk", func() []string {
			return []string{ts.proof(t, key, good.path, &keywardtest.ProofOptions{Header: map[string]any{"jwk": other.JWK()}})}
		}},
		{"wrong htu: another endpoint", func() []string {
			return []string{ts.proof(t, key, authserver.PathToken, nil)}
		}},
		{"wrong htu: another host", func() []string {
			return []string{ts.proof(t, key, good.path, &keywardtest.ProofOptions{Claims: map[string]any{"htu": "http://localhost" + good.path}})}
		}},
		{"wrong htm", func() []string {
			return []string{ts.proof(t, key, good.path, &keywardtest.ProofOptions{Claims: map[string]any{"htm": http.MethodGet}})}
		}},
		{"iat too old", func() []string {
			return []string{ts.proof(t, key, good.path, &keywardtest.ProofOptions{IssuedAt: now.Add(-5 * time.Minute)})}
		}},
		{"iat in the future", func() []string {
			return []string{ts.proof(t, key, good.path, &keywardtest.ProofOptions{IssuedAt: now.Add(5 * time.Minute)})}
		}},
		{"two DPoP headers", func() []string {
			return []string{ts.proof(t, key, good.path, nil), ts.proof(t, key, good.path, nil)}
		}},
		{"empty DPoP header", func() []string { return []string{""} }},
		{"not a JWS", func() []string { return []string{"not.a.proof"} }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.do(t, withDPoP(good, tc.proofs()...))
			checkError(t, resp, http.StatusBadRequest, "invalid_dpop_proof")
			if got := resp.header.Get("WWW-Authenticate"); got != "" {
				t.Errorf("WWW-Authenticate %q on a 400", got)
			}
		})
	}

	t.Run("replay", func(t *testing.T) {
		p := ts.proof(t, key, good.path, nil)
		if resp := ts.do(t, withDPoP(good, p)); resp.status != http.StatusOK || resp.str("token_type") != "DPoP" {
			t.Fatalf("first use: status %d, body %s", resp.status, resp.raw)
		}
		checkError(t, ts.do(t, withDPoP(good, p)), http.StatusBadRequest, "invalid_dpop_proof")
	})
}

// TestDPoPRefresh: a refresh token issued with a proof is bound to its key
// (RFC 9449 §5): redeeming it needs a proof of that key (without one,
// invalid_grant; with another key's, invalid_dpop_proof), and a refusal
// leaves it usable. Its successors stay bound, also when redeemed without
// client authentication (seed 000). A refresh token issued without a proof
// stays unbound, and a proof at its redemption binds the access token only.
func TestDPoPRefresh(t *testing.T) {
	t.Parallel()
	for _, format := range []string{authserver.TokenFormatJWT, authserver.TokenFormatOpaque} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256"; c.ClientOptions = bindingOptions(format) })
			key, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "EdDSA")
			cnf := map[string]any{"jkt": key.Thumbprint()}
			grant := request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: formOf("grant_type", "client_credentials")}
			first := ts.mustToken(t, withDPoP(grant, ts.proof(t, key, authserver.PathToken, nil)))
			rt := first.str("refresh_token")
			redeem := func(token string) request {
				return request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
					form: formOf("grant_type", "refresh_token", "refresh_token", token)}
			}

			checkError(t, ts.do(t, redeem(rt)), http.StatusBadRequest, "invalid_grant")
			checkError(t, ts.do(t, withDPoP(redeem(rt), ts.proof(t, other, authserver.PathToken, nil))), http.StatusBadRequest, "invalid_dpop_proof")
			checkError(t, ts.do(t, withDPoP(redeem(rt), ts.proof(t, key, authserver.PathTokenV2, nil))), http.StatusBadRequest, "invalid_dpop_proof")

			second := ts.mustToken(t, withDPoP(redeem(rt), ts.proof(t, key, authserver.PathToken, nil)))
			if second.str("token_type") != "DPoP" {
				t.Errorf("token_type = %q, want DPoP", second.str("token_type"))
			}
			checkIntrospectedBinding(t, ts.introspectAs(t, second.str("access_token")), cnf)

			alone := request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", second.str("refresh_token"))}
			checkError(t, ts.do(t, alone), http.StatusBadRequest, "invalid_grant")
			third := ts.mustToken(t, withDPoP(alone, ts.proof(t, key, authserver.PathToken, nil)))
			checkIntrospectedBinding(t, ts.introspectAs(t, third.str("access_token")), cnf)

			// Unbound: a Bearer grant's refresh token.
			unbound := ts.globexToken(t).str("refresh_token")
			dpopOnce := ts.mustToken(t, withDPoP(redeem(unbound), ts.proof(t, other, authserver.PathToken, nil)))
			checkIntrospectedBinding(t, ts.introspectAs(t, dpopOnce.str("access_token")), map[string]any{"jkt": other.Thumbprint()})
			bearer := ts.mustToken(t, redeem(dpopOnce.str("refresh_token")))
			checkIntrospectedBinding(t, ts.introspectAs(t, bearer.str("access_token")), nil)
		})
	}
}

// TestDPoPMetadata: the metadata lists the algorithms of the proofs the
// token endpoints accept (RFC 9449 §5.1): asymmetric ones only.
func TestDPoPMetadata(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	resp := ts.do(t, request{method: http.MethodGet, path: authserver.PathOAuthMetadata})
	algs, _ := resp.body["dpop_signing_alg_values_supported"].([]any)
	got := map[any]bool{}
	for _, a := range algs {
		got[a] = true
	}
	for _, want := range []string{"ES256", "EdDSA", "RS256", "PS256"} {
		if !got[want] {
			t.Errorf("dpop_signing_alg_values_supported %v lacks %s", algs, want)
		}
	}
	for _, bad := range []string{"none", "HS256"} {
		if got[bad] {
			t.Errorf("dpop_signing_alg_values_supported %v has %s", algs, bad)
		}
	}
}

// TestDPoPLogs: the log says what a token was bound to and why a proof was
// refused, and holds no proof (nor any of its parts: the signature) and no
// token.
func TestDPoPLogs(t *testing.T) {
	t.Parallel()
	ts, logs := startLogged(t)
	key := newDPoPKey(t, "ES256")
	grant := request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: formOf("grant_type", "client_credentials")}
	good := ts.proof(t, key, grant.path, nil)
	issued := ts.mustToken(t, withDPoP(grant, good))
	refused := ts.proof(t, key, grant.path, &keywardtest.ProofOptions{Claims: map[string]any{"htm": http.MethodGet}})
	checkError(t, ts.do(t, withDPoP(grant, refused)), http.StatusBadRequest, "invalid_dpop_proof")
	checkError(t, ts.do(t, withDPoP(grant, good)), http.StatusBadRequest, "invalid_dpop_proof") // replay

	checkLog(t, logs.String(), []string{good, good[strings.LastIndex(good, ".")+1:], refused[strings.LastIndex(refused, ".")+1:],
		issued.str("access_token"), issued.str("refresh_token")}, []string{
		`msg="token issued" endpoint=/oauth/token grant_type=client_credentials client_id=globex`,
		`refresh_token=true token_type=DPoP binding=dpop`,
		`msg="token request refused" endpoint=/oauth/token grant_type=client_credentials client_id=globex remote_addr=127.0.0.1 error=invalid_dpop_proof`,
	})
}
