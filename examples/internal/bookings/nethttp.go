package bookings

import (
	"encoding/json"
	"net/http"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/examples/internal/server"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
)

// NetHTTP is the bookings API on the standard library's ServeMux (Go 1.22
// patterns), protected by kw: chi and gorilla/mux take the same middleware.
func NetHTTP(kw *middleware.Middleware) http.Handler {
	mux := http.NewServeMux()
	// The status routes (see package server): probes, then the details.
	status := func(answer func() (int, map[string]any)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			code, body := answer()
			writeJSON(w, code, body)
		}
	}
	mux.Handle("GET /livez", status(server.Live))
	mux.Handle("GET /readyz", status(func() (int, map[string]any) { return server.Ready(kw) }))
	mux.Handle("GET /healthz", status(func() (int, map[string]any) { return server.Health(kw) }))
	mux.Handle("GET /v1/whoami", kw.Authenticate(http.HandlerFunc(whoami)))

	need := func(req scopes.Requirement, h http.HandlerFunc) http.Handler { return kw.Require(req)(h) }
	mux.Handle("GET /v1/bookings", need(scopes.All("bookings:read"), listBookings))
	mux.Handle("POST /v1/bookings", need(scopes.All("bookings:create"), createBooking))
	mux.Handle("DELETE /v1/bookings/{id}", need(scopes.All("bookings:delete"), deleteBooking))
	mux.Handle("GET /v1/reports", need(scopes.All("reports:read", "bookings:read"), reports))
	mux.Handle("GET /v1/search", need(scopes.Any("bookings:read", "reports:read"), search))
	return mux
}

func whoami(w http.ResponseWriter, r *http.Request) {
	p, _ := dualauth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, p)
}

func listBookings(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"bookings": []any{}})
}

func createBooking(w http.ResponseWriter, r *http.Request) {
	p, _ := dualauth.FromContext(r.Context())
	writeJSON(w, http.StatusCreated, map[string]any{"created_by": p.ClientID})
}

func deleteBooking(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"deleted": r.PathValue("id")})
}

func reports(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"reports": []any{}})
}

func search(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"results": []any{}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
