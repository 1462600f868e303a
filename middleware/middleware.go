// Package middleware adapts Keyward's framework-free core, package dualauth,
// to HTTP frameworks: net/http (and routers built on it, such as chi) and
// Echo v4.
//
// One Middleware, built with New from a *dualauth.Authenticator, serves every
// framework:
//
//   - Authenticate and Require are plain func(http.Handler) http.Handler
//     middleware for net/http;
//   - Echo and EchoRequire are echo.MiddlewareFunc for Echo v4.
//
// Authentication stores the verified *dualauth.Principal in the request
// context (read it with dualauth.FromContext; on Echo also with
// PrincipalFromEcho). Refusals are answered by WriteError, in the same
// format for every framework: the challenges of the route's mode (RFC 6750
// §3 Bearer, RFC 7617 Basic), a JSON body {"error": ...,
// "error_description": ...} and Cache-Control: no-store.
package middleware

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/dualauth"
)

// Options configure the middleware; the zero value is useful.
type Options struct {
	// ErrorHandler, if set, replaces the default error response (it gets the
	// *dualauth.Error to render). It must write the response itself. The
	// error it gets is already normalized as WriteError describes: never nil,
	// with the status of its code (400, 401, 403, 429, or 503 when the
	// credentials could not be checked) and a description safe to show.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err *dualauth.Error)
	// Logger, if set, logs refusals at info level (status, code, description,
	// method, path, remote address, and the cause when the logger is enabled
	// at debug) — never tokens, Authorization headers, the query string or
	// secrets. nil = no logging.
	Logger *slog.Logger
	// Skipper, for Echo only: requests for which it returns true pass without
	// authentication (e.g. /healthz). Echo and EchoRequire both honour it.
	Skipper func(c echo.Context) bool
}

// Middleware authenticates requests with a *dualauth.Authenticator for
// net/http and Echo, and renders refusals. It is safe for concurrent use.
type Middleware struct {
	auth *dualauth.Authenticator
	opts Options
	// mode is the methods this middleware's routes accept.
	mode dualauth.Mode
	// bearerChallenge is `Bearer realm="<realm>"` when mode accepts Bearer
	// tokens, else ""; basicChallenge is `Basic realm="<realm>"` when mode
	// accepts client credentials in HTTP Basic, else "".
	bearerChallenge, basicChallenge string
}

// New returns a Middleware that authenticates with a. It panics if a is nil:
// middleware is set up once, at start-up, and must never let requests pass
// unauthenticated.
func New(a *dualauth.Authenticator, opts Options) *Middleware {
	if a == nil {
		panic("middleware: New needs a non-nil *dualauth.Authenticator")
	}
	return (&Middleware{auth: a, opts: opts}).withMode(a.Mode())
}

// Only returns a copy of m for routes that accept only the methods of mode,
// whatever the configured mode: for example an admin route that takes only
// JWTs in a dual-mode API,
//
//	mux.Handle("POST /admin", kw.Only(dualauth.ModeJWT).Require(scopes.All("admin"))(h))
//
// A method the route's mode does not accept counts as no credentials, and a
// caller already authenticated with such a method is authenticated again.
// Only panics if the authenticator cannot serve mode (see
// dualauth.Authenticator.Serves): routes are set up once, at start-up.
func (m *Middleware) Only(mode dualauth.Mode) *Middleware {
	if !m.auth.Serves(mode) {
		panic("middleware: the authenticator cannot serve mode " + string(mode))
	}
	return m.withMode(mode)
}

func (m *Middleware) withMode(mode dualauth.Mode) *Middleware {
	c := *m
	c.mode = mode
	c.bearerChallenge, c.basicChallenge = "", ""
	if mode.Allows(dualauth.MethodJWT) {
		c.bearerChallenge = bareChallenge("Bearer", m.auth.Realm())
	}
	if mode.Allows(dualauth.MethodCredentials) && m.auth.BasicEnabled() {
		c.basicChallenge = bareChallenge("Basic", m.auth.Realm())
	}
	return &c
}

// bareChallenge is `<scheme> realm="<realm>"`.
func bareChallenge(scheme, realm string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(" realm=")
	writeQuoted(&b, realm)
	return b.String()
}

// authenticate authenticates r for the middleware's mode.
func (m *Middleware) authenticate(r *http.Request) (*dualauth.Principal, error) {
	return m.auth.AuthenticateMode(r, m.mode)
}

// reusable reports whether p, a caller found in the request context, may
// stand for this middleware's routes: verified by its own authenticator with
// a method its mode accepts.
func (m *Middleware) reusable(p *dualauth.Principal) bool {
	return m.auth.Authenticated(p) && m.mode.Allows(p.Method)
}

// Authenticator returns the authenticator the middleware uses, for example
// to report its key sets' state on a health route.
func (m *Middleware) Authenticator() *dualauth.Authenticator { return m.auth }
