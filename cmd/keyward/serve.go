package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/internal/httpserve"
	"github.com/keyward/keyward/internal/promexport"
)

// defaultServeAddr is where serve listens unless -addr says otherwise:
// loopback, next to the proxy.
const defaultServeAddr = "127.0.0.1:9091"

// serveOptions are serve's flags.
type serveOptions struct {
	configPath  string
	addr        string
	metricsAddr string // "": no metrics
	debug       bool
}

// serveFlags parses serve's flags. The error is flag.ErrHelp for -h.
func serveFlags(args []string) (serveOptions, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o serveOptions
	fs.StringVar(&o.configPath, "config", "", "")
	fs.StringVar(&o.addr, "addr", defaultServeAddr, "")
	fs.StringVar(&o.metricsAddr, "metrics-addr", "", "")
	fs.BoolVar(&o.debug, "debug", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, err
		}
		return o, fmt.Errorf("%v\n\n%s", err, usage)
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q\n\n%s", fs.Args(), usage)
	case o.configPath == "":
		return o, fmt.Errorf("-config FILE is required\n\n%s", usage)
	}
	return o, nil
}

// serveCmd runs `keyward serve` until ctx is done, logging to stderr.
// listening, if not nil, gets the forward-auth address once the server
// accepts connections. It returns the exit status; -h prints the usage on
// stderr, its only stream (run prints it on stdout before calling it).
func serveCmd(ctx context.Context, args []string, stderr io.Writer, listening func(addr string)) int {
	o, err := serveFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stderr, usage)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "keyward serve: %v\n", err)
		return 2
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	started := func(a boundAddrs) {
		if listening != nil {
			listening(a.auth)
		}
	}
	if err := serve(ctx, o, logger, started); err != nil {
		// Plain text: a configuration error names the file, line and key.
		fmt.Fprintf(stderr, "keyward serve: %v\n", err)
		return 1
	}
	return 0
}

// boundAddrs are the addresses serve listens on.
type boundAddrs struct {
	auth    string // the forward-auth service
	metrics string // GET /metrics; "" without -metrics-addr
}

// serve reads the configuration file, builds the authenticator and the
// forward-auth handler, and serves them on o.addr, and the metrics on
// o.metricsAddr if set, until ctx is done; then it shuts both down, giving
// requests in progress up to 10 seconds. started, if not nil, is called
// once both accept connections.
func serve(ctx context.Context, o serveOptions, logger *slog.Logger, started func(boundAddrs)) error {
	f, err := config.Read(o.configPath)
	if err != nil {
		return err
	}
	// The forward_auth section is checked before any key set is fetched.
	fa, err := forwardAuthConfig(f)
	if err != nil {
		return err
	}
	// The exporter first: nothing the file starts runs while it could fail.
	var metrics *promexport.Metrics
	if o.metricsAddr != "" {
		if metrics, err = promexport.New(); err != nil {
			return err
		}
		defer func() { _ = metrics.Shutdown(context.Background()) }()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg, err := f.Config(ctx, config.Options{Logger: logger, ReloadOnSIGHUP: true})
	if err != nil {
		return err
	}
	if metrics != nil {
		cfg.MeterProvider = metrics.Provider
	}
	authn, err := dualauth.New(cfg) // owns what f.Config started, and stops it if it fails
	if err != nil {
		return err
	}
	defer authn.Close() // stops the key sets' refreshes and the clients file watcher
	// Metrics stay off the forward-auth listener (Options.Metrics is nil):
	// every proxy that may ask /auth could read them there.
	h, err := forwardauth.New(authn, fa, forwardauth.Options{Logger: logger})
	if err != nil {
		return err
	}

	errorLog := slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	services := []httpserve.Server{{
		Name: "forward auth",
		Server: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       30 * time.Second,
			IdleTimeout:       2 * time.Minute, // proxies keep connections to the auth service open
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          errorLog,
		},
	}}
	addrs := []string{o.addr}
	if metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET "+forwardauth.MetricsPath, metrics.Handler)
		services = append(services, httpserve.Server{
			Name: "metrics",
			Server: &http.Server{
				Handler:           mux,
				ReadHeaderTimeout: 10 * time.Second,
				ReadTimeout:       30 * time.Second,
				MaxHeaderBytes:    16 << 10,
				ErrorLog:          errorLog,
			},
		})
		addrs = append(addrs, o.metricsAddr)
	}
	for i := range services {
		if services[i].Listener, err = net.Listen("tcp", addrs[i]); err != nil {
			for _, s := range services[:i] {
				s.Listener.Close()
			}
			return fmt.Errorf("%s: %w", services[i].Name, err)
		}
	}
	bound := boundAddrs{auth: services[0].Listener.Addr().String()}
	attrs := []any{"url", "http://" + bound.auth, "config", o.configPath, "mode", authn.Mode(), "routes", len(fa.Routes)}
	if metrics != nil {
		bound.metrics = services[1].Listener.Addr().String()
		attrs = append(attrs, "metrics_url", "http://"+bound.metrics+forwardauth.MetricsPath)
	}
	return httpserve.Run(ctx, services, logger, func() {
		logger.Info("keyward serve: listening", attrs...)
		if started != nil {
			started(bound)
		}
	})
}
