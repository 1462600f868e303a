package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/keyward/keyward/middleware"
)

// TestRunServesAndShutsDown starts a server from the quick-start config and
// checks that it serves, then returns nil once its context is cancelled.
func TestRunServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	listening := make(chan string, 1)
	done := make(chan error, 1)
	routes := func(kw *middleware.Middleware) http.Handler {
		return kw.Authenticate(http.NotFoundHandler())
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	go func() {
		done <- Run(ctx, "../../../testdata/config/quickstart.yaml", "127.0.0.1:0", logger, routes, listening)
	}()
	var addr string
	select {
	case addr = <-listening:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	}
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := Run(context.Background(), "does-not-exist.yaml", "127.0.0.1:0", slog.New(slog.DiscardHandler), nil, nil)
	if err == nil {
		t.Fatal("Run started without a config file")
	}
}
