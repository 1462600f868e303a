package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
)

// TestRequireDoesNotTrustAnotherAuthenticator: a caller verified by
// authenticator A (another issuer) must not pass a route guarded by B's
// Require just because A put it in the context first.
func TestRequireDoesNotTrustAnotherAuthenticator(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	kwA := middleware.New(a.auth, middleware.Options{})
	kwB := middleware.New(b.auth, middleware.Options{})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	tokenA := a.iss.Token(t, jwt.MapClaims{"scope": "admin"})
	tokenB := b.iss.Token(t, jwt.MapClaims{"scope": "admin"})

	h := kwA.Authenticate(kwB.Require(scopes.All("admin"))(ok))
	e := echo.New()
	e.GET("/", func(c echo.Context) error { return c.NoContent(http.StatusTeapot) }, ek(kwA).Authenticate(), ek(kwB).Require(scopes.All("admin")))

	for name, handler := range map[string]http.Handler{"net/http": h, "echo": e} {
		for token, want := range map[string]int{tokenA: http.StatusUnauthorized} {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+token)
			w := httptest.NewRecorder()
			handler.ServeHTTP(w, r)
			if w.Code != want {
				t.Errorf("%s: A's caller on B's route = %d, want %d", name, w.Code, want)
			}
		}
		// B's own token does not get past A's Authenticate at all, so check
		// B's route alone accepts it.
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tokenB)
		w := httptest.NewRecorder()
		kwB.Require(scopes.All("admin"))(ok).ServeHTTP(w, r)
		if w.Code != http.StatusTeapot {
			t.Errorf("B's caller on B's route = %d", w.Code)
		}
	}
}
