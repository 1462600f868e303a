package bookings_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/examples/internal/bookings"
	"github.com/keyward/keyward/examples/internal/server"
	"github.com/keyward/keyward/internal/promexport"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

// testdata is the repository's testdata folder seen from an example's package.
const testdata = "../../../testdata/"

// checkRoutes serves routes behind a dual-mode Keyward middleware that trusts a
// fresh test issuer and the test client registry, and checks every route of
// the examples with both methods.
//
// The server also serves GET /metrics as the example servers do, and after
// the routes the metrics must count each request once. scopeAfterAuth says
// the routes authenticate every /v1 request before its scope check (Echo's
// group middleware): such a request is counted when it is authenticated,
// so its scope refusals count as allowed.
func checkRoutes(t *testing.T, routes server.Routes, scopeAfterAuth bool) {
	iss := keywardtest.NewIssuer(t, "ES256")
	// The test registry: globex / globex-secret has bookings:read and
	// bookings:create; initech is disabled.
	registry, err := clients.Open(testdata+"clients/clients.yaml", clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := promexport.New()
	if err != nil {
		t.Fatal(err)
	}
	authn := iss.Authenticator(t, func(c *keywardtest.Config) {
		c.Mode = dualauth.ModeDual
		c.Realm = "bookings-api"
		c.Clients.Verifier = registry
		c.MeterProvider = metrics.Provider
	})
	srv := httptest.NewServer(server.Handler(routes(middleware.New(authn, middleware.Options{})), metrics))
	t.Cleanup(srv.Close)

	token := func(scope string) string { return iss.Token(t, jwt.MapClaims{"scope": scope, "client_id": "acme"}) }
	const (
		globex  = "client:globex:globex-secret"
		initech = "client:initech:initech-secret"
		basic   = "Basic Z2xvYmV4Omdsb2JleC1zZWNyZXQ=" // globex:globex-secret
	)
	tests := []struct {
		name, method, path, token string
		status                    int
		challenge                 string
	}{
		{"health needs no token", "GET", "/healthz", "", 200, ""},
		{"liveness needs no token", "GET", "/livez", "", 200, ""},
		{"readiness needs no token", "GET", "/readyz", "", 200, ""},
		{"whoami without a token", "GET", "/v1/whoami", "", 401, `Bearer realm="bookings-api"`},
		{"whoami with client headers", "GET", "/v1/whoami", globex, 200, ""},
		{"list bookings with client headers", "GET", "/v1/bookings", globex, 200, ""},
		{"list bookings with Basic", "GET", "/v1/bookings", basic, 200, ""},
		{"reports with client headers lacking reports:read", "GET", "/v1/reports", globex, 403, ""},
		{"disabled client", "GET", "/v1/bookings", initech, 401, `Basic realm="bookings-api"`},
		{"whoami", "GET", "/v1/whoami", token(""), 200, ""},
		{"list bookings", "GET", "/v1/bookings", token("bookings:read"), 200, ""},
		{"list bookings without the scope", "GET", "/v1/bookings", token("bookings:readx"), 403,
			`Bearer realm="bookings-api", error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="bookings:read"`},
		{"create booking", "POST", "/v1/bookings", token("bookings:create"), 201, ""},
		{"create booking with read scope", "POST", "/v1/bookings", token("bookings:read"), 403, ""},
		{"delete booking", "DELETE", "/v1/bookings/42", token("bookings:delete"), 200, ""},
		{"delete booking without the scope", "DELETE", "/v1/bookings/42", token("bookings:read"), 403, ""},
		{"reports needs both scopes", "GET", "/v1/reports", token("reports:read bookings:read"), 200, ""},
		{"reports with one scope", "GET", "/v1/reports", token("reports:read"), 403, ""},
		{"search with reports:read", "GET", "/v1/search", token("reports:read"), 200, ""},
		{"search with bookings:read", "GET", "/v1/search", token("bookings:read"), 200, ""},
		{"search with neither", "GET", "/v1/search", token("bookings:create"), 403, ""},
		{"bad token", "GET", "/v1/bookings", "not-a-jwt", 401, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case strings.HasPrefix(tt.token, "client:"):
				parts := strings.SplitN(tt.token, ":", 3)
				req.Header.Set("client_id", parts[1])
				req.Header.Set("client_secret", parts[2])
			case strings.HasPrefix(tt.token, "Basic "):
				req.Header.Set("Authorization", tt.token)
			case tt.token != "":
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.status, body)
			}
			if tt.challenge != "" && resp.Header.Get("WWW-Authenticate") != tt.challenge {
				t.Fatalf("WWW-Authenticate = %q, want %q", resp.Header.Get("WWW-Authenticate"), tt.challenge)
			}
			if tt.path == "/healthz" && !strings.Contains(string(body), `"healthy":true`) {
				t.Fatalf("healthz = %s, want the issuer healthy", body)
			}
			if tt.path == "/v1/whoami" && tt.status == 401 {
				if got := resp.Header.Values("WWW-Authenticate"); len(got) != 2 || got[1] != `Basic realm="bookings-api"` {
					t.Fatalf("dual-mode challenges = %q, want Bearer and Basic", got)
				}
			}
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
			if tt.path == "/v1/whoami" && tt.status == 200 {
				var raw map[string]any
				if err := json.Unmarshal(body, &raw); err != nil {
					t.Fatal(err)
				}
				wantMethod, wantClient := "jwt", "acme"
				if tt.token == globex {
					wantMethod, wantClient = "credentials", "globex"
				}
				if raw["method"] != wantMethod || raw["client_id"] != wantClient || raw["scopes"] == nil {
					t.Fatalf("whoami = %s", body)
				}
			}
		})
	}

	t.Run("metrics", func(t *testing.T) {
		resp, err := srv.Client().Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// 19 requests are authenticated, with 12 tokens and one bad one;
		// 6 lack a scope (5 tokens, 1 client), refused where Require
		// decides alone.
		jwtAllowed, credAllowed, jwtScope, credScope := 7, 3, 5, 1
		if scopeAfterAuth {
			jwtAllowed, credAllowed, jwtScope, credScope = 12, 4, 0, 0
		}
		want := map[string]int{
			`keyward_requests_total{keyward_auth_method="jwt",outcome="allowed"}`:                                   jwtAllowed,
			`keyward_requests_total{keyward_auth_method="credentials",outcome="allowed"}`:                           credAllowed,
			`keyward_requests_total{code="insufficient_scope",keyward_auth_method="jwt",outcome="refused"}`:         jwtScope,
			`keyward_requests_total{code="insufficient_scope",keyward_auth_method="credentials",outcome="refused"}`: credScope,
			`keyward_requests_total{code="invalid_token",keyward_auth_method="jwt",outcome="refused"}`:              1,
			`keyward_requests_total{code="invalid_client",keyward_auth_method="credentials",outcome="refused"}`:     1,
			`keyward_requests_total{code="unauthorized",keyward_auth_method="none",outcome="refused"}`:              1,
			`keyward_credentials_checks_total{result="ok"}`:                                                         credAllowed + credScope,
			`keyward_credentials_checks_total{result="refused"}`:                                                    1,
			`keyward_jwks_keys{issuer="` + iss.URL + `"}`:                                                           1,
			`keyward_jwks_refreshes_total{issuer="` + iss.URL + `",result="ok"}`:                                    1,
			`keyward_token_cache_entries`: 12,
			`keyward_verify_duration_seconds_count{cached="false",keyward_auth_method="jwt"}`:         13,
			`keyward_verify_duration_seconds_count{cached="false",keyward_auth_method="credentials"}`: 2,
			`keyward_verify_duration_seconds_count{cached="true",keyward_auth_method="credentials"}`:  3,
		}
		got := map[string]int{}
		for line := range strings.Lines(string(body)) {
			if series, value, ok := strings.Cut(strings.TrimSpace(line), " "); ok && !strings.HasPrefix(series, "#") {
				n, _ := strconv.Atoi(value)
				got[series] = n
			}
		}
		for series, n := range want {
			if v, ok := got[series]; n > 0 && (!ok || v != n) || n == 0 && ok {
				t.Errorf("%s = %d (present %v), want %d", series, v, ok, n)
			}
		}
		if t.Failed() {
			t.Logf("GET /metrics:\n%s", body)
		}
	})
}

func TestNetHTTP(t *testing.T) { checkRoutes(t, bookings.NetHTTP, false) }

func TestEcho(t *testing.T) { checkRoutes(t, bookings.Echo, true) }

// TestReadiness follows the status routes through a key server's life with
// a real JWKS server: down at start, up once, down again. /readyz is 503
// until the keys have loaded once and stays 200 through the later outage,
// when tokens still verify against the keys held; /healthz, the detailed
// status, says 503 only while no keys are held; /livez is always 200.
func TestReadiness(t *testing.T) {
	for name, routes := range map[string]server.Routes{"net/http": bookings.NetHTTP, "echo": bookings.Echo} {
		t.Run(name, func(t *testing.T) { checkReadiness(t, routes) })
	}
}

func checkReadiness(t *testing.T, routes server.Routes) {
	iss := keywardtest.NewIssuer(t, "ES256")
	var up atomic.Bool // the key server answers 503 unless up
	keyServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := iss.JWKS()
		if !up.Load() || err != nil {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(keyServer.Close)
	keys, err := jwks.NewRemote(t.Context(), keyServer.URL, jwks.Options{}) // its first fetch fails
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	registry, err := clients.Open(testdata+"clients/clients.yaml", clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := keywardtest.Config{
		Config:  dualauth.Config{Mode: dualauth.ModeDual},
		JWT:     jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys}}},
		Clients: clientauth.Config{Verifier: registry},
	}.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = authn.Close() })
	srv := httptest.NewServer(routes(middleware.New(authn, middleware.Options{})))
	t.Cleanup(srv.Close)
	token := "Bearer " + iss.Token(t, nil)

	type check struct {
		path, auth string
		status     int
		body       string // a part of the body
	}
	phases := []struct {
		name    string
		keysUp  bool
		refresh bool // refresh the key set (true) or keep its first fetch (false)
		checks  []check
	}{
		{"before the keys ever loaded", false, false, []check{
			{"/livez", "", 200, `"status":"ok"`},
			{"/readyz", "", 503, `{"issuers":["` + iss.URL + `"],"status":"loading_keys"}`},
			{"/healthz", "", 503, `"status":"no_keys"`},
			{"/v1/whoami", token, 503, `"error":"temporarily_unavailable"`},
			{"/v1/whoami", "client", 200, `"client_id":"globex"`},
		}},
		{"keys loaded", true, true, []check{
			{"/livez", "", 200, `"status":"ok"`},
			{"/readyz", "", 200, `"status":"ok"`},
			{"/healthz", "", 200, `"healthy":true`},
			{"/v1/whoami", token, 200, `"method":"jwt"`},
		}},
		{"key server down again", false, true, []check{
			{"/livez", "", 200, `"status":"ok"`},
			{"/readyz", "", 200, `"status":"ok"`},
			{"/healthz", "", 200, `"healthy":false`},
			{"/v1/whoami", token, 200, `"method":"jwt"`},
			{"/v1/whoami", "client", 200, `"client_id":"globex"`},
		}},
	}
	for _, ph := range phases {
		up.Store(ph.keysUp)
		if ph.refresh {
			if err := keys.Refresh(t.Context()); (err == nil) != ph.keysUp {
				t.Fatalf("%s: Refresh = %v", ph.name, err)
			}
		}
		for _, c := range ph.checks {
			req, err := http.NewRequest(http.MethodGet, srv.URL+c.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			switch c.auth {
			case "":
			case "client":
				req.Header.Set("client_id", "globex")
				req.Header.Set("client_secret", "globex-secret")
			default:
				req.Header.Set("Authorization", c.auth)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || !strings.Contains(string(body), c.body) {
				t.Errorf("%s: GET %s (%s) = %d %s; want %d with %s", ph.name, c.path, c.auth, resp.StatusCode, body, c.status, c.body)
			}
		}
	}
}
