package grpcauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
)

// TestAnswersAsHTTP: in each mode, a call refused by the interceptors
// gets the www-authenticate values the HTTP middleware writes for the same
// credentials on a route with the same requirement, its description as the
// status message, and the status code of the HTTP status.
func TestAnswersAsHTTP(t *testing.T) {
	iss, dual := newAuthenticator(t, nil)
	unscoped := iss.Token(t, jwt.MapClaims{"sub": "bob"})
	const method = "/" + bookings + "/Create" // requires bookings:create, as the HTTP route below
	codeOf := map[int]codes.Code{
		http.StatusBadRequest: codes.InvalidArgument, http.StatusUnauthorized: codes.Unauthenticated,
		http.StatusForbidden: codes.PermissionDenied,
	}
	rows := []struct {
		name string
		md   metadata.MD
	}{
		{"no credentials", nil},
		{"expired token", bearerMD(iss.ExpiredToken(t, nil))},
		{"token lacking the scope", bearerMD(unscoped)},
		{"two authorization entries", metadata.Join(bearerMD(unscoped), bearerMD(unscoped))},
		{"token and client headers", metadata.Join(bearerMD(unscoped), clientMD("acme", "acme-secret"))},
		{"empty bearer", metadata.Pairs("authorization", "Bearer ")},
		{"another scheme", metadata.Pairs("authorization", "Digest username=x")},
		{"wrong secret", basicMD("globex", "not-the-secret")},
		{"bad basic encoding", metadata.Pairs("authorization", "Basic !!!")},
		{"basic lacking the scope", basicMD("acme", "acme-secret")},
		{"client headers lacking the scope", clientMD("acme", "acme-secret")},
		{"half a client pair", metadata.Pairs("client_secret", "acme-secret")},
	}
	for _, mode := range []dualauth.Mode{dualauth.ModeDual, dualauth.ModeJWT, dualauth.ModeCredentials} {
		t.Run(string(mode), func(t *testing.T) {
			a, err := dual.ForMode(mode)
			if err != nil {
				t.Fatal(err)
			}
			conn := start(t, grpcauth.New(a, testOptions()), "tcp")
			route := middleware.New(a, middleware.Options{}).Require(scopes.All("bookings:create"))(http.NotFoundHandler())
			for _, row := range rows {
				t.Run(row.name, func(t *testing.T) {
					r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, method, nil)
					for k, values := range row.md {
						for _, v := range values {
							r.Header.Add(k, v)
						}
					}
					w := httptest.NewRecorder()
					route.ServeHTTP(w, r)
					var body struct {
						Description string `json:"error_description"`
					}
					if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
						t.Fatalf("HTTP %d %q: %v", w.Code, w.Body, err)
					}

					res := call(t, conn, method, false, row.md)
					if want, ok := codeOf[w.Code]; !ok || res.code != want || res.message != body.Description {
						t.Errorf("gRPC %s %q; HTTP %d %q", res.code, res.message, w.Code, body.Description)
					}
					if got, want := res.header.Get("www-authenticate"), w.Header().Values("WWW-Authenticate"); !slices.Equal(got, want) {
						t.Errorf("www-authenticate %q, HTTP WWW-Authenticate %q", got, want)
					}
				})
			}
		})
	}
}
