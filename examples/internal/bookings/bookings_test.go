package bookings_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/examples/internal/bookings"
	"github.com/keyward/keyward/examples/internal/server"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

// testdata is the repository's testdata folder seen from an example's package.
const testdata = "../../../testdata/"

// checkRoutes serves routes behind a dual-mode Keyward middleware that trusts a
// fresh test issuer and the test client registry, and checks every route of
// the examples with both methods.
func checkRoutes(t *testing.T, routes server.Routes) {
	iss := keywardtest.NewIssuer(t, "ES256")
	// The test registry: globex / globex-secret has bookings:read and
	// bookings:create; initech is disabled.
	registry, err := clients.Open(testdata+"clients/clients.yaml", clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	authn := iss.Authenticator(t, func(c *dualauth.Config) {
		c.Mode = dualauth.ModeDual
		c.Realm = "bookings-api"
		c.Credentials.Verifier = dualauth.RegistryVerifier(registry)
	})
	srv := httptest.NewServer(routes(middleware.New(authn, middleware.Options{})))
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
}

func TestNetHTTP(t *testing.T) { checkRoutes(t, bookings.NetHTTP) }

func TestEcho(t *testing.T) { checkRoutes(t, bookings.Echo) }
