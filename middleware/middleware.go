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
// PrincipalFromEcho). Refusals are answered as RFC 6750 §3 describes, by
// WriteError, in the same format for every framework: a WWW-Authenticate
// Bearer challenge, a JSON body {"error": ..., "error_description": ...} and
// Cache-Control: no-store.
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
	// with a 4xx Status and a description safe to show.
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
	// bareChallenge is `Bearer realm="<realm>"`, the challenge of a request
	// without credentials and the start of every other one.
	bareChallenge string
}

// New returns a Middleware that authenticates with a. It panics if a is nil:
// middleware is set up once, at start-up, and must never let requests pass
// unauthenticated.
func New(a *dualauth.Authenticator, opts Options) *Middleware {
	if a == nil {
		panic("middleware: New needs a non-nil *dualauth.Authenticator")
	}
	var b strings.Builder
	b.WriteString("Bearer realm=")
	writeQuoted(&b, a.Realm())
	return &Middleware{auth: a, opts: opts, bareChallenge: b.String()}
}

// Authenticator returns the authenticator the middleware uses, for example
// to report its key sets' state on a health route.
func (m *Middleware) Authenticator() *dualauth.Authenticator { return m.auth }
