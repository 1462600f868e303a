package echokw_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/middleware/echokw"
	"github.com/keyward/keyward/scopes"
)

// exampleGet sends a GET through h and prints the status and the challenge.
func exampleGet(h http.Handler, path, token string) {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if c := rec.Header().Get("WWW-Authenticate"); c != "" {
		fmt.Println(path, rec.Code, c)
	} else {
		fmt.Println(path, rec.Code)
	}
}

// Protect an Echo application: Authenticate on the whole instance, skipping
// the health check, Require on a route.
func ExampleNew() {
	// A test issuer on 127.0.0.1 stands in for the authorization server.
	iss, err := keywardtest.StartIssuer("EdDSA")
	if err != nil {
		log.Fatal(err)
	}
	defer iss.Close()
	keys, err := jwks.NewRemote(context.Background(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := jwtauth.New(jwtauth.Config{
		Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys}},
	})
	if err != nil {
		log.Fatal(err)
	}
	a, err := dualauth.New(dualauth.Config{Realm: "bookings-api", Tokens: tokens})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()
	token, err := iss.Key().Sign(iss.Claims(jwt.MapClaims{"sub": "user-42", "scope": "bookings:read"}), nil)
	if err != nil {
		log.Fatal(err)
	}

	kw := echokw.New(middleware.New(a, middleware.Options{}), echokw.Options{
		Skipper: func(c echo.Context) bool { return c.Path() == "/healthz" },
	})

	e := echo.New()
	e.Use(kw.Authenticate())
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/bookings", func(c echo.Context) error {
		p, _ := echokw.Principal(c)
		return c.String(http.StatusOK, "bookings for "+p.Subject)
	}, kw.Require(scopes.All("bookings:read")))

	exampleGet(e, "/healthz", "")
	exampleGet(e, "/bookings", "")
	exampleGet(e, "/bookings", "not-a-jwt")
	exampleGet(e, "/bookings", token)
	// Output:
	// /healthz 200
	// /bookings 401 Bearer realm="bookings-api"
	// /bookings 401 Bearer realm="bookings-api", error="invalid_token", error_description="the access token is not a JWT"
	// /bookings 200
}
