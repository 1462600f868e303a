package bookings

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/examples/internal/server"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/middleware/echokw"
	"github.com/keyward/keyward/scopes"
)

// Echo is the bookings API on Echo v4, protected by kw.
func Echo(kw *middleware.Middleware) http.Handler {
	e := echo.New()
	e.HideBanner = true
	// The status routes (see package server): probes, then the details.
	status := func(answer func() (int, map[string]any)) echo.HandlerFunc {
		return func(c echo.Context) error {
			code, body := answer()
			return c.JSON(code, body)
		}
	}
	e.GET("/livez", status(server.Live))
	e.GET("/readyz", status(func() (int, map[string]any) { return server.Ready(kw) }))
	e.GET("/healthz", status(func() (int, map[string]any) { return server.Health(kw) }))

	ek := echokw.New(kw, echokw.Options{})
	v1 := e.Group("/v1", ek.Authenticate())
	v1.GET("/whoami", func(c echo.Context) error {
		p, _ := echokw.Principal(c)
		return c.JSON(http.StatusOK, p)
	})
	v1.GET("/bookings", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"bookings": []any{}})
	}, ek.Require(scopes.All("bookings:read")))
	v1.POST("/bookings", func(c echo.Context) error {
		p, _ := echokw.Principal(c)
		return c.JSON(http.StatusCreated, map[string]any{"created_by": p.ClientID})
	}, ek.Require(scopes.All("bookings:create")))
	v1.DELETE("/bookings/:id", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"deleted": c.Param("id")})
	}, ek.Require(scopes.All("bookings:delete")))
	v1.GET("/reports", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"reports": []any{}})
	}, ek.Require(scopes.All("reports:read", "bookings:read")))
	v1.GET("/search", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]any{"results": []any{}})
	}, ek.Require(scopes.Any("bookings:read", "reports:read")))
	return e
}
