package server

import (
	"net/http"

	"github.com/keyward/keyward/internal/promexport"
)

// Handler serves GET /metrics from m, in the Prometheus text format, and
// every other request with routes. /metrics is unauthenticated and on the
// API's own listener, like /healthz: convenient for trying Keyward out; in a
// deployment, serve it on an internal address or protect it (keyward serve
// has -metrics-addr for that).
func Handler(routes http.Handler, m *promexport.Metrics) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler)
	mux.Handle("/", routes)
	return mux
}
