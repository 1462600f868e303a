package middleware_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
)

// exampleAuthenticator returns an Authenticator trusting a static Ed25519
// key, and a token signed with that key carrying the given scope. A real
// service would use jwks.NewRemote or jwks.NewDiscovered instead.
func exampleAuthenticator(scope string) (*dualauth.Authenticator, string) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	keys, err := jwks.NewStatic("example", pub)
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{{
		Issuer:    "https://issuer.example",
		Audiences: []string{"bookings-api"},
		Keys:      keys,
	}}})
	if err != nil {
		log.Fatal(err)
	}
	a, err := dualauth.New(dualauth.Config{Realm: "bookings-api", Tokens: tokens})
	if err != nil {
		log.Fatal(err)
	}
	now := time.Now()
	token, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{
		"iss":   "https://issuer.example",
		"aud":   "bookings-api",
		"sub":   "user-42",
		"iat":   now.Unix(),
		"exp":   now.Add(time.Hour).Unix(),
		"scope": scope,
	}).SignedString(priv)
	if err != nil {
		log.Fatal(err)
	}
	return a, token
}

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

// Protect a ServeMux: Authenticate in front of every route, Require on the
// routes that need particular scopes.
func ExampleNew() {
	a, token := exampleAuthenticator("bookings:read")
	m := middleware.New(a, middleware.Options{})

	mux := http.NewServeMux()
	mux.Handle("GET /bookings", m.Require(scopes.All("bookings:read"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {
			p, _ := dualauth.FromContext(r.Context())
			fmt.Println("bookings for", p.Subject)
		})))
	mux.Handle("GET /reports", m.Require(scopes.Any("reports:read", "admin"))(http.HandlerFunc(
		func(w http.ResponseWriter, r *http.Request) {})))
	h := m.Authenticate(mux)

	exampleGet(h, "/bookings", "")
	exampleGet(h, "/bookings", token)
	exampleGet(h, "/reports", token)
	// Output:
	// /bookings 401 Bearer realm="bookings-api"
	// bookings for user-42
	// /bookings 200
	// /reports 403 Bearer realm="bookings-api", error="insufficient_scope", error_description="the access token has none of the scopes this request accepts; it needs one of them", scope="admin reports:read"
}

// Authenticate every request to a handler, which reads its caller with
// dualauth.FromContext.
func ExampleMiddleware_Authenticate() {
	a, token := exampleAuthenticator("bookings:read profile")
	kw := middleware.New(a, middleware.Options{})

	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := dualauth.FromContext(r.Context())
		fmt.Println("caller", p.Subject, "with", p.Scopes)
	})
	h := kw.Authenticate(whoami)

	exampleGet(h, "/whoami", "")
	exampleGet(h, "/whoami", token)
	exampleGet(h, "/whoami", "not-a-jwt")
	// Output:
	// /whoami 401 Bearer realm="bookings-api"
	// caller user-42 with bookings:read profile
	// /whoami 200
	// /whoami 401 Bearer realm="bookings-api", error="invalid_token", error_description="the access token is not a JWT"
}

// Require scopes on a route: alone it authenticates too, and a caller
// whose token lacks the scopes gets 403 insufficient_scope naming them.
func ExampleMiddleware_Require() {
	a, token := exampleAuthenticator("bookings:read")
	kw := middleware.New(a, middleware.Options{})

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := dualauth.FromContext(r.Context())
		fmt.Println(r.URL.Path, "for", p.Subject)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /bookings", kw.Require(scopes.All("bookings:read"))(handler))
	mux.Handle("GET /reports", kw.Require(scopes.All("reports:read"))(handler))
	mux.Handle("GET /search", kw.Require(scopes.Any("bookings:read", "reports:read"))(handler))

	exampleGet(mux, "/bookings", token)
	exampleGet(mux, "/reports", token)
	exampleGet(mux, "/search", token)
	exampleGet(mux, "/search", "")
	// Output:
	// /bookings for user-42
	// /bookings 200
	// /reports 403 Bearer realm="bookings-api", error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="reports:read"
	// /search for user-42
	// /search 200
	// /search 401 Bearer realm="bookings-api"
}
