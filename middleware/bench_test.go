package middleware_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/middleware/echokw"
)

var benchAlgs = []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"}

// benchRequest runs one full, successful request through h per iteration: a
// valid token with a scope requirement, through a real router, answered 200.
func benchRequest(b *testing.B, h http.Handler, token string) {
	b.Helper()
	req := httptest.NewRequest(http.MethodGet, "/bookings", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	ok := func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	ok()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		ok()
	}
}

// BenchmarkNetHTTP measures Authenticate + Require on a ServeMux route.
func BenchmarkNetHTTP(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			m := middleware.New(f.auth, middleware.Options{})
			mux := http.NewServeMux()
			mux.Handle("GET /bookings", chain(okHandler, m.Authenticate, m.Require(needBookings)))
			benchRequest(b, mux, f.iss.Token(b, jwt.MapClaims{"scope": "bookings:read"}))
		})
	}
}

// BenchmarkEcho measures Echo + EchoRequire on an Echo route.
func BenchmarkEcho(b *testing.B) {
	for _, alg := range benchAlgs {
		b.Run(alg, func(b *testing.B) {
			f := newFixture(b, alg)
			m := middleware.New(f.auth, middleware.Options{})
			e := echo.New()
			e.GET("/bookings", func(c echo.Context) error {
				if _, ok := echokw.Principal(c); !ok {
					return c.NoContent(http.StatusInternalServerError)
				}
				return c.NoContent(http.StatusOK)
			}, ek(m).Authenticate(), ek(m).Require(needBookings))
			benchRequest(b, e, f.iss.Token(b, jwt.MapClaims{"scope": "bookings:read"}))
		})
	}
}

var okHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if _, ok := dualauth.FromContext(r.Context()); !ok {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusOK)
})
