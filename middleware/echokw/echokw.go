// Package echokw adapts Keyward's net/http middleware to Echo v4: the same
// authentication, scope checks and refusals, as echo.MiddlewareFunc.
//
//	kw := middleware.New(authn, middleware.Options{Logger: logger})
//	ek := echokw.New(kw, echokw.Options{})
//	e.GET("/v1/bookings", listBookings, ek.Require(scopes.All("bookings:read")))
//
// It lives apart from package middleware so that programs on net/http alone
// never link Echo.
package echokw

import (
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
)

// ContextKey is the echo.Context key under which Authenticate and Require
// store the *dualauth.Principal (c.Get(ContextKey)).
const ContextKey = "keyward.principal"

// Options configure the Echo adapter; the zero value is useful.
type Options struct {
	// Skipper: requests for which it returns true pass without
	// authentication (e.g. /healthz). Authenticate and Require both honour
	// it, and the middleware's own Skip and CORS preflight rule too.
	Skipper func(c echo.Context) bool
}

// Middleware is a *middleware.Middleware for Echo v4. It is safe for
// concurrent use.
type Middleware struct {
	kw   *middleware.Middleware
	opts Options
}

// New returns Echo middleware that authenticates, checks scopes and renders
// refusals as kw does (kw.Only(mode) gives routes of another mode). It
// panics if kw is nil: middleware is set up once, at start-up.
func New(kw *middleware.Middleware, opts Options) *Middleware {
	if kw == nil {
		panic("echokw: New needs a non-nil *middleware.Middleware")
	}
	return &Middleware{kw: kw, opts: opts}
}

// Authenticate returns Echo middleware that authenticates every request, as
// middleware.Middleware.Authenticate does for net/http. On success it stores
// the *dualauth.Principal both in the request context (read it with
// dualauth.FromContext) and in the echo.Context under ContextKey, then calls
// next and returns its error untouched. A refusal is written through
// c.Response() by kw.WriteError, in the same format as on net/http, and the
// middleware returns nil: Echo's HTTPErrorHandler never sees it.
func (m *Middleware) Authenticate() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if m.skip(c) {
				return next(c)
			}
			p, err := m.kw.Authenticator().Authenticate(c.Request())
			if err != nil {
				m.kw.WriteError(c.Response(), c.Request(), err)
				return nil
			}
			store(c, p)
			return next(c)
		}
	}
}

// Require returns Echo middleware that lets a request through only if its
// caller's scopes meet req, as middleware.Middleware.Require does for
// net/http: it uses the Principal Authenticate stored (or one already in the
// request context), or else authenticates the request first and stores the
// Principal as Authenticate does. Refusals are written as Authenticate
// writes them.
func (m *Middleware) Require(req scopes.Requirement) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if m.skip(c) {
				return next(c)
			}
			p, err := m.kw.Authenticator().Authorize(c.Request(), req)
			if err != nil {
				m.kw.WriteError(c.Response(), c.Request(), err)
				return nil
			}
			if held, _ := c.Get(ContextKey).(*dualauth.Principal); held != p {
				store(c, p)
			}
			return next(c)
		}
	}
}

// Principal returns the caller of an authenticated Echo request: the one
// stored under ContextKey, else the one in the request context.
func Principal(c echo.Context) (*dualauth.Principal, bool) {
	if p, ok := c.Get(ContextKey).(*dualauth.Principal); ok && p != nil {
		return p, true
	}
	return dualauth.FromContext(c.Request().Context())
}

// skip reports whether c passes without authentication: the Skipper says
// so, or middleware.Middleware.Skips does (Options.Skip, CORS preflights).
func (m *Middleware) skip(c echo.Context) bool {
	return m.opts.Skipper != nil && m.opts.Skipper(c) || m.kw.Skips(c.Request())
}

// store stores p in the request context and in c.
func store(c echo.Context, p *dualauth.Principal) {
	r := c.Request()
	if held, _ := dualauth.FromContext(r.Context()); held != p {
		c.SetRequest(r.WithContext(dualauth.NewContext(r.Context(), p)))
	}
	c.Set(ContextKey, p)
}
