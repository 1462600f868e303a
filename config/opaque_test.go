package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/syncbuf"
	"github.com/keyward/keyward/internal/testredis"
)

// The secret of the introspection endpoints of these tests, in
// testdata/config/introspect.secret.
const (
	introspectClient = "keyward-rs"
	introspectSecret = "keyward-rs-secret"
)

// introspector is an RFC 7662 introspection endpoint on 127.0.0.1 that
// knows the tokens put in active, authenticates its own client
// (keyward-rs, by Basic or by the form, as post says) and counts its calls.
type introspector struct {
	*httptest.Server
	issuer string
	post   bool // client_secret_post: the client authenticates in the form

	calls  atomic.Int64
	mu     sync.Mutex
	active map[string]map[string]any // token: the members of its answer
	bad    []string                  // what was wrong with calls, for the test to report
}

func newIntrospector(t *testing.T, issuer string, post bool) *introspector {
	in := &introspector{issuer: issuer, post: post, active: map[string]map[string]any{}}
	in.Server = httptest.NewServer(http.HandlerFunc(in.serve))
	t.Cleanup(in.Close)
	t.Cleanup(func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, b := range in.bad {
			t.Error("introspection endpoint: " + b)
		}
	})
	return in
}

// Endpoint is the introspection URL.
func (in *introspector) Endpoint() string { return in.URL + "/oauth/introspect" }

// Issue makes token known and active, with scope, for an hour.
func (in *introspector) Issue(token, scope string) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.active[token] = map[string]any{
		"active": true, "scope": scope, "client_id": "opaque-app", "sub": "opaque-app",
		"iss": in.issuer, "aud": "bookings-api", "token_type": "Bearer",
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
	}
}

func (in *introspector) serve(w http.ResponseWriter, r *http.Request) {
	in.calls.Add(1)
	fail := func(format string, args ...any) {
		in.mu.Lock()
		in.bad = append(in.bad, fmt.Sprintf(format, args...))
		in.mu.Unlock()
		http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/oauth/introspect" {
		fail("%s %s", r.Method, r.URL.Path)
		return
	}
	if err := r.ParseForm(); err != nil {
		fail("form: %v", err)
		return
	}
	id, secret, basic := r.BasicAuth()
	if in.post {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		if basic {
			fail("Basic with client_secret_post")
			return
		}
	}
	if id != introspectClient || secret != introspectSecret {
		w.Header().Set("WWW-Authenticate", `Basic realm="introspect"`)
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if hint := r.PostForm.Get("token_type_hint"); hint != "access_token" {
		fail("token_type_hint %q", hint)
	}
	in.mu.Lock()
	answer, ok := in.active[r.PostForm.Get("token")]
	in.mu.Unlock()
	if !ok {
		answer = map[string]any{"active": false}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}

// opaqueFile is a configuration file of mode jwt trusting issuer, whose
// tokens are all opaque, through the introspection endpoint of in, with
// the secret file of testdata/config; extra is appended at the top level.
func opaqueFile(t *testing.T, in *introspector, extra string) string {
	t.Helper()
	secret, err := filepath.Abs(filepath.Join(configDir, "introspect.secret"))
	if err != nil {
		t.Fatal(err)
	}
	method := "client_secret_basic"
	if in.post {
		method = "client_secret_post"
	}
	return fmt.Sprintf(`jwt:
  issuers:
    - issuer: %s
      audiences: [bookings-api]
      introspection:
        endpoint: %s
        client_id: %s
        client_secret_file: %s
        auth_method: %s
`, in.issuer, in.Endpoint(), introspectClient, secret, method) + extra
}

// newLogged loads the file at path with a logger at debug level and
// builds its Authenticator, closed when the test ends; the log is
// returned.
func newLogged(t *testing.T, path string) (*dualauth.Authenticator, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, err := config.Load(ctx, path, config.Options{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	return newFromConfig(t, cfg), logs
}

// TestFileOpaqueEndToEnd: a whole file builds an Authenticator that
// accepts an active opaque token, answered by a real introspection
// endpoint on loopback, with either client authentication; refuses an
// inactive one 401 invalid_token; and answers a token seen again from its
// cache. The logs at debug level show neither the
// secret nor a token.
func TestFileOpaqueEndToEnd(t *testing.T) {
	for _, post := range []bool{false, true} {
		t.Run(fmt.Sprintf("post=%v", post), func(t *testing.T) {
			in := newIntrospector(t, "https://auth.example.com", post)
			const token = "ory_at_s3cr3t-opaque-token"
			in.Issue(token, "bookings:read")
			path := writeConfig(t, t.TempDir(), opaqueFile(t, in, ""))
			a, logs := newLogged(t, path)

			p := wantCaller(t, a, bearerRequest(token), dualauth.MethodJWT, "opaque-app", "bookings:read")
			if !p.Introspected || p.Issuer != "https://auth.example.com" {
				t.Errorf("principal %+v: want introspected, of https://auth.example.com", p)
			}
			calls := in.calls.Load()
			if calls != 1 {
				t.Errorf("%d introspection calls for one token, want 1", calls)
			}
			wantCaller(t, a, bearerRequest(token), dualauth.MethodJWT, "opaque-app")
			if n := in.calls.Load(); n != calls {
				t.Errorf("a token seen again made %d more calls; the cache should answer", n-calls)
			}
			wantRefused(t, a, bearerRequest("ory_at_unknown-s3cr3t"), http.StatusUnauthorized, dualauth.CodeInvalidToken)
			if p.Scopes.Has("bookings:create") {
				t.Errorf("scopes %v: more than the endpoint's answer", p.Scopes)
			}
			for _, leak := range []string{introspectSecret, "s3cr3t"} {
				if strings.Contains(logs.String(), leak) {
					t.Errorf("the log shows %q:\n%s", leak, logs.String())
				}
			}
		})
	}
}

// TestFileOpaqueThrottle: in mode jwt, credentials.throttle bounds guessed
// opaque tokens per caller address, which is the forwarded address only
// behind a trusted proxy: once an address has spent its budget it is
// answered 429 with Retry-After without the endpoint being asked, while
// another address still is, and a known token from a fresh address passes.
func TestFileOpaqueThrottle(t *testing.T) {
	in := newIntrospector(t, "https://auth.example.com", false)
	in.Issue("good-token", "bookings:read")
	path := writeConfig(t, t.TempDir(), opaqueFile(t, in, `credentials:
  trusted_proxies: [127.0.0.1]
  throttle:
    max_client_failures: 3
    max_address_failures: 3
    window: 1h
`))
	cfg := loadConfig(t, path)
	a := newFromConfig(t, cfg.Config)
	// from sends token from peer, forwarding xff if not empty.
	from := func(peer, xff, token string) *http.Request {
		r := bearerRequest(token)
		r.RemoteAddr = peer + ":40000"
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return r
	}
	guess := 0
	next := func() string { guess++; return fmt.Sprintf("guess-%d", guess) }
	for range 3 {
		wantRefused(t, a, from("127.0.0.1", "198.51.100.7", next()), http.StatusUnauthorized, dualauth.CodeInvalidToken)
	}
	calls := in.calls.Load()
	_, err := a.Authenticate(from("127.0.0.1", "198.51.100.7", next()))
	e := asError(t, err)
	if e.Status != http.StatusTooManyRequests || e.RetryAfter <= 0 {
		t.Fatalf("the 4th guess from 198.51.100.7: %d %q, Retry-After %v; want 429 with Retry-After", e.Status, e.Code, e.RetryAfter)
	}
	if n := in.calls.Load(); n != calls {
		t.Errorf("a throttled guess called the endpoint (%d calls)", n-calls)
	}
	// The proxy's other clients, and the same forwarded address from a peer
	// that is not a trusted proxy (counted as that peer), are not held back.
	wantRefused(t, a, from("127.0.0.1", "198.51.100.8", next()), http.StatusUnauthorized, dualauth.CodeInvalidToken)
	wantRefused(t, a, from("203.0.113.9", "198.51.100.7", next()), http.StatusUnauthorized, dualauth.CodeInvalidToken)
	wantCaller(t, a, from("127.0.0.1", "198.51.100.9", "good-token"), dualauth.MethodJWT, "opaque-app", "bookings:read")
	// The throttled address stays throttled, whatever it sends.
	_, err = a.Authenticate(from("127.0.0.1", "198.51.100.7", next()))
	if e := asError(t, err); e.Status != http.StatusTooManyRequests {
		t.Errorf("a later guess from 198.51.100.7: %d, want 429", e.Status)
	}
}

// asError is err as a *dualauth.Error.
func asError(t *testing.T, err error) *dualauth.Error {
	t.Helper()
	var e *dualauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *dualauth.Error", err, err)
	}
	return e
}

// TestFileOpaqueSample builds testdata/config/opaque.yaml, pointed at a
// real introspection endpoint, and accepts an opaque token with it: the
// secret file is found next to the sample and sent as keyward-rs's.
func TestFileOpaqueSample(t *testing.T) {
	in := newIntrospector(t, "", false)
	in.issuer = in.URL
	in.Issue("opaque-sample-token", "bookings:read")
	data, err := os.ReadFile(filepath.Join(configDir, "opaque.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(in.URL)
	text := strings.ReplaceAll(string(data), "http://127.0.0.1:9000", "http://"+u.Host)
	dir := t.TempDir()
	path := writeConfig(t, dir, text)
	secret, err := os.ReadFile(filepath.Join(configDir, "introspect.secret"))
	if err != nil {
		t.Fatal(err)
	}
	writeSecret(t, dir, "introspect.secret", string(secret))
	cfg := loadConfig(t, path)
	if cfg.JWT.Issuers[0].Keys != nil {
		t.Errorf("key set %T for an issuer of opaque tokens only", cfg.JWT.Issuers[0].Keys)
	}
	a := newFromConfig(t, cfg.Config)
	wantCaller(t, a, bearerRequest("opaque-sample-token"), dualauth.MethodJWT, "opaque-app", "bookings:read")
}

// TestFileOpaqueSharesRedis: in mode dual with credentials.throttle.redis,
// guessed opaque tokens and wrong client secrets from one address spend one
// address budget, in Redis, across replicas: two wrong secrets on one
// Authenticator and a guessed token on another built from the same file
// spend a budget of three, and both then answer that address 429.
func TestFileOpaqueSharesRedis(t *testing.T) {
	redis := testredis.Start(t, false)
	in := newIntrospector(t, "https://auth.example.com", false)
	clientsFile, err := filepath.Abs(testClientsFile)
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, t.TempDir(), "mode: dual\n"+opaqueFile(t, in, `credentials:
  clients_file: `+clientsFile+`
  throttle:
    max_address_failures: 3
    window: 1h
    redis: {url: "`+redis.URL()+`", timeout: 2s}   # a loaded CI machine: 100ms can time out
`))
	one := newFromConfig(t, loadConfig(t, path).Config)
	two := newFromConfig(t, loadConfig(t, path).Config)
	at := func(r *http.Request) *http.Request { r.RemoteAddr = "198.51.100.7:40000"; return r }
	wantRefused(t, one, at(headerRequest("acme", "wrong-1")), http.StatusUnauthorized, dualauth.CodeInvalidClient)
	wantRefused(t, one, at(headerRequest("globex", "wrong-2")), http.StatusUnauthorized, dualauth.CodeInvalidClient)
	wantRefused(t, two, at(bearerRequest("guess-1")), http.StatusUnauthorized, dualauth.CodeInvalidToken)
	calls := in.calls.Load()
	for name, a := range map[string]*dualauth.Authenticator{"one": one, "two": two} {
		_, err := a.Authenticate(at(bearerRequest("guess-2")))
		if e := asError(t, err); e.Status != http.StatusTooManyRequests {
			t.Errorf("%s: a guess over the shared budget: %d %q, want 429", name, e.Status, e.Code)
		}
		_, err = a.Authenticate(at(headerRequest("acme", "wrong-3")))
		if e := asError(t, err); e.Status != http.StatusTooManyRequests {
			t.Errorf("%s: a wrong secret over the shared budget: %d %q, want 429", name, e.Status, e.Code)
		}
	}
	if n := in.calls.Load() - calls; n != 0 {
		t.Errorf("throttled guesses made %d introspection calls", n)
	}
}

// TestFileOpaqueEndpointDown: an introspection endpoint that cannot be
// reached answers an opaque token 503 temporarily_unavailable with
// Retry-After, never 401; what is logged names the issuer and shows
// neither the endpoint's query values, the client secret nor the token.
func TestFileOpaqueEndpointDown(t *testing.T) {
	in := newIntrospector(t, "https://auth.example.com", false)
	in.Close() // nothing answers
	text := strings.Replace(opaqueFile(t, in, ""), "/oauth/introspect", "/oauth/introspect?tenant=secretq", 1)
	path := writeConfig(t, t.TempDir(), text)
	a, logs := newLogged(t, path)
	_, err := a.Authenticate(bearerRequest("s3cr3t-opaque-token"))
	if e := asError(t, err); e.Status != http.StatusServiceUnavailable || e.Code != dualauth.CodeTemporarilyUnavailable || e.RetryAfter <= 0 {
		t.Fatalf("endpoint down: %d %q, Retry-After %v; want 503 temporarily_unavailable with Retry-After", e.Status, e.Code, e.RetryAfter)
	}
	out := logs.String()
	if !strings.Contains(out, "https://auth.example.com") {
		t.Errorf("no log names the issuer:\n%s", out)
	}
	for _, leak := range []string{"secretq", introspectSecret, "s3cr3t"} {
		if strings.Contains(out, leak) || strings.Contains(err.Error(), leak) {
			t.Errorf("the log or the error shows %q:\n%s\n%v", leak, out, err)
		}
	}
}
