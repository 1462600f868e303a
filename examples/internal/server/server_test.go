package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/syncbuf"
	"github.com/keyward/keyward/jwks"

	"github.com/keyward/keyward/jwtauth"
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
	var logs syncbuf.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
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
	// GET /metrics, unauthenticated, counts that refusal.
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	const series = `keyward_requests_total{code="unauthorized",keyward_auth_method="none",outcome="refused"} 1`
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), series+"\n") {
		t.Fatalf("GET /metrics = %d, want 200 with %s:\n%s", resp.StatusCode, series, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	// The quick-start config trusts the committed demo key: said loudly.
	if !strings.Contains(logs.String(), "level=WARN msg=\"TRYING KEYWARD ONLY") || !strings.Contains(logs.String(), demoKey) {
		t.Fatalf("no warning about the committed demo key:\n%s", logs.String())
	}
}

// TestStartupWarnings: what a server warns of as it starts. The README's
// quick start (the default config: dual mode, the test client registry)
// warns of the demo key only, not of the registry (its entries are hashed
// at costs close enough not to be called "cheaper to crack"); a config that
// does not trust the demo key warns of nothing.
func TestStartupWarnings(t *testing.T) {
	tests := []struct {
		config   string
		warnings []string // each warning, in order
	}{
		{"quickstart-dual.yaml", []string{"TRYING KEYWARD ONLY"}},
		{"pem.yaml", nil},
	}
	for _, tt := range tests {
		t.Run(tt.config, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			listening := make(chan string, 1)
			done := make(chan error, 1)
			var logs syncbuf.Buffer
			go func() {
				done <- Run(ctx, "../../../testdata/config/"+tt.config, "127.0.0.1:0", slog.New(slog.NewTextHandler(&logs, nil)),
					func(kw *middleware.Middleware) http.Handler { return http.NotFoundHandler() }, listening)
			}()
			select {
			case <-listening:
			case err := <-done:
				t.Fatalf("Run: %v", err)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			var warnings []string
			for line := range strings.Lines(logs.String()) {
				if strings.Contains(line, "level=WARN") {
					warnings = append(warnings, line)
				}
			}
			ok := len(warnings) == len(tt.warnings)
			for i := 0; ok && i < len(warnings); i++ {
				ok = strings.Contains(warnings[i], tt.warnings[i])
			}
			if !ok {
				t.Errorf("warnings:\n%s\nwant %q", strings.Join(warnings, ""), tt.warnings)
			}
		})
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	err := Run(context.Background(), "does-not-exist.yaml", "127.0.0.1:0", slog.New(slog.DiscardHandler), nil, nil)
	if err == nil {
		t.Fatal("Run started without a config file")
	}
}

// TestHealthWithoutKeys: /healthz answers 503 no_keys while an issuer holds
// no key (key server down), so that a readiness probe waits for the keys.
func TestHealthWithoutKeys(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	keys, err := jwks.NewRemote(t.Context(), dead.URL+"/jwks.json", jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer keys.Close()
	tokens, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: "https://issuer.test", Audiences: []string{"api"}, Keys: keys}}})
	if err != nil {
		t.Fatal(err)
	}
	a, err := dualauth.New(dualauth.Config{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	status, body := Health(middleware.New(a, middleware.Options{}))
	if status != http.StatusServiceUnavailable || body["status"] != "no_keys" {
		t.Fatalf("Health = %d %v, want 503 no_keys", status, body)
	}
}
