// Package middleware adapts Keyward's framework-free core, package dualauth,
// to net/http: plain func(http.Handler) http.Handler middleware that works
// with the standard library's ServeMux, chi, gorilla/mux and any router built
// on net/http. Package middleware/echokw adapts the same Middleware to Echo.
//
// The entry points:
//
//   - New wraps a *dualauth.Authenticator (built by dualauth.New) in a
//     Middleware;
//   - Middleware.Authenticate verifies each request's credentials and stores
//     the caller, a *dualauth.Principal, in the request context;
//   - Middleware.Require lets a request through only if its caller's scopes
//     meet a requirement (scopes.All, scopes.Any), and authenticates it
//     first if nothing in front did;
//   - dualauth.FromContext gives the handler its caller.
//
// Middleware.Only narrows a route to one mode's methods (a JWT-only admin
// route in a dual-mode API), and Middleware.WriteError answers a refusal the
// way the middleware does. Put together:
//
//	a, err := dualauth.New(cfg) // cfg from config.Load, or built in Go
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer a.Close()
//	kw := middleware.New(a, middleware.Options{Logger: logger})
//
//	whoami := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
//		p, _ := dualauth.FromContext(r.Context())
//		fmt.Fprintln(w, p.Subject, p.Scopes)
//	})
//	mux := http.NewServeMux()
//	mux.Handle("GET /v1/whoami", kw.Authenticate(whoami))
//	mux.Handle("GET /v1/bookings", kw.Require(scopes.All("bookings:read"))(listBookings))
//	mux.Handle("POST /v1/bookings", kw.Require(scopes.All("bookings:create"))(createBooking))
//	err = http.ListenAndServe("127.0.0.1:8080", mux)
//
// Refusals are answered by WriteError, in the same format for every
// framework: the status, challenges and Retry-After that
// dualauth.Authenticator.Refusal decides (RFC 6750 §3 Bearer, RFC 7617
// Basic), a JSON body {"error": ..., "error_description": ...} and
// Cache-Control: no-store.
package middleware

import (
	"log/slog"
	"net/http"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/refusal"
	"github.com/keyward/keyward/scopes"
)

// Options configure the middleware; the zero value is useful.
type Options struct {
	// ErrorHandler, if set, replaces the default error response (it gets the
	// *dualauth.Error to render). It must write the response itself. The
	// error it gets is the one dualauth.Authenticator.Refusal returns: never
	// nil, with the status of its code (400, 401, 403, 429, or 503 when the
	// credentials could not be checked), a description safe to show and the
	// WWW-Authenticate challenges of the route.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err *dualauth.Error)
	// Logger, if set, logs refusals at info level (status, code, description,
	// method, path, remote address, and the cause when the logger is enabled
	// at debug) — never tokens, Authorization headers, the query string or
	// secrets. nil = no logging.
	Logger *slog.Logger
	// Skip, if set, lets the requests for which it returns true through
	// without authentication and without a Principal (a health check, say).
	// CORS preflights pass without it unless the authenticator's config
	// says otherwise (see dualauth.Authenticator.Preflight).
	Skip func(r *http.Request) bool
}

// Middleware authenticates requests with a *dualauth.Authenticator and
// renders refusals. It is safe for concurrent use.
type Middleware struct {
	auth *dualauth.Authenticator
	opts Options
}

// New returns a Middleware that authenticates with a, for routes in a's
// mode. It panics if a is nil: middleware is set up once, at start-up, and
// must never let requests pass unauthenticated.
func New(a *dualauth.Authenticator, opts Options) *Middleware {
	if a == nil {
		panic("middleware: New needs a non-nil *dualauth.Authenticator")
	}
	return &Middleware{auth: a, opts: opts}
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
// dualauth.Authenticator.ForMode): routes are set up once, at start-up.
func (m *Middleware) Only(mode dualauth.Mode) *Middleware {
	a, err := m.auth.ForMode(mode)
	if err != nil {
		panic("middleware: " + err.Error())
	}
	return &Middleware{auth: a, opts: m.opts}
}

// Authenticator returns the authenticator the middleware uses, for example
// to report its key sets' state on a health route.
func (m *Middleware) Authenticator() *dualauth.Authenticator { return m.auth }

// Authenticate is net/http middleware that authenticates every request. On
// success it calls next with the *dualauth.Principal stored in the request
// context (dualauth.NewContext; read it with dualauth.FromContext); else it
// answers with WriteError and does not call next. It always verifies the
// request's own credentials, even if a Principal is already in the context.
func (m *Middleware) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.Skips(r) {
			next.ServeHTTP(w, r)
			return
		}
		p, err := m.auth.Authenticate(r)
		if err != nil {
			m.WriteError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(dualauth.NewContext(r.Context(), p)))
	})
}

// Require returns net/http middleware that lets a request through only if
// its caller's scopes meet req; else it answers 403 insufficient_scope,
// naming the scopes req asks for. It uses the Principal already in the
// request context (as after Authenticate, so a route behind both is verified
// once); if there is none it authenticates the request first, as Authenticate
// does, and stores the Principal for next (see
// dualauth.Authenticator.Authorize).
func (m *Middleware) Require(req scopes.Requirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if m.Skips(r) {
				next.ServeHTTP(w, r)
				return
			}
			p, err := m.auth.Authorize(r, req)
			if err != nil {
				m.WriteError(w, r, err)
				return
			}
			if held, _ := dualauth.FromContext(r.Context()); held != p {
				r = r.WithContext(dualauth.NewContext(r.Context(), p))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// Skips reports whether r passes without authentication: Options.Skip
// says so, or r is a CORS preflight that passes (see
// dualauth.Authenticator.Preflight).
func (m *Middleware) Skips(r *http.Request) bool {
	return m.opts.Skip != nil && m.opts.Skip(r) || m.auth.Preflight(r)
}

// WriteError answers r with the refusal err, the way the middleware answers
// its own refusals: dualauth.Authenticator.Refusal decides the status,
// description and challenges (any error that is no *dualauth.Error, nil
// included, fails closed as 401 invalid_token, and its text is never sent);
// Options.ErrorHandler renders it if set, else WriteError writes the
// WWW-Authenticate challenges, Retry-After for 429 and 503, and a JSON body
// {"error": ..., "error_description": ...} with Cache-Control: no-store. A
// HEAD request gets the headers and status only.
//
// The refusal is logged to Options.Logger, if set, before it is rendered.
func (m *Middleware) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := m.auth.Refusal(r, err)
	refusal.Log(m.opts.Logger, r, e)
	if m.opts.ErrorHandler != nil {
		m.opts.ErrorHandler(w, r, e)
		return
	}
	body := refusal.Render(w.Header(), e)
	w.WriteHeader(e.Status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
