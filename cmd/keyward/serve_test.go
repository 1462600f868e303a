package main

import (
	"bufio"
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyward/keyward/internal/syncbuf"
)

// TestServeErrors: usage errors exit 2, configuration errors 1, each with a
// message naming the problem, before anything listens.
func TestServeErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noSection := filepath.Join(dir, "no-section.yaml")
	badRoute := filepath.Join(dir, "bad-route.yaml")
	head := "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      jwks_url: https://auth.example.com/jwks.json\n      audiences: [api]\n"
	for path, content := range map[string]string{
		noSection: head,
		badRoute:  head + "forward_auth:\n  routes:\n    - match: /v1/\n    - match: /v1/\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no -config", []string{"serve"}, 2, "-config FILE is required"},
		{"unknown flag", []string{"serve", "-config", noSection, "-port", "1"}, 2, "flag provided but not defined: -port"},
		{"arguments", []string{"serve", "-config", noSection, "extra"}, 2, "unexpected arguments"},
		{"missing file", []string{"serve", "-config", filepath.Join(dir, "none.yaml")}, 1, "no such file"},
		{"no forward_auth", []string{"serve", "-config", noSection}, 1, "forward_auth: is required by keyward serve"},
		{"bad route", []string{"serve", "-config", badRoute}, 1, `line 9: forward_auth.routes[1].match: duplicates the route at line 8 ("/v1/")`},
		{"bad address", []string{"serve", "-config", "../../testdata/forwardauth/keyward.yaml", "-addr", "127.0.0.1:notaport"}, 1, "notaport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			code := serveCmd(ctx, tt.args[1:], &stderr, func(string) { t.Error("listening") })
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
		})
	}
}

// TestServeMetricsAddr: with -metrics-addr, GET /metrics is served on that
// address only, counting the forward-auth decisions, and never on the
// forward-auth listener; without it, nowhere. Both listeners stop when the
// context ends, and serve returns nil.
func TestServeMetricsAddr(t *testing.T) {
	t.Parallel()
	path := pemConfig(t)
	const refusal = `code="unauthorized"`
	tests := []struct {
		name        string
		metricsAddr string
	}{
		{"with -metrics-addr", "127.0.0.1:0"},
		{"without", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var logs syncbuf.Buffer
			bound := make(chan boundAddrs, 1)
			done := make(chan error, 1)
			go func() {
				o := serveOptions{configPath: path, addr: "127.0.0.1:0", metricsAddr: tt.metricsAddr}
				done <- serve(ctx, o, slog.New(slog.NewTextHandler(&logs, nil)), func(a boundAddrs) { bound <- a })
			}()
			var addrs boundAddrs
			select {
			case addrs = <-bound:
			case err := <-done:
				t.Fatalf("serve: %v\n%s", err, logs.String())
			}
			if (addrs.metrics != "") != (tt.metricsAddr != "") {
				t.Fatalf("metrics address %q for -metrics-addr %q", addrs.metrics, tt.metricsAddr)
			}
			// One refusal to count: no credentials for an authenticated route.
			req, _ := http.NewRequest(http.MethodGet, "http://"+addrs.auth+"/auth", nil)
			req.Header.Set("X-Forwarded-Method", "GET")
			req.Header.Set("X-Forwarded-Uri", "/v1/whoami")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("/auth = %d, want 401", resp.StatusCode)
			}
			if status, _ := httpGet(t, "http://"+addrs.auth+"/metrics"); status != http.StatusNotFound {
				t.Errorf("GET /metrics on the forward-auth listener = %d, want 404", status)
			}
			if addrs.metrics != "" {
				status, body := httpGet(t, "http://"+addrs.metrics+"/metrics")
				if status != http.StatusOK || !strings.Contains(body, "keyward_requests_total{") || !strings.Contains(body, refusal) {
					t.Errorf("GET /metrics = %d, want 200 counting the refusal (%s):\n%s", status, refusal, body)
				}
				if status, _ := httpGet(t, "http://"+addrs.metrics+"/auth"); status != http.StatusNotFound {
					t.Errorf("GET /auth on the metrics listener = %d, want 404", status)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("serve after cancel: %v", err)
			}
			for _, a := range []string{addrs.auth, addrs.metrics} {
				if a == "" {
					continue
				}
				if conn, err := net.Dial("tcp", a); err == nil {
					conn.Close()
					t.Errorf("%s still accepts connections after shutdown", a)
				}
			}
		})
	}
}

// TestServeMetricsAddrBusy: a -metrics-addr that cannot be bound fails
// serve, naming the metrics listener, before anything is served.
func TestServeMetricsAddrBusy(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	var stderr bytes.Buffer
	code := serveCmd(context.Background(), []string{"-config", pemConfig(t), "-addr", "127.0.0.1:0",
		"-metrics-addr", busy.Addr().String()}, &stderr, func(string) { t.Error("listening") })
	if code != 1 || !strings.Contains(stderr.String(), "keyward serve: metrics: listen tcp "+busy.Addr().String()) {
		t.Errorf("exit %d, stderr %q; want 1 naming the metrics listener", code, stderr.String())
	}
}

// pemConfig writes a configuration that trusts the quick-start key from
// its file (no key server to wait for) and has one authenticated route,
// and returns its path.
func pemConfig(t *testing.T) string {
	t.Helper()
	key, err := filepath.Abs("../../testdata/keys/quickstart_public.pem")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "keyward.yaml")
	yaml := "jwt:\n  issuers:\n    - issuer: https://issuer.quickstart.test\n      public_key_file: " + key +
		"\n      audiences: [bookings-api]\nforward_auth:\n  routes:\n    - match: \"GET /v1/whoami\"\n"
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestServeStopsOnSIGTERM runs keyward serve as a process of its own (this
// test binary, made the command by runMainEnv) with -metrics-addr, and sends
// it SIGTERM: it shuts both listeners down and exits 0.
func TestServeStopsOnSIGTERM(t *testing.T) {
	t.Parallel()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "serve", "-config", pemConfig(t), "-addr", "127.0.0.1:0", "-metrics-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The log's listening line names both addresses.
	var log strings.Builder
	lines := bufio.NewScanner(stderr)
	var auth, metrics string
	for auth == "" && lines.Scan() {
		log.WriteString(lines.Text() + "\n")
		if strings.Contains(lines.Text(), `msg="keyward serve: listening"`) {
			auth, metrics = logValue(lines.Text(), "url"), logValue(lines.Text(), "metrics_url")
		}
	}
	if auth == "" || metrics == "" {
		t.Fatalf("no listening line with both addresses:\n%s", log.String())
	}
	if status, body := httpGet(t, metrics); status != http.StatusOK || !strings.Contains(body, "keyward_jwks_keys") {
		t.Fatalf("GET %s = %d:\n%s", metrics, status, body)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		log.WriteString(lines.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("keyward serve after SIGTERM: %v\n%s", err, log.String())
	}
	if !strings.Contains(log.String(), `msg="shutting down"`) {
		t.Errorf("no clean shutdown logged:\n%s", log.String())
	}
	for _, u := range []string{auth, metrics} {
		if _, err := http.Get(u); err == nil {
			t.Errorf("%s still answers after exit", u)
		}
	}
}

// logValue returns the value of key in a log line of slog's text handler.
func logValue(line, key string) string {
	for field := range strings.FieldsSeq(line) {
		if v, ok := strings.CutPrefix(field, key+"="); ok {
			return v
		}
	}
	return ""
}
