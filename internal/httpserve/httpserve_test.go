package httpserve_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/internal/httpserve"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func hello(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "hello") }

// TestRun: both servers answer once started is called; cancelling the
// context shuts them down, Run returns nil and logs it, and the listeners
// are closed.
func TestRun(t *testing.T) {
	servers := []httpserve.Server{
		{Name: "a", Server: &http.Server{Handler: http.HandlerFunc(hello)}, Listener: listen(t)},
		{Name: "b", Server: &http.Server{Handler: http.HandlerFunc(hello)}, Listener: listen(t)},
	}
	ctx, cancel := context.WithCancel(context.Background())
	var log bytes.Buffer
	answered := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		done <- httpserve.Run(ctx, servers, slog.New(slog.NewTextHandler(&log, nil)), func() {
			var err error
			for _, s := range servers {
				var res *http.Response
				if res, err = http.Get("http://" + s.Listener.Addr().String()); err != nil {
					break
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if string(body) != "hello" {
					err = errors.New("body " + string(body))
					break
				}
			}
			answered <- err
			cancel()
		})
	}()
	if err := <-answered; err != nil {
		t.Fatalf("while started: %v", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Run = %v; want nil after the context ends", err)
	}
	if !strings.Contains(log.String(), `msg="shutting down"`) {
		t.Errorf("log %q", log.String())
	}
	for _, s := range servers {
		if _, err := net.Dial("tcp", s.Listener.Addr().String()); err == nil {
			t.Errorf("%s still accepts connections", s.Name)
		}
	}
}

// TestRunOneFails: a server that stops by itself stops the other and its
// error, named, is Run's, without the context ending.
func TestRunOneFails(t *testing.T) {
	broken := listen(t)
	broken.Close()
	good := listen(t)
	err := httpserve.Run(context.Background(), []httpserve.Server{
		{Name: "good", Server: &http.Server{Handler: http.HandlerFunc(hello)}, Listener: good},
		{Name: "broken", Server: &http.Server{Handler: http.HandlerFunc(hello)}, Listener: broken},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "broken: ") || !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Run = %v; want the broken server's error", err)
	}
	if _, err := net.Dial("tcp", good.Addr().String()); err == nil {
		t.Error("the good server still accepts connections")
	}
}
