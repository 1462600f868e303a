package middleware

import (
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/scopes"
)

// ContextKey is the echo.Context key under which Echo and EchoRequire store
// the *dualauth.Principal (c.Get(ContextKey)).
const ContextKey = "keyward.principal"

// Echo returns Echo v4 middleware that authenticates every request, as
// Authenticate does for net/http. On success it stores the
// *dualauth.Principal both in the request context (c.Request().WithContext,
// read with dualauth.FromContext) and in the echo.Context under ContextKey,
// then calls next and returns its error untouched. A refusal is written
// through c.Response() by WriteError, in the same format as on net/http, and
// the middleware returns nil: Echo's HTTPErrorHandler never sees it. Requests
// for which Options.Skipper returns true pass without authentication.
func (m *Middleware) Echo() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if m.skip(c) {
				return next(c)
			}
			p, err := m.authenticate(c.Request())
			if err != nil {
				m.WriteError(c.Response(), c.Request(), err)
				return nil
			}
			storeEcho(c, p)
			return next(c)
		}
	}
}

// EchoRequire returns Echo v4 middleware that lets a request through only if
// its caller's scopes meet req, as Require does for net/http: it uses the
// Principal stored by Echo (or already in the request context), or else
// authenticates the request first and stores the Principal as Echo does.
// Refusals are written as Echo writes them; Options.Skipper is honoured.
func (m *Middleware) EchoRequire(req scopes.Requirement) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if m.skip(c) {
				return next(c)
			}
			p, ok := PrincipalFromEcho(c)
			if !ok || !m.reusable(p) {
				var err error
				if p, err = m.authenticate(c.Request()); err != nil {
					m.WriteError(c.Response(), c.Request(), err)
					return nil
				}
				storeEcho(c, p)
			}
			if err := p.Require(req); err != nil {
				m.WriteError(c.Response(), c.Request(), err)
				return nil
			}
			return next(c)
		}
	}
}

// PrincipalFromEcho returns the Principal of an authenticated Echo request:
// the one stored under ContextKey, else the one in the request context.
func PrincipalFromEcho(c echo.Context) (*dualauth.Principal, bool) {
	if p, ok := c.Get(ContextKey).(*dualauth.Principal); ok && p != nil {
		return p, true
	}
	return dualauth.FromContext(c.Request().Context())
}

func (m *Middleware) skip(c echo.Context) bool {
	return m.opts.Skipper != nil && m.opts.Skipper(c)
}

// storeEcho stores p in the request context and in c.
func storeEcho(c echo.Context, p *dualauth.Principal) {
	r := c.Request()
	c.SetRequest(r.WithContext(dualauth.NewContext(r.Context(), p)))
	c.Set(ContextKey, p)
}
