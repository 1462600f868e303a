package dualauth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/middleware"
)

// An issuer that publishes a single public key (a PEM file, say) and signs
// tokens without a kid.
func ExampleNew() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, err := jwks.NewStatic("issuer.pem", key.Public())
	if err != nil {
		panic(err)
	}
	authn, err := build(testConfig{
		Realm:   "bookings-api",
		Issuers: []jwtauth.Issuer{{Issuer: "https://auth.example.com", Audiences: []string{"bookings-api"}, Keys: keys}},
	})
	if err != nil {
		panic(err)
	}

	raw, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://auth.example.com", "aud": "bookings-api", "sub": "acme",
		"scope": "bookings:read", "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString(key)
	p, err := authn.Verify(context.Background(), raw, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Method, p.Subject, p.Scopes)

	_, err = authn.Verify(context.Background(), raw[:len(raw)-4]+"AAAA", "")
	fmt.Println(err)
	// Output:
	// jwt acme bookings:read
	// dualauth: invalid_token: the access token's signature is invalid
}

// Authenticate reads the credentials from a request; every refusal is an
// *Error carrying the status and RFC 6750 code to answer with.
func ExampleAuthenticator_Authenticate() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, _ := jwks.NewStatic("issuer.pem", key.Public())
	authn, _ := build(testConfig{
		Issuers: []jwtauth.Issuer{{Issuer: "https://auth.example.com", Audiences: []string{"bookings-api"}, Keys: keys}},
	})

	for _, header := range []string{"", "Bearer not-a-jwt", "Bearer a b"} {
		r := httptest.NewRequest("GET", "/v1/bookings", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		_, err := authn.Authenticate(r)
		e := err.(*dualauth.Error)
		fmt.Printf("%d %q %s\n", e.Status, e.Code, e.Description)
	}
	// Output:
	// 401 "" authentication is required
	// 401 "invalid_token" the access token is not a JWT
	// 400 "invalid_request" the Bearer token has characters RFC 6750 does not allow
}

// A handler behind the middleware (package middleware) reads its verified
// caller from the request context.
func ExampleFromContext() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, _ := jwks.NewStatic("issuer.pem", key.Public())
	authn, _ := build(testConfig{
		Issuers: []jwtauth.Issuer{{Issuer: "https://auth.example.com", Audiences: []string{"bookings-api"}, Keys: keys}},
	})
	raw, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://auth.example.com", "aud": "bookings-api", "sub": "user-42", "client_id": "acme",
		"scope": "bookings:read", "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString(key)

	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := dualauth.FromContext(r.Context())
		if !ok { // only without the middleware in front
			http.Error(w, "unauthenticated", http.StatusInternalServerError)
			return
		}
		fmt.Println(p.Method, p.Subject, p.ClientID, p.Scopes, p.Issuer)
	})
	h := middleware.New(authn, middleware.Options{}).Authenticate(whoami)

	r := httptest.NewRequest("GET", "/v1/whoami", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// jwt user-42 acme bookings:read https://auth.example.com
}
