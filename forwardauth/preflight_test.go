package forwardauth_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

// TestPreflights: issue 14 item 5. A request shaped like a CORS preflight
// (OPTIONS with Origin and Access-Control-Request-Method) is authenticated
// like any other unless Config.PassCORSPreflight is set — an upstream that
// serves OPTIONS as GET would otherwise answer it unauthenticated — and then
// passes only where a route serves the method it asks about. The
// middleware's own setting (dualauth.Config.AuthenticatePreflight) plays no
// part in forward auth.
func TestPreflights(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	token := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	handler := func(pass, middlewareAuthenticates bool) *forwardauth.Handler {
		authn := dualAuthenticator(t, iss, func(c *keywardtest.Config) { c.AuthenticatePreflight = middlewareAuthenticates })
		return newHandler(t, authn, forwardauth.Config{Routes: issueRoutes, Unmatched: forwardauth.UnmatchedAuthenticate, PassCORSPreflight: pass})
	}
	byDefault, passing := handler(false, false), handler(true, false)
	passingDespiteMiddleware := handler(true, true)
	// A subtree that names no method: its handler serves OPTIONS too.
	methodless := newHandler(t, dualAuthenticator(t, iss, nil), forwardauth.Config{PassCORSPreflight: true, Routes: []forwardauth.Route{
		{Pattern: "/admin/", Require: scopes.All("admin")},
		{Pattern: "/", Public: true},
	}})
	tests := []struct {
		name   string
		h      *forwardauth.Handler
		uri    string
		header []string
		want   int
	}{
		{"default: a preflight is authenticated", byDefault, "/v1/whoami", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET"}, 401},
		{"default: with credentials it passes", byDefault, "/v1/whoami", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET", "Authorization", token}, 200},
		// OPTIONS /v1/bookings falls to no route (authenticate), and a
		// server that routes without the method serves it as GET
		// /v1/bookings, which asks bookings:read (see TestMethodBlindReadings).
		{"default: a path whose GET asks more", byDefault, "/v1/bookings", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET", "Authorization", token}, 400},
		{"default: the issue's request", byDefault, "/admin/secret", []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "GET"}, 401},
		{"pass: a preflight passes", passing, "/v1/bookings", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET"}, 200},
		{"pass: on a route of another method", passing, "/v1/bookings", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST"}, 200},
		{"pass: only on a route", passing, "/admin/secret", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET"}, 401},
		{"pass: no Origin, no preflight", passing, "/v1/whoami", []string{"Access-Control-Request-Method", "GET"}, 401},
		{"pass: no method asked about", passing, "/v1/whoami", []string{"Origin", "https://app.example"}, 401},
		{"pass: a method not in upper case", passing, "/v1/whoami", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "get"}, 401},
		{"pass: no preflight, on a path whose GET asks more", passing, "/v1/bookings", []string{"Origin", "https://app.example"}, 400},
		{"pass: not on a route that names no method", methodless, "/admin/users", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET"}, 401},
		{"pass: not on it with a reader's token either", methodless, "/admin/users", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET", "Authorization", token}, 403},
		{"pass: the middleware's setting plays no part", passingDespiteMiddleware, "/v1/bookings", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET"}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := hdr(append([]string{"X-Forwarded-Method", "OPTIONS", "X-Forwarded-Uri", tt.uri}, tt.header...)...)
			if w := ask(tt.h, "GET", "/auth", header); w.Code != tt.want {
				t.Errorf("%d %s; want %d", w.Code, w.Body.String(), tt.want)
			}
		})
	}
}
