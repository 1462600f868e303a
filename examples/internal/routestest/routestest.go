// Package routestest checks that an example server's routes answer as the
// README says, over real TCP, with tokens from a test issuer. Both example
// servers run the same table.
package routestest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/examples/internal/server"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

// Run serves routes behind a Keyward middleware that trusts a fresh test
// issuer and checks every route of the examples.
func Run(t *testing.T, routes server.Routes) {
	iss := keywardtest.NewIssuer(t, "ES256")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	keys, err := jwks.NewRemote(ctx, iss.JWKSURL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := dualauth.New(dualauth.Config{
		Realm:   "bookings-api",
		Issuers: []dualauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(routes(middleware.New(authn, middleware.Options{})))
	t.Cleanup(srv.Close)

	token := func(scope string) string { return iss.Token(t, jwt.MapClaims{"scope": scope, "client_id": "acme"}) }
	tests := []struct {
		name, method, path, token string
		status                    int
		challenge                 string
	}{
		{"health needs no token", "GET", "/healthz", "", 200, ""},
		{"whoami without a token", "GET", "/v1/whoami", "", 401, `Bearer realm="bookings-api"`},
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
			if tt.token != "" {
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
			if resp.Header.Get("Content-Type") != "application/json" {
				t.Fatalf("Content-Type = %q", resp.Header.Get("Content-Type"))
			}
			if tt.path == "/v1/whoami" && tt.status == 200 {
				var raw map[string]any
				if err := json.Unmarshal(body, &raw); err != nil {
					t.Fatal(err)
				}
				if raw["method"] != "jwt" || raw["client_id"] != "acme" || raw["issuer"] != iss.URL || raw["scopes"] == nil || raw["claims"] == nil {
					t.Fatalf("whoami = %s", body)
				}
			}
		})
	}
}
