package forwardauth_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

// A forward-auth service for one issuer, asked about two requests the way
// Traefik and Caddy ask (nginx sends X-Original-Method and X-Original-URI
// instead). `keyward serve` builds the same from its configuration file's
// forward_auth section (config.File.ForwardAuthSection).
func ExampleNew() {
	iss, err := keywardtest.StartIssuer("ES256")
	if err != nil {
		panic(err)
	}
	defer iss.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := jwks.NewRemote(ctx, iss.JWKSURL, jwks.Options{})
	if err != nil {
		panic(err)
	}
	tokens, err := jwtauth.New(jwtauth.Config{
		Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys}},
	})
	if err != nil {
		panic(err)
	}
	authn, err := dualauth.New(dualauth.Config{Realm: "bookings-api", Tokens: tokens})
	if err != nil {
		panic(err)
	}
	defer authn.Close()

	h, err := forwardauth.New(authn, forwardauth.Config{
		Routes: []forwardauth.Route{
			{Pattern: "GET /v1/bookings", Require: scopes.All("bookings:read")},
			{Pattern: "POST /v1/bookings", Require: scopes.All("bookings:create")},
			{Pattern: "/public/", Public: true},
		},
	}, forwardauth.Options{})
	if err != nil {
		panic(err)
	}

	token, _ := iss.Key().Sign(iss.Claims(jwt.MapClaims{"sub": "alice", "scope": "bookings:read"}), nil)
	for _, method := range []string{"GET", "POST"} {
		r := httptest.NewRequest("GET", "/auth", nil) // from the proxy, on loopback
		r.RemoteAddr = "127.0.0.1:41000"
		r.Header.Set("X-Forwarded-Method", method)
		r.Header.Set("X-Forwarded-Uri", "/v1/bookings")
		r.Header.Set("Authorization", "Bearer "+token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%s: %d, X-Auth-Subject %q\n", method, w.Code, w.Header().Get("X-Auth-Subject"))
		if c := w.Header().Get("WWW-Authenticate"); c != "" {
			fmt.Println("  WWW-Authenticate:", c)
		}
	}
	// Output:
	// GET: 200, X-Auth-Subject "alice"
	// POST: 403, X-Auth-Subject ""
	//   WWW-Authenticate: Bearer realm="bookings-api", error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="bookings:create"
}
