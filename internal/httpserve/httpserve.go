// Package httpserve serves HTTP servers until a context ends, then shuts
// them down cleanly: the loop keyward serve and the example servers share.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownGrace is how long requests in progress get to finish once Run
// shuts down.
const ShutdownGrace = 10 * time.Second

// Server is one HTTP server and the listener it serves.
type Server struct {
	// Name prefixes the server's errors ("metrics: ..."); "" adds nothing.
	Name     string
	Server   *http.Server
	Listener net.Listener
}

// Run serves each server on its listener until ctx is done or one of them
// stops by itself, then logs "shutting down", shuts them all down, giving
// requests in progress up to ShutdownGrace, and returns the first error
// (nil after a clean shutdown). started, if not nil, is called once all
// accept connections. Run returns only when every server has stopped.
func Run(ctx context.Context, servers []Server, logger *slog.Logger, started func()) error {
	served := make(chan error, len(servers))
	for _, s := range servers {
		go func() {
			if err := s.Server.Serve(s.Listener); !errors.Is(err, http.ErrServerClosed) {
				served <- s.named(err)
				return
			}
			served <- nil
		}()
	}
	if started != nil {
		started()
	}
	var first error
	pending := len(servers)
	select {
	case first = <-served: // one stopped by itself: stop the others too
		pending--
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, stop := context.WithTimeout(context.Background(), ShutdownGrace)
	defer stop()
	for _, s := range servers {
		if err := s.Server.Shutdown(shutdownCtx); err != nil && first == nil {
			first = s.named(err)
		}
	}
	for ; pending > 0; pending-- {
		if err := <-served; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// named returns err prefixed with the server's name, if it has one.
func (s Server) named(err error) error {
	if s.Name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", s.Name, err)
}
