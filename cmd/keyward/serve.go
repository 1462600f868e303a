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
)

// defaultServeAddr is where serve listens unless -addr says otherwise:
// loopback, next to the proxy.
const defaultServeAddr = "127.0.0.1:9091"

// serveOptions are serve's flags.
type serveOptions struct {
	configPath string
	addr       string
	debug      bool
}

// serveFlags parses serve's flags. The error is flag.ErrHelp for -h.
func serveFlags(args []string) (serveOptions, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var o serveOptions
	fs.StringVar(&o.configPath, "config", "", "")
	fs.StringVar(&o.addr, "addr", defaultServeAddr, "")
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

// serveCmd runs `keyward serve` until ctx is done. listening, if not nil,
// gets the bound address once the server accepts connections. It returns
// the exit status.
func serveCmd(ctx context.Context, args []string, stderr io.Writer, listening func(addr string)) int {
	o, err := serveFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
		} else {
			fmt.Fprintf(stderr, "keyward serve: %v\n", err)
		}
		return 2
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := serve(ctx, o, logger, listening); err != nil {
		// Plain text: a configuration error names the file, line and key.
		fmt.Fprintf(stderr, "keyward serve: %v\n", err)
		return 1
	}
	return 0
}

// serve reads the configuration file, builds the authenticator and the
// forward-auth handler, and serves them on o.addr until ctx is done; then
// it shuts down, giving requests in progress up to 10 seconds.
func serve(ctx context.Context, o serveOptions, logger *slog.Logger, listening func(addr string)) error {
	f, err := config.Read(o.configPath)
	if err != nil {
		return err
	}
	// The forward_auth section is checked before any key set is fetched.
	fa, err := f.ForwardAuthConfig()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg, err := f.Config(ctx, config.Options{Logger: logger, ReloadOnSIGHUP: true})
	if err != nil {
		return err
	}
	authn, err := dualauth.New(cfg)
	if err != nil {
		return err
	}
	defer authn.Close() // stops the key sets' refreshes and the clients file watcher
	h, err := forwardauth.New(authn, fa, forwardauth.Options{
		Logger: logger,
		// Metrics: the scale-out issue's exporter goes here (GET /metrics).
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute, // proxies keep connections to the auth service open
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("keyward serve: listening", "url", "http://"+ln.Addr().String(), "config", o.configPath,
		"mode", authn.Mode(), "routes", len(fa.Routes))
	if listening != nil {
		listening(ln.Addr().String())
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("keyward serve: shutting down")
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
