// Package server is what the example resource servers share: flags, the
// config file, the authenticator, GET /metrics, the status routes' answers
// (Live, Ready, Health) and a graceful shutdown. Each example only builds
// its routes.
package server

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/httpserve"
	"github.com/keyward/keyward/internal/promexport"
	"github.com/keyward/keyward/middleware"
)

// Routes builds an example's handler around the Keyward middleware.
type Routes func(kw *middleware.Middleware) http.Handler

// Main parses -config and -addr, builds the authenticator from the config
// file, serves routes until SIGINT or SIGTERM, then shuts down cleanly. It
// exits the process with status 1 on a start-up error.
func Main(name string, routes Routes) {
	configPath := flag.String("config", "testdata/config/quickstart-dual.yaml", "Keyward config file (YAML)")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address HOST:PORT")
	debug := flag.Bool("debug", false, "log the internal cause of each refusal too, and debug detail (never tokens or secrets)")
	flag.Parse()
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})).With("server", name)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, *configPath, *addr, logger, routes, nil); err != nil {
		stop()
		logger.Error("stopped", "error", err)
		os.Exit(1)
	}
}

// Run serves routes on addr until ctx is done, then shuts down cleanly. If
// listening is not nil, it receives the bound address once the server
// accepts connections. GET /metrics serves the authenticator's metrics in
// the Prometheus text format (see Handler).
func Run(ctx context.Context, configPath, addr string, logger *slog.Logger, routes Routes, listening chan<- string) error {
	// SIGHUP reloads the clients file at once (it is polled too).
	// The exporter first: nothing Load starts runs while it could fail.
	metrics, err := promexport.New()
	if err != nil {
		return err
	}
	defer func() { _ = metrics.Shutdown(context.Background()) }()
	cfg, err := config.Load(ctx, configPath, config.Options{Logger: logger, ReloadOnSIGHUP: true})
	if err != nil {
		return err
	}
	cfg.MeterProvider = metrics.Provider
	authn, err := dualauth.New(cfg)
	if err != nil {
		return err
	}
	defer authn.Close() // stops the key sets' refreshes and the clients file watcher
	warnDemoKey(authn, logger)
	kw := middleware.New(authn, middleware.Options{Logger: logger})

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	logger.Info("listening", "url", fmt.Sprintf("http://%s", ln.Addr()), "config", configPath, "mode", authn.Mode())
	return Serve(ctx, ln, Handler(routes(kw), metrics), logger, func() {
		if listening != nil {
			listening <- ln.Addr().String()
		}
	})
}

// demoKey is the public half of the key committed in testdata/keys, which
// examples/mint signs with: anyone can mint tokens it verifies.
const demoKey = "testdata/keys/quickstart_public.pem"

// warnDemoKey warns, loudly, when an issuer is trusted through the
// committed demo key: fine for trying Keyward, never for a deployment.
func warnDemoKey(authn *dualauth.Authenticator, logger *slog.Logger) {
	for issuer, st := range authn.KeyStatus() {
		if strings.HasSuffix(filepath.ToSlash(st.Source), demoKey) {
			logger.Warn("TRYING KEYWARD ONLY: this server trusts the demo signing key committed in the repository; anyone can mint tokens it accepts (go run ./examples/mint). Never deploy this configuration.",
				"issuer", issuer, "key", demoKey)
		}
	}
}

// Serve serves h on ln until ctx is done, then shuts down cleanly, giving
// requests in progress up to httpserve.ShutdownGrace. started, if not nil,
// is called once the server accepts connections.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, started func()) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	return httpserve.Run(ctx, []httpserve.Server{{Server: srv, Listener: ln}}, logger, started)
}

// The examples' unauthenticated status routes, mounted by each example
// (examples/internal/bookings) beside its API:
//
//	GET /livez    Live: for a liveness probe
//	GET /readyz   Ready: for a readiness probe
//	GET /healthz  Health: the detailed status, for people and dashboards
//
// Only /livez and /readyz are meant as probes. /healthz answers 503 during
// an identity provider's outage, when credential and public routes still
// work: as a readiness probe it would take every replica out of service at
// once, and as a liveness probe it would restart them in a loop.

// Live is the status and body of GET /livez: 200 whenever the process
// answers at all. It checks nothing else on purpose: no restart fixes a
// key server that is down.
func Live() (status int, body map[string]any) {
	return http.StatusOK, map[string]any{"status": "ok"}
}

// Ready is the status and body of GET /readyz: 503 "loading_keys", naming
// the issuers still waiting, until the key set of every trusted issuer has
// loaded once (jwks.Status.LastRefresh set); then 200 for good. A later
// outage of a key server does not make the server unready: tokens keep
// verifying against the last keys it loaded, and a JWT request that finds
// no key is answered 503 itself, while client credentials and public routes
// keep working.
func Ready(kw *middleware.Middleware) (status int, body map[string]any) {
	var waiting []string
	for name, st := range kw.Authenticator().KeyStatus() {
		if st.LastRefresh.IsZero() {
			waiting = append(waiting, name)
		}
	}
	if len(waiting) > 0 {
		slices.Sort(waiting)
		return http.StatusServiceUnavailable, map[string]any{"status": "loading_keys", "issuers": waiting}
	}
	return http.StatusOK, map[string]any{"status": "ok"}
}

// Health is the status and body of GET /healthz, the detailed status and
// not a probe (see Live and Ready): for each trusted issuer, how many keys
// are held and whether the last refresh succeeded; 503 "no_keys" while an
// issuer holds no key, since every token of that issuer is then refused.
// Sources and error texts stay out of it: they would tell anyone about
// internal hosts.
func Health(kw *middleware.Middleware) (status int, body map[string]any) {
	issuers := map[string]any{}
	status, word := http.StatusOK, "ok"
	for name, st := range kw.Authenticator().KeyStatus() {
		issuers[name] = map[string]any{"keys": st.Keys, "healthy": st.Keys > 0 && st.LastError == ""}
		if st.Keys == 0 {
			status, word = http.StatusServiceUnavailable, "no_keys"
		}
	}
	return status, map[string]any{"status": word, "issuers": issuers}
}
