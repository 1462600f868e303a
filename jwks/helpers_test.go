package jwks_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// guard bounds every wait in these tests; it is a hang guard, not a timing
// assertion.
const guard = 10 * time.Second

// Keys are generated once per test binary; RSA generation is slow under -race.
var (
	rsaA    = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsaB    = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsaC    = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsa1024 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(1024) })
	ecP256  = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P256()) })
	ecP384  = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P384()) })
	ecP521  = sync.OnceValue(func() *ecdsa.PrivateKey { return mustEC(elliptic.P521()) })
	edKey   = sync.OnceValue(func() ed25519.PrivateKey {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func mustEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// jwk describes one key of a test JWK Set.
type jwk struct {
	key     any // public or private key, or []byte for oct
	kid     string
	alg     jwkset.ALG
	use     jwkset.USE
	keyOps  []jwkset.KEYOPS
	private bool // publish private material too
}

// jwksJSON builds a JWK Set document with jwkset.
func jwksJSON(t testing.TB, keys ...jwk) []byte {
	t.Helper()
	var set jwkset.JWKSMarshal
	set.Keys = []jwkset.JWKMarshal{}
	for _, k := range keys {
		key := k.key
		if s, ok := key.(crypto.Signer); ok && !k.private {
			key = s.Public()
		}
		j, err := jwkset.NewJWKFromKey(key, jwkset.JWKOptions{
			Marshal:  jwkset.JWKMarshalOptions{Private: k.private},
			Metadata: jwkset.JWKMetadataOptions{KID: k.kid, ALG: k.alg, USE: k.use, KEYOPS: k.keyOps},
		})
		if err != nil {
			t.Fatalf("jwk %q: %v", k.kid, err)
		}
		set.Keys = append(set.Keys, j.Marshal())
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rawSet builds a JWK Set document whose members are given as jwk values
// (built with jwkset) or as raw maps, which may be invalid JWKs.
func rawSet(t testing.TB, members ...any) []byte {
	t.Helper()
	out := make([]json.RawMessage, 0, len(members))
	for _, m := range members {
		var b []byte
		if k, ok := m.(jwk); ok {
			var set struct{ Keys []json.RawMessage }
			if err := json.Unmarshal(jwksJSON(t, k), &set); err != nil {
				t.Fatal(err)
			}
			b = set.Keys[0]
		} else {
			var err error
			if b, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, b)
	}
	b, err := json.Marshal(map[string]any{"keys": out})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign returns a compact JWT signed with key; kid "" leaves the header out.
func sign(t testing.TB, m jwt.SigningMethod, key any, kid string) string {
	t.Helper()
	return signHeader(t, m, key, kid, nil)
}

func signHeader(t testing.TB, m jwt.SigningMethod, key any, kid string, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

// verify parses and verifies a token against set.
func verify(set jwks.Set, token string) error {
	_, err := jwt.Parse(token, set.Keyfunc(context.Background()))
	return err
}

// idp is a fake issuer on 127.0.0.1 whose routes the tests switch at will.
// Every request is counted and signalled on hits (path) before it is served.
type idp struct {
	srv     *httptest.Server
	hits    chan string
	n       atomic.Int64
	release chan struct{} // closed at cleanup to free hanging handlers

	mu     sync.Mutex
	routes map[string]http.HandlerFunc
}

func newIDP(t testing.TB) *idp {
	t.Helper()
	p := &idp{hits: make(chan string, 4096), release: make(chan struct{}), routes: map[string]http.HandlerFunc{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	t.Cleanup(func() { close(p.release) }) // runs before srv.Close
	return p
}

func (p *idp) serve(w http.ResponseWriter, r *http.Request) {
	p.n.Add(1)
	select {
	case p.hits <- r.URL.Path:
	default:
	}
	p.mu.Lock()
	h := p.routes[r.URL.Path]
	p.mu.Unlock()
	if h == nil {
		http.NotFound(w, r)
		return
	}
	h(w, r)
}

func (p *idp) handle(path string, h http.HandlerFunc) {
	p.mu.Lock()
	p.routes[path] = h
	p.mu.Unlock()
}

func (p *idp) serveJSON(path string, body []byte) {
	p.handle(path, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// hang makes path block until the client goes away or the test ends; each
// hanging request is announced on started.
func (p *idp) hang(path string, started chan<- struct{}) {
	p.handle(path, func(_ http.ResponseWriter, r *http.Request) {
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-p.release:
		}
	})
}

func (p *idp) url(path string) string { return p.srv.URL + path }

// waitHit waits for the next request to path.
func waitHit(t *testing.T, p *idp, path string) {
	t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case got := <-p.hits:
			if got == path {
				return
			}
		case <-deadline:
			t.Fatalf("no request to %s within %v", path, guard)
		}
	}
}

func drainHits(p *idp) {
	for {
		select {
		case <-p.hits:
		default:
			return
		}
	}
}

// logSink is a slog.Handler that passes record messages to a channel, so a
// test can wait for "jwks: keys loaded" instead of sleeping. It also counts
// records by message: records logged on the caller's goroutine (such as
// "jwks: refresh requested" from Keyfunc) are counted when the call returns.
type logSink struct {
	ch      chan string
	mu      sync.Mutex
	counts  map[string]int
	records []string
}

func newLogSink() *logSink { return &logSink{ch: make(chan string, 4096), counts: map[string]int{}} }

// count is the number of records with message msg so far.
func (s *logSink) count(msg string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[msg]
}

// all returns every record so far, with its attributes.
func (s *logSink) all() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.records)
}

func (s *logSink) Enabled(context.Context, slog.Level) bool { return true }
func (s *logSink) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.Key + "=" + a.Value.String())
		return true
	})
	s.mu.Lock()
	s.counts[r.Message]++
	s.records = append(s.records, b.String())
	s.mu.Unlock()
	select {
	case s.ch <- b.String():
	default:
	}
	return nil
}
func (s *logSink) WithAttrs([]slog.Attr) slog.Handler { return s }
func (s *logSink) WithGroup(string) slog.Handler      { return s }
func (s *logSink) logger() *slog.Logger               { return slog.New(s) }

func (s *logSink) drain() {
	for {
		select {
		case <-s.ch:
		default:
			return
		}
	}
}

// wait returns the first record whose text starts with prefix.
func (s *logSink) wait(t *testing.T, prefix string) string {
	t.Helper()
	deadline := time.After(guard)
	for {
		select {
		case m := <-s.ch:
			if strings.HasPrefix(m, prefix) {
				return m
			}
		case <-deadline:
			t.Fatalf("no log record %q within %v", prefix, guard)
			return ""
		}
	}
}

// fakeClock is a settable clock for Options.Now.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newRemote creates a Remote that is closed at the end of the test.
func newRemote(t *testing.T, url string, o jwks.Options) *jwks.Remote {
	t.Helper()
	r, err := jwks.NewRemote(context.Background(), url, o)
	if err != nil {
		t.Fatalf("NewRemote(%s): %v", url, err)
	}
	t.Cleanup(r.Close)
	return r
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func wantOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

// runGoroutines reports how many goroutines are running Remote.run.
func runGoroutines() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	return strings.Count(string(buf), "jwks.(*Remote).run(")
}

// within fails the test if f does not return within the hang guard. f runs
// on another goroutine, so it must not call t.Fatal; it records results for
// the caller to check.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(guard):
		t.Fatalf("%s did not return within %v", what, guard)
	}
}

// recv waits for a signal on ch, failing after the hang guard.
func recv(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(guard):
		t.Fatalf("no %s within %v", what, guard)
	}
}

// waitFor polls cond until it holds, failing after the hang guard. Between
// polls it yields and pauses briefly: the conditions it waits for (goroutines
// ending, connections closing) signal nothing a test could wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(guard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
}

// algKID returns the "alg" and "kid" of tok's header ("" when absent), as
// a verifier passes them to Key.
func algKID(tok *jwt.Token) (alg, kid string) {
	alg, _ = tok.Header["alg"].(string)
	kid, _ = tok.Header["kid"].(string)
	return alg, kid
}
