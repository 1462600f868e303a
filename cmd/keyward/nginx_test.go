package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/syncbuf"
	"github.com/keyward/keyward/keywardtest"
)

// nginxBinary finds nginx, or ends the test: it fails in CI (CI=true),
// where .ci/run installs the Debian package, and is skipped elsewhere.
func nginxBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("nginx is not installed (Debian package nginx; .ci/run installs it)")
	}
	t.Skip("nginx is not installed: apt-get install nginx (Debian package nginx) to run the end-to-end tests through it")
	return ""
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// nginxConfig is testdata/forwardauth/nginx.conf, the configuration README.md
// shows and runs, with its three addresses replaced: nginx listens on
// listen, asks keyward, and proxies to api.
func nginxConfig(t *testing.T, listen, keyward, api string) []byte {
	t.Helper()
	conf, err := os.ReadFile("../../testdata/forwardauth/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ directive, addr string }{
		{"listen 127.0.0.1:8090;", listen},
		{"server 127.0.0.1:9091;", keyward},
		{"server 127.0.0.1:8080;", api},
	} {
		if n := bytes.Count(conf, []byte(r.directive)); n != 1 {
			t.Fatalf("testdata/forwardauth/nginx.conf has %q %d times; want once", r.directive, n)
		}
		field, _, _ := strings.Cut(r.directive, " ")
		conf = bytes.Replace(conf, []byte(r.directive), []byte(field+" "+r.addr+";"), 1)
	}
	return conf
}

// startNginx runs nginx with testdata/forwardauth/nginx.conf (see
// nginxConfig) on a free loopback port, in a temporary prefix directory,
// and returns its address once it answers. It stops nginx when the test
// ends.
func startNginx(t *testing.T, keyward, api string) string {
	t.Helper()
	bin := nginxBinary(t)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // the free port may be taken before nginx binds it
		prefix := t.TempDir()
		listen := freeAddr(t)
		confPath := filepath.Join(prefix, "nginx.conf")
		if err := os.WriteFile(confPath, nginxConfig(t, listen, keyward, api), 0o600); err != nil {
			t.Fatal(err)
		}
		var out syncbuf.Buffer
		cmd := exec.Command(bin, "-p", prefix, "-c", confPath, "-e", "stderr",
			"-g", "daemon off; pid "+filepath.Join(prefix, "nginx.pid")+";")
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitListening(listen, exited); err != nil {
			logs, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
			lastErr = fmt.Errorf("nginx did not start: %v\n%s%s", err, out.String(), logs)
			_ = cmd.Process.Kill()
			<-exited
			continue
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGQUIT) // graceful
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-exited
			}
			if t.Failed() {
				logs, _ := os.ReadFile(filepath.Join(prefix, "error.log"))
				t.Logf("nginx error.log:\n%s%s", out.String(), logs)
			}
		})
		return listen
	}
	t.Fatal(lastErr)
	return ""
}

// waitListening polls addr until it accepts connections, the process
// exits, or 10 seconds pass.
func waitListening(addr string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after 10s: %v", addr, err)
		}
	}
}

// startServe runs `keyward serve` with the configuration yaml (written to
// a temporary file) on a free loopback port and returns its address. It
// stops the server when the test ends and fails the test if it did not
// stop cleanly.
func startServe(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "keyward.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var logs syncbuf.Buffer
	addrs := make(chan string, 1)
	done := make(chan int, 1)
	go func() {
		done <- serveCmd(ctx, []string{"-config", path, "-addr", "127.0.0.1:0"}, &logs, func(a string) { addrs <- a })
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("keyward serve exited %d:\n%s", code, logs.String())
		}
		if t.Failed() {
			t.Logf("keyward serve log:\n%s", logs.String())
		}
	})
	select {
	case a := <-addrs:
		return a
	case code := <-done:
		done <- code
		t.Fatalf("keyward serve exited %d before listening:\n%s", code, logs.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("keyward serve not listening after 20s:\n%s", logs.String())
	}
	return ""
}

// echoAPI is the upstream: it answers every request with the method, path
// and headers it received, as JSON.
func echoAPI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(echoed{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

type echoed struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Header http.Header `json:"header"`
}

const testRoutes = `
forward_auth:
  routes:
    - match: "GET /v1/bookings"
      scopes: {all: [bookings:read]}
    - match: "POST /v1/bookings"
      scopes: {all: [bookings:create]}
    - match: "GET /v1/search"
      scopes: {any: [bookings:read, reports:read]}
    - match: "GET /v1/whoami"
    - match: "/public/"
      public: true
  unmatched: deny
`

// clientFrom returns an HTTP client whose connections come from the
// loopback address ip, so that nginx sees distinct clients.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
	}
}

// response is what the client got through nginx.
type response struct {
	status     int
	challenges []string // WWW-Authenticate
	retryAfter string
	body       map[string]string // a refusal's JSON body
	upstream   *echoed           // what the API received, when it answered
}

// send sends a request to base through c, with header as given (names
// keep their spelling), and reads the answer: the upstream's echo when it
// is 200, else the refusal.
func send(t *testing.T, c *http.Client, base, method, path string, header map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = []string{v} // as given: client_id keeps its spelling
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := response{status: res.StatusCode, challenges: res.Header.Values("WWW-Authenticate"), retryAfter: res.Header.Get("Retry-After")}
	if method == http.MethodHead {
		return out // no body
	}
	if res.StatusCode == http.StatusOK {
		out.upstream = &echoed{}
		if err := json.Unmarshal(data, out.upstream); err != nil {
			t.Fatalf("upstream answer %q: %v", data, err)
		}
		return out
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("refusal Content-Type %q, body %q; want application/json", ct, data)
	}
	if err := json.Unmarshal(data, &out.body); err != nil {
		t.Fatalf("refusal body %q: %v", data, err)
	}
	return out
}

// TestServeThroughNginx runs nginx with auth_request to `keyward serve`
// in front of an API that echoes what it receives, and sends requests
// through nginx.
func TestServeThroughNginx(t *testing.T) {
	t.Parallel()
	nginxBinary(t)
	iss := keywardtest.NewIssuer(t)
	clientsFile, err := filepath.Abs("../../testdata/clients/clients.yaml")
	if err != nil {
		t.Fatal(err)
	}
	api := echoAPI(t)
	keyward := startServe(t, fmt.Sprintf(`mode: dual
realm: bookings-api
jwt:
  issuers:
    - issuer: %s
      jwks_url: %s
      audiences: [%s]
credentials:
  clients_file: %s
  throttle: {max_client_failures: 3, max_address_failures: 20, window: 1m}
%s`, iss.URL, iss.JWKSURL, iss.Audience, clientsFile, testRoutes))
	proxy := "http://" + startNginx(t, keyward, strings.TrimPrefix(api.URL, "http://"))

	// A second keyward whose credentials are exchanged at a token endpoint
	// that is down: 503.
	down := freeAddr(t) // nothing listens there
	keywardDown := startServe(t, fmt.Sprintf(`mode: credentials
jwt:
  issuers:
    - issuer: %s
      jwks_url: %s
      audiences: [%s]
credentials:
  exchange: {token_url: "http://%s/token"}
%s`, iss.URL, iss.JWKSURL, iss.Audience, down, testRoutes))
	proxyDown := "http://" + startNginx(t, keywardDown, strings.TrimPrefix(api.URL, "http://"))

	read := iss.Token(t, jwt.MapClaims{"sub": "alice", "client_id": "web", "scope": "bookings:read"})
	reports := iss.Token(t, jwt.MapClaims{"sub": "bob", "scope": "reports:read"})
	forged := iss.ForgedToken(t, jwt.MapClaims{"scope": "bookings:read"})
	expired := iss.ExpiredToken(t, jwt.MapClaims{"scope": "bookings:read"})

	local := clientFrom("127.0.0.1")

	bearer := `Bearer realm="bookings-api"`
	basic := `Basic realm="bookings-api"`
	identity := func(subject, clientID, scopes, method, issuer string) map[string]string {
		return map[string]string{"X-Auth-Subject": subject, "X-Auth-Client-Id": clientID, "X-Auth-Scopes": scopes, "X-Auth-Method": method, "X-Auth-Issuer": issuer}
	}
	tests := []struct {
		name       string
		base       string
		method     string
		path       string
		header     map[string]string
		status     int
		identity   map[string]string // allowed: the identity headers the API must get ("" = absent)
		absent     []string          // allowed: headers the API must not get
		challenges []string          // refused: WWW-Authenticate
		code       string            // refused: the body's error
		desc       string            // refused: part of error_description
		retry      bool
	}{
		{name: "good token", method: "GET", path: "/v1/bookings?page=2",
			header: map[string]string{"Authorization": "Bearer " + read}, status: 200,
			identity: identity("alice", "web", "bookings:read", "jwt", iss.URL)},
		{name: "good client headers", method: "GET", path: "/v1/bookings",
			header: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}, status: 200,
			identity: identity("acme", "acme", "bookings:read reports:read", "credentials", "")},
		{name: "HTTP Basic", method: "GET", path: "/v1/whoami",
			header: map[string]string{"Authorization": "Basic Z2xvYmV4Omdsb2JleC1zZWNyZXQ="}, status: 200,
			identity: identity("globex", "globex", "bookings:create bookings:read", "credentials", "")},
		{name: "any of two scopes", method: "GET", path: "/v1/search",
			header: map[string]string{"Authorization": "Bearer " + reports}, status: 200,
			identity: identity("bob", "test-client", "reports:read", "jwt", iss.URL)},
		{name: "public route: no identity", method: "GET", path: "/public/logo.png",
			status: 200, identity: identity("", "", "", "", "")},
		// Issue 14 item 2: a client naming itself, in any spelling, is
		// refused (nginx shows keyward's 400, not a 500).
		{name: "identity header, exact spelling", method: "GET", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + read, "X-Auth-Subject": "root"},
			status: 400, code: "invalid_request", desc: "identity header X-Auth-Subject"},
		{name: "identity header, underscores", method: "GET", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + read, "X_Auth_Subject": "root"},
			status: 400, code: "invalid_request", desc: "identity header X-Auth-Subject"},
		{name: "identity header, lower case", method: "GET", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + read, "x-auth-issuer": "https://evil.example"},
			status: 400, code: "invalid_request", desc: "identity header X-Auth-Issuer"},
		{name: "identity header mixing - and _, public route", method: "GET", path: "/public/logo.png",
			header: map[string]string{"X-Auth_Scopes": "admin"},
			status: 400, code: "invalid_request", desc: "identity header X-Auth-Scopes"},
		{name: "identity header mixing _ and -, public route", method: "GET", path: "/public/logo.png",
			header: map[string]string{"X_Auth-Subject": "root"},
			status: 400, code: "invalid_request", desc: "identity header X-Auth-Subject"},
		{name: "identity header appended to the real one", method: "GET", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + read, "X-Auth-Client_Id": "evil"},
			status: 400, code: "invalid_request", desc: "identity header X-Auth-Client-Id"},
		// Issue 14 item 3: method overrides in every spelling.
		{name: "POST allowed", method: "POST", path: "/v1/bookings",
			header: map[string]string{"client_id": "globex", "client_secret": "globex-secret"}, status: 200,
			identity: identity("globex", "globex", "bookings:create bookings:read", "credentials", "")},
		{name: "method override, underscores", method: "POST", path: "/v1/bookings",
			header: map[string]string{"client_id": "globex", "client_secret": "globex-secret", "X_HTTP_METHOD_OVERRIDE": "DELETE"},
			status: 400, code: "invalid_request", desc: "method-override header X-HTTP-Method-Override"},
		{name: "method override, mixed", method: "POST", path: "/v1/bookings",
			header: map[string]string{"client_id": "globex", "client_secret": "globex-secret", "X-Method_Override": "DELETE"},
			status: 400, code: "invalid_request", desc: "method-override header X-Method-Override"},
		{name: "_method parameter", method: "POST", path: "/v1/bookings?_method=DELETE",
			header: map[string]string{"client_id": "globex", "client_secret": "globex-secret"},
			status: 400, code: "invalid_request", desc: "_method"},
		{name: "_method parameter, encoded", method: "POST", path: "/v1/bookings?x=1&%5Fmethod=DELETE",
			header: map[string]string{"client_id": "globex", "client_secret": "globex-secret"},
			status: 400, code: "invalid_request", desc: "_method"},
		{name: "_method parameter, upper case", method: "POST", path: "/v1/bookings?_METHOD=DELETE",
			header: map[string]string{"client_id": "globex", "client_secret": "globex-secret"},
			status: 400, code: "invalid_request", desc: "_method"},
		// PHP cuts a parameter name at a NUL: _method%00x is _method.
		{name: "_method parameter cut at a NUL", method: "POST", path: "/v1/bookings?_method%00x=DELETE",
			header: map[string]string{"client_id": "globex", "client_secret": "globex-secret"},
			status: 400, code: "invalid_request", desc: "_method"},
		{name: "_method parameter ending in a NUL", method: "POST", path: "/v1/bookings?_method%00=DELETE",
			header: map[string]string{"Authorization": "Bearer " + read},
			status: 400, code: "invalid_request", desc: "_method"},
		// URL overrides (CVE-2018-14773), and the nginx description from
		// the client, which nginx.conf clears toward the API.
		{name: "X-Original-URL", method: "GET", path: "/public/logo.png",
			header: map[string]string{"X-Original-URL": "/v1/bookings"},
			status: 400, code: "invalid_request", desc: "URL-override header X-Original-URL"},
		{name: "X_Rewrite_URL", method: "GET", path: "/public/logo.png",
			header: map[string]string{"X_Rewrite_URL": "/v1/bookings"},
			status: 400, code: "invalid_request", desc: "URL-override header X-Rewrite-URL"},
		{name: "the client's X-Original-URI does not reach the API", method: "GET", path: "/public/logo.png",
			header: map[string]string{"X-Original-URI": "/v1/bookings", "X-Original-Method": "DELETE"},
			status: 200, identity: identity("", "", "", "", ""), absent: []string{"X-Original-Uri", "X-Original-Method"}},
		{name: "missing credentials", method: "GET", path: "/v1/bookings", status: 401,
			challenges: []string{bearer + ", " + basic}, code: "unauthorized", desc: "authentication is required"},
		{name: "bad token", method: "GET", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + forged}, status: 401,
			challenges: []string{bearer + `, error="invalid_token", error_description="the access token's signature is invalid"`},
			code:       "invalid_token", desc: "signature"},
		{name: "expired token", method: "GET", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + expired}, status: 401,
			challenges: []string{bearer + `, error="invalid_token", error_description="the access token expired"`},
			code:       "invalid_token", desc: "expired"},
		{name: "missing scope", method: "POST", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + read}, status: 403,
			challenges: []string{bearer + `, error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="bookings:create"`},
			code:       "insufficient_scope", desc: "lacks a scope"},
		{name: "wrong client secret", method: "GET", path: "/v1/bookings",
			header: map[string]string{"client_id": "globex", "client_secret": "nope"}, status: 401,
			challenges: []string{basic}, code: "invalid_client"},
		{name: "unmatched route", method: "DELETE", path: "/v1/bookings/42",
			header: map[string]string{"Authorization": "Bearer " + read}, status: 403,
			code: "access_denied", desc: "no route"},
		{name: "two kinds of credentials: 400 through nginx", method: "GET", path: "/v1/bookings",
			header: map[string]string{"Authorization": "Bearer " + read, "client_id": "acme", "client_secret": "acme-secret"}, status: 400,
			challenges: []string{bearer + `, error="invalid_request", error_description="the request carries more than one kind of credentials"`},
			code:       "invalid_request"},
		{name: "access_token in the query", method: "GET", path: "/v1/bookings?access_token=" + read, status: 400,
			challenges: []string{bearer + `, error="invalid_request", error_description="access tokens are accepted only in the Authorization header"`},
			code:       "invalid_request"},
		{name: "client describing another request", method: "DELETE", path: "/v1/bookings/42",
			header: map[string]string{"Authorization": "Bearer " + read, "X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/public/x"},
			status: 400, code: "invalid_request", desc: "both"},
		{name: "encoded dot segments", method: "GET", path: "/public/%2e%2e/v1/bookings",
			status: 400, code: "invalid_request", desc: "canonical",
			challenges: []string{bearer + `, error="invalid_request", error_description="the request path is not in canonical form (dot segments, repeated slashes, encoded slashes, path parameters, backslashes or control characters)"`}},
		{name: "token endpoint down: 503 through nginx", base: proxyDown, method: "GET", path: "/v1/bookings",
			header: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}, status: 503,
			code: "temporarily_unavailable", retry: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := tt.base
			if base == "" {
				base = proxy
			}
			got := send(t, local, base, tt.method, tt.path, tt.header)
			if got.status != tt.status {
				t.Fatalf("status %d (body %v); want %d", got.status, got.body, tt.status)
			}
			if tt.status == 200 {
				for name, want := range tt.identity {
					if v := got.upstream.Header.Values(name); (want == "" && len(v) > 0) || (want != "" && (len(v) != 1 || v[0] != want)) {
						t.Errorf("the API got %s %q; want %q", name, v, want)
					}
				}
				for _, name := range tt.absent {
					if v := got.upstream.Header.Values(name); len(v) > 0 {
						t.Errorf("the API got the client's %s %q", name, v)
					}
				}
				for name, values := range got.upstream.Header {
					if strings.HasPrefix(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "x-auth-") &&
						(strings.Contains(strings.Join(values, " "), "root") || strings.Contains(strings.Join(values, " "), "evil")) {
						t.Errorf("the API got the client's %s: %q", name, values)
					}
				}
				if !strings.HasPrefix(got.upstream.Path, strings.SplitN(tt.path, "?", 2)[0]) {
					t.Errorf("the API got %s; want %s", got.upstream.Path, tt.path)
				}
				return
			}
			if tt.challenges != nil && strings.Join(got.challenges, "|") != strings.Join(tt.challenges, "|") {
				t.Errorf("WWW-Authenticate %q; want %q", got.challenges, tt.challenges)
			}
			if tt.challenges == nil && (tt.code == "access_denied" || tt.code == "temporarily_unavailable") && len(got.challenges) > 0 {
				t.Errorf("WWW-Authenticate %q; want none", got.challenges)
			}
			if got.body["error"] != tt.code || !strings.Contains(got.body["error_description"], tt.desc) {
				t.Errorf("body %v; want error %q and a description with %q", got.body, tt.code, tt.desc)
			}
			if tt.retry != (got.retryAfter != "") {
				t.Errorf("Retry-After %q", got.retryAfter)
			}
		})
	}

	t.Run("throttled guesser", func(t *testing.T) {
		// The guesser comes from 127.0.0.2: nginx forwards that address
		// and keyward counts the failures against it, not against nginx.
		guesser, other := clientFrom("127.0.0.2"), clientFrom("127.0.0.3")
		wrong := map[string]string{"client_id": "acme", "client_secret": "guess"}
		for i := range 3 {
			if got := send(t, guesser, proxy, "GET", "/v1/bookings", wrong); got.status != 401 || got.body["error"] != "invalid_client" {
				t.Fatalf("guess %d: %d %v; want 401 invalid_client", i+1, got.status, got.body)
			}
		}
		got := send(t, guesser, proxy, "GET", "/v1/bookings", wrong)
		if got.status != 429 || got.body["error"] != "too_many_requests" || got.retryAfter == "" || len(got.challenges) != 0 {
			t.Fatalf("4th guess: %d %v Retry-After %q WWW-Authenticate %q; want 429 too_many_requests with Retry-After and no challenge",
				got.status, got.body, got.retryAfter, got.challenges)
		}
		// Another client address is not held back...
		if got := send(t, other, proxy, "GET", "/v1/bookings", wrong); got.status != 401 {
			t.Errorf("another client's guess: %d %v; want 401", got.status, got.body)
		}
		// ...nor is the real client from the guesser's address, whose pair
		// verified before.
		good := map[string]string{"client_id": "acme", "client_secret": "acme-secret"}
		if got := send(t, guesser, proxy, "GET", "/v1/bookings", good); got.status != 200 {
			t.Errorf("the real client from the guesser's address: %d %v; want 200", got.status, got.body)
		}
	})
}

// TestServeUntrustedPeer: a forward_auth.trusted_proxies that leaves the
// proxy out makes every request through it a 403.
func TestServeUntrustedPeer(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	addr := startServe(t, jwtSection(iss)+`forward_auth:
  routes:
    - match: "/"
  trusted_proxies: [192.0.2.1]
`)
	req, _ := http.NewRequest("GET", "http://"+addr+"/auth", nil)
	req.Header.Set("X-Forwarded-Method", "GET")
	req.Header.Set("X-Forwarded-Uri", "/")
	req.Header.Set("Authorization", "Bearer "+iss.Token(t, nil))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d; want 403", res.StatusCode)
	}
	// And the state endpoints answer anyone: keys loaded, ready.
	for path, want := range map[string]string{"/healthz": `"healthy":true`, "/livez": `"ok"`, "/readyz": `"ok"`} {
		if status, body := httpGet(t, "http://"+addr+path); status != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d %s; want 200 with %s", path, status, body, want)
		}
	}
}

// httpGet sends a GET to url and returns the status and body.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

// TestServeNotReady: `keyward serve` whose key server is down from the
// start serves, is live, and is not ready: /readyz (for readiness probes)
// and /healthz answer 503, /livez (for liveness probes) 200.
func TestServeNotReady(t *testing.T) {
	t.Parallel()
	addr := startServe(t, fmt.Sprintf(`jwt:
  issuers:
    - issuer: https://auth.example.com
      jwks_url: http://%s/jwks.json
      audiences: [api]
forward_auth:
  routes:
    - match: "/"
`, freeAddr(t))) // nothing listens there
	for path, want := range map[string]int{"/livez": 200, "/readyz": 503, "/healthz": 503} {
		if status, body := httpGet(t, "http://"+addr+path); status != want {
			t.Errorf("%s: %d %s; want %d", path, status, body, want)
		}
	}
}

// jwtSection is the jwt section of a configuration file trusting iss.
func jwtSection(iss *keywardtest.Issuer) string {
	return fmt.Sprintf("jwt:\n  issuers:\n    - issuer: %s\n      jwks_url: %s\n      audiences: [%s]\n", iss.URL, iss.JWKSURL, iss.Audience)
}

// issueServe runs `keyward serve` trusting iss, with the routes of issue
// 14's examples, behind nginx in front of the echoing API, and returns
// nginx's base URL.
func issueServe(t *testing.T, iss *keywardtest.Issuer) string {
	t.Helper()
	api := echoAPI(t)
	keyward := startServe(t, jwtSection(iss)+`forward_auth:
  routes:
    - match: "GET /v1/account"          # any authenticated caller
    - match: "GET /v1/invoices"
      scopes: {all: [billing:read]}
    - match: "/admin/"
      scopes: {all: [admin]}
    - match: "/"
      public: true
`)
	return "http://" + startNginx(t, keyward, strings.TrimPrefix(api.URL, "http://"))
}

// TestNginxLooseReadings: issue 14 item 1 through nginx. Spellings of a
// path that an upstream may serve as a stricter route (case, Java's and
// Unicode's case mappings included, trailing slash either way, suffix),
// and other methods on the path of a route that names its method where the
// deciding route names none, are refused with 400 and never reach the API,
// with or without credentials; the canonical requests are answered as
// before.
func TestNginxLooseReadings(t *testing.T) {
	t.Parallel()
	nginxBinary(t)
	iss := keywardtest.NewIssuer(t)
	proxy := issueServe(t, iss)
	reader := map[string]string{"Authorization": "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})}
	local := clientFrom("127.0.0.1")
	for _, tt := range []struct {
		method, path string
		header       map[string]string
		status       int
	}{
		{"GET", "/v1/account", nil, 401},
		{"GET", "/v1/account", reader, 200},
		{"GET", "/v1/Account", nil, 400},
		{"GET", "/V1/ACCOUNT", nil, 400},
		{"GET", "/v1/account/", nil, 400},
		{"GET", "/v1/account.json", nil, 400},
		{"GET", "/v1/ACCOUNT.Json/", nil, 400},
		{"GET", "/v1/%41ccount", nil, 400},
		{"GET", "/v1/%E2%84%AAey", nil, 200}, // the Kelvin sign: /V1/KEY to a case-blind server, no route
		{"HEAD", "/v1/Account", nil, 400},
		{"GET", "/v1/Invoices", nil, 400},
		{"GET", "/v1/invoices", reader, 403},
		{"GET", "/admin", reader, 400},
		{"GET", "/Admin", reader, 400},
		{"GET", "/admin.json", reader, 400},
		{"GET", "/ADMIN/users", reader, 400},
		{"GET", "/admin/users", reader, 403},
		{"GET", "/", nil, 200},
		{"GET", "/index.html", nil, 200},
		// Java's equalsIgnoreCase takes ı and İ for i.
		{"GET", "/adm%C4%B1n/secret", nil, 400},
		{"GET", "/ADM%C4%B0N/SECRET", nil, 400},
		{"GET", "/v1/%C4%B1nvoices", nil, 400},
		{"GET", "/caf%C3%A9", nil, 200},
		// Servers that route without the method serve these as GET
		// /v1/account: "/" names none, and public, would let them through.
		{"POST", "/v1/account", nil, 400},
		{"PROPFIND", "/v1/account", nil, 400},
		{"OPTIONS", "/v1/account", map[string]string{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, 400},
		{"POST", "/", nil, 200},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			got := send(t, local, proxy, tt.method, tt.path, tt.header)
			if got.status != tt.status {
				t.Fatalf("status %d (body %v); want %d", got.status, got.body, tt.status)
			}
			if tt.status == 400 && tt.method != "HEAD" && (got.body["error"] != "invalid_request" || !strings.Contains(got.body["error_description"], "another route")) {
				t.Errorf("body %v; want invalid_request naming the loose reading", got.body)
			}
		})
	}
}
