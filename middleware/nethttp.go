package middleware

import (
	"net/http"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/scopes"
)

// Authenticate is net/http middleware that authenticates every request. On
// success it calls next with the *dualauth.Principal stored in the request
// context (dualauth.NewContext; read it with dualauth.FromContext); else it
// answers with WriteError and does not call next. It always verifies the
// request's own credentials, even if a Principal is already in the context.
func (m *Middleware) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := m.authenticate(r)
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
// does, and stores the Principal for next.
func (m *Middleware) Require(req scopes.Requirement) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := dualauth.FromContext(r.Context())
			if !ok || !m.reusable(p) {
				var err error
				if p, err = m.authenticate(r); err != nil {
					m.WriteError(w, r, err)
					return
				}
				r = r.WithContext(dualauth.NewContext(r.Context(), p))
			}
			if err := p.Require(req); err != nil {
				m.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
