package authserver_test

import (
	"encoding/base64"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
)

// styleRequests are, per endpoint, a globex client_credentials request in
// the style its seed document describes.
var styleRequests = []struct {
	name     string
	req      request
	lifetime time.Duration
	refresh  bool
}{
	{"generic form body", request{path: authserver.PathToken,
		form: formOf("grant_type", "client_credentials", "client_id", "globex", "client_secret", "globex-secret")},
		authserver.LifetimeToken, true},
	{"generic JSON body", request{path: authserver.PathToken,
		json: map[string]string{"grant_type": "client_credentials", "client_id": "globex", "client_secret": "globex-secret"}},
		authserver.LifetimeToken, true},
	{"generic Basic", request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
		form: formOf("grant_type", "client_credentials")},
		authserver.LifetimeToken, true},
	{"v2 Basic", request{path: authserver.PathTokenV2, basic: []string{"globex", "globex-secret"},
		form: formOf("grant_type", "client_credentials")},
		authserver.LifetimeTokenV2, false},
	{"partner JSON", request{path: authserver.PathPartnerToken, header: http.Header{"Accept": {"application/json"}},
		json: map[string]string{"grant_type": "client_credentials", "client_id": "globex", "client_secret": "globex-secret"}},
		authserver.LifetimePartnerToken, false},
	{"connect form", request{path: authserver.PathConnectToken,
		form: formOf("grant_type", "client_credentials", "response_type", "token", "client_id", "globex", "client_secret", "globex-secret")},
		authserver.LifetimeConnectToken, false},
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	for _, tc := range styleRequests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.mustToken(t, tc.req)
			checkTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", tc.lifetime)
			if got := resp.str("refresh_token") != ""; got != tc.refresh {
				t.Errorf("refresh_token present = %v, want %v", got, tc.refresh)
			}
		})
	}
}

// checkTokenResponse checks a successful token response and its access
// token, a Bearer token without cnf.
func checkTokenResponse(t *testing.T, ts *testServer, resp response, client, scope string, lifetime time.Duration) {
	t.Helper()
	checkBoundTokenResponse(t, ts, resp, client, scope, lifetime, nil)
}

// checkBoundTokenResponse is checkTokenResponse for a token whose cnf claim
// must be cnf (none if nil), and whose token_type is DPoP when cnf has a
// jkt, Bearer otherwise.
func checkBoundTokenResponse(t *testing.T, ts *testServer, resp response, client, scope string, lifetime time.Duration, cnf map[string]any) {
	t.Helper()
	for name, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := resp.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	wantType := "Bearer"
	if _, ok := cnf["jkt"]; ok {
		wantType = "DPoP"
	}
	if got := resp.str("token_type"); got != wantType {
		t.Errorf("token_type = %q, want %q", got, wantType)
	}
	if got := resp.body["expires_in"]; got != jsonNumber(int64(lifetime/time.Second)) {
		t.Errorf("expires_in = %v, want %d", got, int64(lifetime/time.Second))
	}
	if got := resp.str("scope"); got != scope {
		t.Errorf("scope = %q, want %q", got, scope)
	}
	header, claims := ts.verify(t, resp.str("access_token"))
	if header["typ"] != "at+jwt" || header["alg"] != ts.alg() || header["kid"] == "" || header["kid"] == nil {
		t.Errorf("header = %v", header)
	}
	for name, want := range map[string]any{"iss": ts.URL, "sub": client, "client_id": client, "aud": "bookings-api"} {
		if claims[name] != want {
			t.Errorf("claim %s = %v, want %v", name, claims[name], want)
		}
	}
	if scope == "" {
		if _, ok := claims["scope"]; ok {
			t.Errorf("scope claim %v, want none", claims["scope"])
		}
	} else if claims["scope"] != scope {
		t.Errorf("claim scope = %v, want %q", claims["scope"], scope)
	}
	iat, nbf, exp := claimInt(t, claims, "iat"), claimInt(t, claims, "nbf"), claimInt(t, claims, "exp")
	if now := ts.Clock.Now().Unix(); iat != now || nbf != now || exp != now+int64(lifetime/time.Second) {
		t.Errorf("iat, nbf, exp = %d, %d, %d; want %d, %d, %d", iat, nbf, exp, now, now, now+int64(lifetime/time.Second))
	}
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		t.Errorf("jti = %q", claims["jti"])
	}
	if got, ok := claims["cnf"]; ok != (cnf != nil) || ok && !reflect.DeepEqual(got, cnf) {
		t.Errorf("claim cnf = %v, want %v", got, cnf)
	}
}

func (ts *testServer) alg() string {
	if ts.Cfg.Algorithm == "" {
		return "RS256"
	}
	return ts.Cfg.Algorithm
}

func TestTokensAreUnique(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	a, b := ts.globexToken(t), ts.globexToken(t)
	_, ca := ts.verify(t, a.str("access_token"))
	_, cb := ts.verify(t, b.str("access_token"))
	if ca["jti"] == cb["jti"] {
		t.Error("two tokens share a jti")
	}
	if a.str("refresh_token") == b.str("refresh_token") {
		t.Error("two grants share a refresh token")
	}
	for _, rt := range []string{a.str("refresh_token"), b.str("refresh_token")} {
		if raw, err := base64.RawURLEncoding.DecodeString(rt); err != nil || len(raw) < 32 {
			t.Errorf("refresh token %q is not 32 bytes of base64url: %v", rt, err)
		}
	}
}

func TestTTLOverride(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.TTL = 90*time.Second + 500*time.Millisecond })
	for _, tc := range styleRequests {
		t.Run(tc.name, func(t *testing.T) {
			checkTokenResponse(t, ts, ts.mustToken(t, tc.req), "globex", "bookings:read bookings:create", 90*time.Second)
		})
	}
	t.Run("refresh", func(t *testing.T) {
		resp := ts.refresh(t, ts.globexToken(t).str("refresh_token"))
		checkTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", 90*time.Second)
	})
}

func TestAlgorithms(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = alg })
			checkTokenResponse(t, ts, ts.globexToken(t), "globex", "bookings:read bookings:create", authserver.LifetimeToken)
		})
	}
}

// TestBasicEncoding uses a client whose id and secret need RFC 6749 §2.3.1
// form-urlencoding inside Basic.
func TestBasicEncoding(t *testing.T) {
	t.Parallel()
	const id, secret = "partner:7", "p@ss w%rd+"
	ts := start(t, func(c *authserver.Config) {
		c.Clients = writeRegistry(t, testClient{id, secret, []string{"bookings:read"}})
	})
	raw := func(s string) http.Header {
		return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(s))}}
	}
	grant := formOf("grant_type", "client_credentials")
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"form-urlencoded", request{basic: []string{id, secret}, form: grant}, http.StatusOK, ""},
		{"hand-encoded", request{header: raw("partner%3A7:p%40ss+w%25rd%2B"), form: grant}, http.StatusOK, ""},
		{"hand-encoded with %20", request{header: raw("partner%3a7:p%40ss%20w%25rd%2b"), form: grant}, http.StatusOK, ""},
		// Unencoded, the id ends at the first ':' and the secret's % is a bad escape.
		{"not encoded", request{header: raw(id + ":" + secret), form: grant}, http.StatusBadRequest, "invalid_request"},
		// Encoded, but '+' left as is decodes to a space: another secret.
		{"plus not encoded", request{header: raw("partner%3A7:p%40ss+w%25rd+"), form: grant}, http.StatusUnauthorized, "invalid_client"},
		{"form body", request{form: formOf("grant_type", "client_credentials", "client_id", id, "client_secret", secret)}, http.StatusOK, ""},
		{"JSON body", request{json: map[string]string{"grant_type": "client_credentials", "client_id": id, "client_secret": secret}}, http.StatusOK, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.path = authserver.PathToken
			resp := ts.do(t, tc.req)
			if resp.status != tc.status || resp.str("error") != tc.code {
				t.Fatalf("status %d, body %s; want %d %q", resp.status, resp.raw, tc.status, tc.code)
			}
			if tc.status == http.StatusOK {
				checkTokenResponse(t, ts, resp, id, "bookings:read", authserver.LifetimeToken)
			}
		})
	}
}

func TestScopes(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	tests := []struct {
		name, scope string // "" sends no scope parameter
		want, code  string
	}{
		{"none asks for all", "", "bookings:read bookings:create", ""},
		{"one", "bookings:read", "bookings:read", ""},
		{"other order", "bookings:create bookings:read", "bookings:create bookings:read", ""},
		{"repeated", "bookings:read bookings:read", "bookings:read", ""},
		{"not the client's", "reports:read", "", "invalid_scope"},
		{"one of them not the client's", "bookings:read reports:read", "", "invalid_scope"},
		{"unknown", "admin", "", "invalid_scope"},
		{"double space", "bookings:read  bookings:create", "", "invalid_scope"},
		{"leading space", " bookings:read", "", "invalid_scope"},
		{"quote", `bookings"read`, "", "invalid_scope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			form := formOf("grant_type", "client_credentials")
			if tc.scope != "" {
				form.Set("scope", tc.scope)
			}
			resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: form})
			if tc.code != "" {
				checkError(t, resp, http.StatusBadRequest, tc.code)
				return
			}
			checkTokenResponse(t, ts, resp, "globex", tc.want, authserver.LifetimeToken)
		})
	}
	t.Run("empty parameter counts as none", func(t *testing.T) {
		resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
			raw: "grant_type=client_credentials&scope=", contentType: "application/x-www-form-urlencoded"})
		checkTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
	})
	t.Run("JSON body", func(t *testing.T) {
		resp := ts.do(t, request{path: authserver.PathPartnerToken, json: map[string]string{
			"grant_type": "client_credentials", "client_id": "globex", "client_secret": "globex-secret", "scope": "bookings:create"}})
		checkTokenResponse(t, ts, resp, "globex", "bookings:create", authserver.LifetimePartnerToken)
	})
}

// checkError checks an RFC 6749 §5.2 error response.
func checkError(t *testing.T, resp response, status int, code string) {
	t.Helper()
	if resp.status != status || resp.str("error") != code {
		t.Fatalf("status %d, body %s; want %d %s", resp.status, resp.raw, status, code)
	}
	desc := resp.str("error_description")
	if desc == "" {
		t.Error("no error_description")
	}
	for _, r := range desc {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			t.Errorf("error_description %q has %q, which RFC 6749 §5.2 does not allow", desc, r)
		}
	}
	if len(resp.body) != 2 {
		t.Errorf("body %s has members besides error and error_description", resp.raw)
	}
	for name, want := range map[string]string{"Cache-Control": "no-store", "Pragma": "no-cache", "Content-Type": "application/json"} {
		if got := resp.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	for _, secret := range []string{"globex-secret", "acme-secret", "not-the-secret"} {
		if strings.Contains(string(resp.raw), secret) {
			t.Errorf("the error echoes a secret: %s", resp.raw)
		}
	}
}
