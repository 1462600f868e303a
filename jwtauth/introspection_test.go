package jwtauth_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/syncbuf"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
)

// This API's credentials at the endpoints of these tests: the secret has
// characters RFC 6749 §2.3.1 form-encodes in HTTP Basic.
const (
	rsClientID = "keyward rs:1"
	rsSecret   = "s3cr:et/+ %é&x="
	issuerURL  = "https://auth.example.com"
	audience   = "bookings-api"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// received is what an endpoint was sent.
type received struct {
	form         url.Values
	basicID      string // decoded as RFC 6749 §2.3.1 asks
	basicSecret  string
	rawBasicUser string // as sent, still form-encoded
	accept       string
}

// endpoint is an RFC 7662 introspection endpoint on 127.0.0.1 that knows
// some active tokens, checks this API's credentials, and records what it
// is sent. answer, if set, answers instead.
type endpoint struct {
	srv   *httptest.Server
	calls atomic.Int64

	mu     sync.Mutex
	active map[string]map[string]any // token → the members of its answer besides active
	answer func(w http.ResponseWriter, r *http.Request, token string)
	got    []received
}

func newEndpoint(t testing.TB) *endpoint {
	e := &endpoint{active: map[string]map[string]any{}}
	e.srv = httptest.NewServer(http.HandlerFunc(e.serve))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) serve(w http.ResponseWriter, r *http.Request) {
	e.calls.Add(1)
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	got := received{form: r.PostForm, accept: r.Header.Get("Accept")}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		got.rawBasicUser = user
		id, _ = url.QueryUnescape(user)
		secret, _ = url.QueryUnescape(pass)
		got.basicID, got.basicSecret = id, secret
	}
	e.mu.Lock()
	e.got = append(e.got, got)
	answer, members := e.answer, e.active[r.PostForm.Get("token")]
	e.mu.Unlock()
	if id != rsClientID || secret != rsSecret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	if answer != nil {
		answer(w, r, r.PostForm.Get("token"))
		return
	}
	out := map[string]any{"active": members != nil}
	for k, v := range members {
		out[k] = v
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

func (e *endpoint) add(token string, members map[string]any) {
	e.mu.Lock()
	e.active[token] = members
	e.mu.Unlock()
}

func (e *endpoint) setAnswer(f func(w http.ResponseWriter, r *http.Request, token string)) {
	e.mu.Lock()
	e.answer = f
	e.mu.Unlock()
}

func (e *endpoint) received() []received {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]received(nil), e.got...)
}

// goodAnswer is what an endpoint says of a good token at now.
func goodAnswer(now time.Time) map[string]any {
	return map[string]any{
		"scope": "bookings:read bookings:write", "client_id": "app-7", "sub": "user-1",
		"iss": issuerURL, "aud": audience, "exp": now.Add(10 * time.Minute).Unix(),
		"iat": now.Unix(), "token_type": "Bearer", "tenant": "acme",
	}
}

// setup is a Verifier whose issuer introspects at an endpoint.
type setup struct {
	clock *fakeClock
	ep    *endpoint
	logs  *syncbuf.Buffer
	v     *jwtauth.Verifier
}

// newSetup builds a Verifier for issuerURL introspecting at a new
// endpoint, with edit applied to its Config.
func newSetup(t testing.TB, edit func(*jwtauth.Config)) *setup {
	t.Helper()
	s := &setup{clock: newClock(), ep: newEndpoint(t), logs: &syncbuf.Buffer{}}
	cfg := jwtauth.Config{
		Issuers: []jwtauth.Issuer{{Issuer: issuerURL, Audiences: []string{audience}, Introspection: &jwtauth.Introspection{
			Endpoint: s.ep.srv.URL + "/introspect?tenant=secretvalue", ClientID: rsClientID, ClientSecret: rsSecret,
		}}},
		Now:    s.clock.Now,
		Logger: slog.New(slog.NewTextHandler(s.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := jwtauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	s.v = v
	return s
}

// verify checks raw with the Verifier as dualauth would for an unknown
// address, and returns the caller or the refusal.
func (s *setup) verify(t *testing.T, raw string) (*dualauth.Principal, *dualauth.Error) {
	t.Helper()
	p, _, err := s.v.VerifyToken(context.Background(), raw, dualauth.Origin{})
	return p, asRefusal(t, err)
}

func asRefusal(t *testing.T, err error) *dualauth.Error {
	t.Helper()
	if err == nil {
		return nil
	}
	var e *dualauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v, want a *dualauth.Error", err, err)
	}
	if e.Status >= 500 && e.Status != http.StatusServiceUnavailable {
		t.Fatalf("status %d: never a 500", e.Status)
	}
	return e
}

// noSecrets fails if the logs hold the token or this API's secret.
func (s *setup) noSecrets(t *testing.T, token string) {
	t.Helper()
	logs := s.logs.String()
	for _, secret := range []string{token, rsSecret, url.QueryEscape(rsSecret), "secretvalue"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the logs hold a secret %q:\n%s", secret, logs)
		}
	}
}

const opaque = "ory_at_Zx4pQ1mV8w.TaG7kP9s2LqW" // Hydra's shape: one dot, no JOSE header

// TestIntrospectionAnswers: an active answer is the caller, with its
// scopes, ids, exp and members; every other answer, and every misbehaving
// endpoint, is refused: 401 invalid_token for a token that is not good,
// 503 temporarily_unavailable with Retry-After (and an error log naming
// the issuer, never the token or the secret) when the endpoint cannot say.
func TestIntrospectionAnswers(t *testing.T) {
	json := func(members map[string]any) func(w http.ResponseWriter, r *http.Request, token string) {
		return func(w http.ResponseWriter, _ *http.Request, _ string) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(members)
		}
	}
	with := func(now time.Time, edits map[string]any) map[string]any {
		m := goodAnswer(now)
		m["active"] = true
		for k, v := range edits {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	status := func(code int, body string) func(w http.ResponseWriter, r *http.Request, token string) {
		return func(w http.ResponseWriter, _ *http.Request, _ string) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = io.WriteString(w, body)
		}
	}
	now := newClock().Now()
	for _, tt := range []struct {
		name     string
		answer   func(w http.ResponseWriter, r *http.Request, token string)
		status   int
		describe string // a part of the refusal's description
	}{
		{"active", json(with(now, nil)), http.StatusOK, ""},
		{"aud array naming this API", json(with(now, map[string]any{"aud": []string{"other", audience}})), http.StatusOK, ""},
		{"no iss, aud nor exp", json(with(now, map[string]any{"iss": nil, "aud": nil, "exp": nil})), http.StatusOK, ""},
		{"inactive", json(map[string]any{"active": false}), http.StatusUnauthorized, "not active"},
		{"active missing", json(with(now, map[string]any{"active": nil})), http.StatusUnauthorized, "not active"},
		{"active a string", json(with(now, map[string]any{"active": "true"})), http.StatusUnauthorized, "not active"},
		{"wrong iss", json(with(now, map[string]any{"iss": "https://evil.example"})), http.StatusUnauthorized, "issuer is not trusted"},
		{"wrong aud", json(with(now, map[string]any{"aud": []string{"other-api"}})), http.StatusUnauthorized, "not meant for this API"},
		{"expired past the leeway", json(with(now, map[string]any{"exp": now.Add(-time.Minute).Unix()})), http.StatusUnauthorized, "expired"},
		{"not valid yet", json(with(now, map[string]any{"nbf": now.Add(time.Hour).Unix()})), http.StatusUnauthorized, "not valid yet"},
		{"bound to a key", json(with(now, map[string]any{"cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})), http.StatusUnauthorized, "bound to a key"},
		{"scope not a string", json(with(now, map[string]any{"scope": 7})), http.StatusUnauthorized, "scope"},
		{"active twice, the last true", status(http.StatusOK, `{"active":false,"active":true,"sub":"user-1","scope":"bookings:read"}`), http.StatusUnauthorized, "malformed"},
		{"endpoint refuses our credentials (401)", status(http.StatusUnauthorized, `{"error":"invalid_client"}`), http.StatusServiceUnavailable, "cannot be checked"},
		{"endpoint forbids (403)", status(http.StatusForbidden, `{}`), http.StatusServiceUnavailable, "cannot be checked"},
		{"endpoint fails (500)", status(http.StatusInternalServerError, `oops`), http.StatusServiceUnavailable, "cannot be checked"},
		{"endpoint unavailable (503)", status(http.StatusServiceUnavailable, ``), http.StatusServiceUnavailable, "cannot be checked"},
		{"redirect", func(w http.ResponseWriter, r *http.Request, _ string) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}, http.StatusServiceUnavailable, "cannot be checked"},
		{"not JSON", status(http.StatusOK, `<html>hello</html>`), http.StatusServiceUnavailable, "cannot be checked"},
		{"a JSON array", status(http.StatusOK, `[{"active":true}]`), http.StatusServiceUnavailable, "cannot be checked"},
		{"huge", status(http.StatusOK, `{"active":true,"pad":"`+strings.Repeat("x", 1<<20)+`"}`), http.StatusServiceUnavailable, "cannot be checked"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSetup(t, nil)
			s.ep.setAnswer(tt.answer)
			p, e := s.verify(t, opaque)
			if s.ep.calls.Load() != 1 {
				t.Fatalf("the endpoint was called %d times, want 1", s.ep.calls.Load())
			}
			s.noSecrets(t, opaque)
			if tt.status == http.StatusOK {
				if e != nil {
					t.Fatalf("refused: %v (%v)", e, e.Err)
				}
				if !p.Introspected || p.Subject != "user-1" || p.ClientID != "app-7" || p.Issuer != issuerURL ||
					!p.Scopes.Has("bookings:write") || !p.Scopes.Has("bookings:read") {
					t.Fatalf("principal %+v", p)
				}
				if tenant, _ := p.Claim("tenant"); tenant != "acme" {
					t.Fatalf("claim tenant = %v, want the answer's member", tenant)
				}
				return
			}
			if e == nil {
				t.Fatalf("accepted %+v, want %d", p, tt.status)
			}
			if e.Status != tt.status || !strings.Contains(e.Description, tt.describe) {
				t.Fatalf("refusal %d %q (%v), want %d with %q", e.Status, e.Description, e.Err, tt.status, tt.describe)
			}
			switch tt.status {
			case http.StatusUnauthorized:
				if e.Code != dualauth.CodeInvalidToken {
					t.Fatalf("code %q, want invalid_token", e.Code)
				}
			case http.StatusServiceUnavailable:
				if e.Code != dualauth.CodeTemporarilyUnavailable || e.RetryAfter <= 0 {
					t.Fatalf("code %q Retry-After %v, want temporarily_unavailable with a Retry-After", e.Code, e.RetryAfter)
				}
				if logs := s.logs.String(); !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, issuerURL) {
					t.Fatalf("no error log naming the issuer:\n%s", logs)
				}
			}
		})
	}
}

// TestIntrospectionSlowEndpoint: an endpoint that does not answer within
// the timeout is answered 503, not waited for.
func TestIntrospectionSlowEndpoint(t *testing.T) {
	release := make(chan struct{})
	s := newSetup(t, func(c *jwtauth.Config) { c.Issuers[0].Introspection.Timeout = 50 * time.Millisecond })
	t.Cleanup(func() { close(release) }) // before the server closes: cleanups run last first
	s.ep.setAnswer(func(http.ResponseWriter, *http.Request, string) { <-release })
	_, e := s.verify(t, opaque)
	if e == nil || e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 {
		t.Fatalf("refusal %v, want 503 with Retry-After", e)
	}
	if !strings.Contains(s.logs.String(), "timed out") {
		t.Fatalf("the log does not say it timed out:\n%s", s.logs.String())
	}
	s.noSecrets(t, opaque)
}

// TestIntrospectionClientAuth: the token goes in the form with its type
// hint, and this API's credentials in HTTP Basic, each form-encoded
// (RFC 6749 §2.3.1), or in the form with client_secret_post; a signed
// answer is asked for only when the issuer has keys.
func TestIntrospectionClientAuth(t *testing.T) {
	for _, method := range []string{"", jwtauth.ClientSecretBasic, jwtauth.ClientSecretPost} {
		t.Run("method="+method, func(t *testing.T) {
			s := newSetup(t, func(c *jwtauth.Config) { c.Issuers[0].Introspection.AuthMethod = method })
			s.ep.add(opaque, goodAnswer(s.clock.Now()))
			if _, e := s.verify(t, opaque); e != nil {
				t.Fatalf("refused: %v (%v)", e, e.Err)
			}
			got := s.ep.received()
			if len(got) != 1 {
				t.Fatalf("%d calls", len(got))
			}
			r := got[0]
			if r.form.Get("token") != opaque || r.form.Get("token_type_hint") != "access_token" || r.accept != "application/json" {
				t.Fatalf("form %v, Accept %q", r.form, r.accept)
			}
			if method == jwtauth.ClientSecretPost {
				if r.form.Get("client_id") != rsClientID || r.form.Get("client_secret") != rsSecret || r.rawBasicUser != "" {
					t.Fatalf("post: form %v, Basic user %q", r.form, r.rawBasicUser)
				}
				return
			}
			if r.basicID != rsClientID || r.basicSecret != rsSecret || r.rawBasicUser != url.QueryEscape(rsClientID) || r.form.Has("client_secret") {
				t.Fatalf("basic: id %q secret %q raw user %q form %v", r.basicID, r.basicSecret, r.rawBasicUser, r.form)
			}
		})
	}
}

// TestIntrospectionCache: an active answer is reused until the maximum
// TTL or the token's exp, whichever comes first; an inactive one for the
// negative TTL; at the bound the oldest answer goes; a disabled cache asks
// every time.
func TestIntrospectionCache(t *testing.T) {
	t.Run("max TTL", func(t *testing.T) {
		s := newSetup(t, func(c *jwtauth.Config) { c.Issuers[0].Introspection.Cache.MaxTTL = 2 * time.Minute })
		s.ep.add(opaque, goodAnswer(s.clock.Now())) // exp in 10 minutes
		s.expectCalls(t, opaque, 1, false)
		s.clock.Advance(2*time.Minute - time.Second)
		s.expectCalls(t, opaque, 1, true)
		s.clock.Advance(time.Second)
		s.expectCalls(t, opaque, 2, false)
		if _, cache := s.v.IntrospectionStatus(); cache.Hits != 1 || cache.Entries != 1 {
			t.Fatalf("cache status %+v", cache)
		}
	})
	t.Run("never past exp", func(t *testing.T) {
		s := newSetup(t, func(c *jwtauth.Config) { c.Leeway = jwtauth.NoLeeway })
		m := goodAnswer(s.clock.Now())
		m["exp"] = s.clock.Now().Add(time.Minute).Unix()
		s.ep.add(opaque, m)
		s.expectCalls(t, opaque, 1, false)
		s.clock.Advance(time.Minute - time.Second)
		s.expectCalls(t, opaque, 1, true)
		s.clock.Advance(time.Second)
		if _, e := s.verify(t, opaque); e == nil || e.Status != http.StatusUnauthorized || s.ep.calls.Load() != 2 {
			t.Fatalf("at exp: %v after %d calls, want 401 from a new call", e, s.ep.calls.Load())
		}
	})
	t.Run("negative TTL", func(t *testing.T) {
		s := newSetup(t, func(c *jwtauth.Config) { c.Issuers[0].Introspection.Cache.NegativeTTL = 30 * time.Second })
		for i, want := range []int64{1, 1} {
			if _, e := s.verify(t, opaque); e == nil || e.Status != http.StatusUnauthorized || s.ep.calls.Load() != want {
				t.Fatalf("try %d: %v after %d calls, want 401 after %d", i, e, s.ep.calls.Load(), want)
			}
		}
		s.ep.add(opaque, goodAnswer(s.clock.Now())) // activated meanwhile
		s.clock.Advance(30 * time.Second)
		s.expectCalls(t, opaque, 2, false)
	})
	t.Run("bound", func(t *testing.T) {
		s := newSetup(t, func(c *jwtauth.Config) { c.Issuers[0].Introspection.Cache.MaxEntries = 2 })
		for _, tok := range []string{"tok-a", "tok-b", "tok-c"} {
			s.ep.add(tok, goodAnswer(s.clock.Now()))
			s.expectCalls(t, tok, s.ep.calls.Load()+1, false)
		}
		s.expectCalls(t, "tok-c", 3, true)
		s.expectCalls(t, "tok-a", 4, false) // pushed out by tok-c
		if _, cache := s.v.IntrospectionStatus(); cache.Entries != 2 || cache.Evictions != 2 {
			t.Fatalf("cache status %+v, want 2 entries after 2 evictions", cache)
		}
	})
	t.Run("scopes are each caller's own", func(t *testing.T) {
		s := newSetup(t, nil)
		s.ep.add(opaque, goodAnswer(s.clock.Now()))
		p, _ := s.verify(t, opaque)
		p.Scopes[0] = "admin" // a handler's doing
		if again, _ := s.verify(t, opaque); again.Scopes.Has("admin") || s.ep.calls.Load() != 1 {
			t.Fatalf("the cached answer's scopes changed: %v", again.Scopes)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		s := newSetup(t, func(c *jwtauth.Config) { c.Issuers[0].Introspection.Cache.Disabled = true })
		s.ep.add(opaque, goodAnswer(s.clock.Now()))
		s.expectCalls(t, opaque, 1, false)
		s.expectCalls(t, opaque, 2, false)
	})
}

// expectCalls verifies raw, which must pass, and checks the endpoint's
// calls so far and whether the cache answered.
func (s *setup) expectCalls(t *testing.T, raw string, calls int64, cached bool) {
	t.Helper()
	p, hit, err := s.v.VerifyToken(context.Background(), raw, dualauth.Origin{})
	if e := asRefusal(t, err); e != nil {
		t.Fatalf("refused: %v (%v)", e, e.Err)
	}
	if !p.Introspected || hit != cached || s.ep.calls.Load() != calls {
		t.Fatalf("introspected %v, cached %v after %d calls; want cached %v after %d", p.Introspected, hit, s.ep.calls.Load(), cached, calls)
	}
}

// guardedSetup is a setup whose failures a clientauth.Guard of th counts,
// in an Authenticator, with opaque an active token.
func guardedSetup(t *testing.T, th clientauth.Throttle) (*setup, *dualauth.Authenticator) {
	t.Helper()
	guard, err := clientauth.NewGuard(th, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := newSetup(t, func(c *jwtauth.Config) { c.Throttle = guard })
	a, err := dualauth.New(dualauth.Config{Tokens: s.v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	s.ep.add(opaque, goodAnswer(s.clock.Now()))
	return s, a
}

// TestIntrospectionCoalescing: 100 concurrent requests from one address
// with one new token make one call and all pass, though only 4 checks of
// an address may be counted at once; a follower gets the answer even when
// the request that made the call went away.
func TestIntrospectionCoalescing(t *testing.T) {
	s, a := guardedSetup(t, clientauth.Throttle{})
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s.ep.setAnswer(func(w http.ResponseWriter, r *http.Request, token string) {
		once.Do(func() { close(entered) })
		<-release
		w.Header().Set("Content-Type", "application/json")
		m := goodAnswer(s.clock.Now())
		m["active"] = true
		_ = json.NewEncoder(w).Encode(m)
	})

	// The request that makes the call goes away; one that joined it stays.
	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() { _, err := a.Verify(leaderCtx, opaque, "192.0.2.9:1"); leaderDone <- err }()
	<-entered
	const n = 100
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range n {
		wg.Go(func() {
			if _, err := a.Verify(context.Background(), opaque, "192.0.2.9:2"); err != nil {
				failures.Add(1)
				t.Errorf("a follower: %v", err)
			}
		})
	}
	cancelLeader()
	if e := asRefusal(t, <-leaderDone); e == nil || e.Status != http.StatusServiceUnavailable {
		t.Fatalf("the leader that went away: %v, want 503", e)
	}
	close(release)
	wg.Wait()
	if calls := s.ep.calls.Load(); calls != 1 || failures.Load() != 0 {
		t.Fatalf("%d calls, %d failures; want 1 call and none", calls, failures.Load())
	}
	if requests, _ := s.v.IntrospectionStatus(); requests["active"] != 1 {
		t.Fatalf("requests %v", requests)
	}
}

// TestIntrospectionThrottle: opaque tokens the endpoint does not know
// count against the caller's address: once its budget is spent it is
// answered 429 without a call, while other addresses and a known token
// from another address still pass; a remembered refusal costs nothing.
func TestIntrospectionThrottle(t *testing.T) {
	s, a := guardedSetup(t, clientauth.Throttle{MaxClientFailures: 1, MaxAddrFailures: 3}) // guesses spend the address budget alone
	try := func(token, addr string) int {
		t.Helper()
		_, err := a.Verify(context.Background(), token, addr+":1")
		if e := asRefusal(t, err); e != nil {
			return e.Status
		}
		return http.StatusOK
	}
	for i := range 3 {
		if got := try(fmt.Sprintf("guess-%d", i), "192.0.2.1"); got != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d, want 401", i, got)
		}
	}
	if got := try("guess-0", "192.0.2.1"); got != http.StatusUnauthorized || s.ep.calls.Load() != 3 {
		t.Fatalf("a refusal remembered: %d after %d calls, want 401 without a call", got, s.ep.calls.Load())
	}
	if got := try("guess-3", "192.0.2.1"); got != http.StatusTooManyRequests || s.ep.calls.Load() != 3 {
		t.Fatalf("after the budget: %d after %d calls, want 429 without a call", got, s.ep.calls.Load())
	}
	if got := try("guess-4", "192.0.2.2"); got != http.StatusUnauthorized {
		t.Fatalf("another address: %d, want 401", got)
	}
	if got := try(opaque, "192.0.2.2"); got != http.StatusOK {
		t.Fatalf("a good token: %d, want 200", got)
	}
	if requests, _ := s.v.IntrospectionStatus(); requests["throttled"] != 1 || requests["inactive"] != 4 || requests["active"] != 1 {
		t.Fatalf("requests %v", requests)
	}
}

// TestIntrospectionRouting: with several issuers introspecting, an opaque
// token goes only to the endpoint whose prefix it has, one with no such
// prefix is refused without a call, as without introspection; JWEs stay
// refused; prefixes are required and may not overlap.
func TestIntrospectionRouting(t *testing.T) {
	clock := newClock()
	epA, epB := newEndpoint(t), newEndpoint(t)
	issuer := func(name, prefix string, ep *endpoint) jwtauth.Issuer {
		return jwtauth.Issuer{Issuer: name, Audiences: []string{audience}, Introspection: &jwtauth.Introspection{
			Endpoint: ep.srv.URL, ClientID: rsClientID, ClientSecret: rsSecret, TokenPrefix: prefix,
		}}
	}
	v, err := jwtauth.New(jwtauth.Config{Now: clock.Now, Issuers: []jwtauth.Issuer{
		issuer("https://a.example", "a_", epA), issuer("https://b.example", "b_", epB),
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	for _, ep := range []*endpoint{epA, epB} {
		ep.add("a_token", map[string]any{})
		ep.add("b_token", map[string]any{})
	}
	for _, tt := range []struct {
		token        string
		issuer       string // "" for a refusal
		callsA, calB int64
		describe     string
	}{
		{"a_token", "https://a.example", 1, 0, ""},
		{"b_token", "https://b.example", 1, 1, ""},
		{"c_token", "", 1, 1, "not a JWT"},
		{"eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", "", 1, 1, "encrypted"},
	} {
		p, _, err := v.VerifyToken(context.Background(), tt.token, dualauth.Origin{})
		e := asRefusal(t, err)
		switch {
		case epA.calls.Load() != tt.callsA || epB.calls.Load() != tt.calB:
			t.Fatalf("%s: calls %d and %d, want %d and %d", tt.token, epA.calls.Load(), epB.calls.Load(), tt.callsA, tt.calB)
		case tt.issuer != "" && (e != nil || p.Issuer != tt.issuer):
			t.Fatalf("%s: %v %v, want the caller of %s", tt.token, p, e, tt.issuer)
		case tt.issuer == "" && (e == nil || e.Status != http.StatusUnauthorized || !strings.Contains(e.Description, tt.describe)):
			t.Fatalf("%s: %v, want 401 saying %q", tt.token, e, tt.describe)
		}
	}

	for _, tt := range []struct {
		name     string
		prefixes [2]string
		field    string
	}{
		{"a prefix missing", [2]string{"a_", ""}, "Issuers[1].Introspection.TokenPrefix"},
		{"a prefix of another", [2]string{"at_", "a"}, "Issuers[0].Introspection.TokenPrefix"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{
				issuer("https://a.example", tt.prefixes[0], epA), issuer("https://b.example", tt.prefixes[1], epB),
			}})
			var ce *dualauth.ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("New: %v, want a ConfigError for %s", err, tt.field)
			}
		})
	}
}

// TestOpaqueWithoutIntrospection: without an introspecting issuer an
// opaque token is refused as it always was.
func TestOpaqueWithoutIntrospection(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	v, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: staticKeys(t, iss)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	_, _, err = v.VerifyToken(context.Background(), opaque, dualauth.Origin{})
	if e := asRefusal(t, err); e == nil || e.Status != http.StatusUnauthorized || e.Description != "the access token is not a JWT" {
		t.Fatalf("%v, want 401 not a JWT", e)
	}
}

func staticKeys(t testing.TB, iss *keywardtest.Issuer) jwks.Set {
	t.Helper()
	keys, err := jwks.NewStatic("test", iss.Key().Public())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// signedSetup is a Verifier for a keywardtest issuer with keys, whose
// endpoint answers as the returned endpoint is told.
func signedSetup(t testing.TB, edit func(*jwtauth.Introspection)) (*setup, *keywardtest.Issuer) {
	iss := keywardtest.NewIssuer(t, "ES256")
	clock := newClock()
	iss.Now = clock.Now
	s := newSetup(t, func(c *jwtauth.Config) {
		c.Issuers[0].Issuer, c.Issuers[0].Keys = iss.URL, staticKeys(t, iss)
		c.Issuers[0].Audiences = []string{iss.Audience}
		if edit != nil {
			edit(c.Issuers[0].Introspection)
		}
	})
	s.clock = clock // the Verifier's is another, at the same time
	return s, iss
}

// TestSignedIntrospection: an RFC 9701 answer is a JWT of the issuer's
// keys, of type token-introspection+jwt, for this API's client id; its
// token_introspection claim is the answer. One that does not verify is
// the endpoint's trouble: 503.
func TestSignedIntrospection(t *testing.T) {
	sign := func(iss *keywardtest.Issuer, key *keywardtest.Key, header, claims map[string]any) string {
		t.Helper()
		h := map[string]any{"typ": "token-introspection+jwt"}
		for k, v := range header {
			h[k] = v
		}
		c := jwt.MapClaims{"iss": iss.URL, "aud": rsClientID, "iat": time.Now().Unix()}
		for k, v := range claims {
			c[k] = v
		}
		return iss.Sign(t, key, h, c)
	}
	inner := func(iss *keywardtest.Issuer) map[string]any {
		m := goodAnswer(newClock().Now())
		m["active"], m["iss"], m["aud"] = true, iss.URL, iss.Audience
		return m
	}
	for _, tt := range []struct {
		name   string
		jws    func(iss *keywardtest.Issuer) string
		status int
	}{
		{"good", func(iss *keywardtest.Issuer) string {
			return sign(iss, iss.Key(), nil, map[string]any{"token_introspection": inner(iss)})
		}, http.StatusOK},
		{"inactive", func(iss *keywardtest.Issuer) string {
			return sign(iss, iss.Key(), nil, map[string]any{"token_introspection": map[string]any{"active": false}})
		}, http.StatusUnauthorized},
		{"bad signature", func(iss *keywardtest.Issuer) string {
			forger, err := keywardtest.NewKey("ES256")
			if err != nil {
				t.Fatal(err)
			}
			forger.ID = iss.Key().ID
			return sign(iss, forger, nil, map[string]any{"token_introspection": inner(iss)})
		}, http.StatusServiceUnavailable},
		{"wrong aud", func(iss *keywardtest.Issuer) string {
			return sign(iss, iss.Key(), nil, map[string]any{"aud": "someone-else", "token_introspection": inner(iss)})
		}, http.StatusServiceUnavailable},
		{"wrong typ", func(iss *keywardtest.Issuer) string {
			return sign(iss, iss.Key(), map[string]any{"typ": "JWT"}, map[string]any{"token_introspection": inner(iss)})
		}, http.StatusServiceUnavailable},
		{"no token_introspection", func(iss *keywardtest.Issuer) string {
			return sign(iss, iss.Key(), nil, map[string]any{"active": true})
		}, http.StatusServiceUnavailable},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, iss := signedSetup(t, nil)
			jws := tt.jws(iss)
			s.ep.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ string) {
				w.Header().Set("Content-Type", "application/token-introspection+jwt")
				_, _ = io.WriteString(w, jws)
			})
			p, e := s.verify(t, opaque)
			if got := s.ep.received(); len(got) != 1 || !strings.HasPrefix(got[0].accept, "application/token-introspection+jwt") {
				t.Fatalf("received %+v, want one call asking for a signed answer", got)
			}
			switch {
			case tt.status == http.StatusOK && (e != nil || !p.Introspected || p.Subject != "user-1"):
				t.Fatalf("%+v %v, want the caller", p, e)
			case tt.status != http.StatusOK && (e == nil || e.Status != tt.status):
				t.Fatalf("%v, want %d", e, tt.status)
			}
			s.noSecrets(t, opaque)
		})
	}
	t.Run("no keys", func(t *testing.T) {
		s := newSetup(t, nil)
		s.ep.setAnswer(func(w http.ResponseWriter, _ *http.Request, _ string) {
			w.Header().Set("Content-Type", "application/token-introspection+jwt")
			_, _ = io.WriteString(w, "eyJhbGciOiJFUzI1NiJ9.e30.c2ln")
		})
		if _, e := s.verify(t, opaque); e == nil || e.Status != http.StatusServiceUnavailable {
			t.Fatalf("%v, want 503", e)
		}
		if !strings.Contains(s.logs.String(), "no keys") {
			t.Fatalf("the log does not say why:\n%s", s.logs.String())
		}
	})
}

// TestIntrospectJWTs: with IntrospectJWTs, an issuer's JWT that verified
// here must also be active at the endpoint (and is remembered); without
// it, JWTs are never sent there.
func TestIntrospectJWTs(t *testing.T) {
	for _, introspectJWTs := range []bool{false, true} {
		t.Run(fmt.Sprint("introspect_jwts=", introspectJWTs), func(t *testing.T) {
			s, iss := signedSetup(t, func(in *jwtauth.Introspection) { in.IntrospectJWTs = introspectJWTs })
			revoked, good := iss.Token(t, nil), iss.Token(t, nil)
			m := goodAnswer(s.clock.Now())
			m["iss"], m["aud"] = iss.URL, iss.Audience
			s.ep.add(good, m)
			for _, tok := range []string{good, good, revoked} {
				p, e := s.verify(t, tok)
				wantRefused := introspectJWTs && tok == revoked
				switch {
				case wantRefused && (e == nil || e.Status != http.StatusUnauthorized):
					t.Fatalf("a revoked JWT: %v, want 401", e)
				case !wantRefused && (e != nil || p.Introspected != introspectJWTs || p.Subject != "test-client"):
					t.Fatalf("a good JWT: %+v %v", p, e)
				}
			}
			want := int64(0)
			if introspectJWTs {
				want = 2 // good once (then remembered), revoked once
			}
			if s.ep.calls.Load() != want {
				t.Fatalf("%d calls, want %d", s.ep.calls.Load(), want)
			}
		})
	}
}

// TestIntrospectionDiscovery: with no Endpoint, the endpoint is the
// introspection_endpoint of the issuer's metadata.
func TestIntrospectionDiscovery(t *testing.T) {
	ep := newEndpoint(t)
	var meta *httptest.Server
	meta = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": meta.URL, "introspection_endpoint": ep.srv.URL + "/introspect"})
	}))
	t.Cleanup(meta.Close)
	clock := newClock()
	v, err := jwtauth.New(jwtauth.Config{Now: clock.Now, Issuers: []jwtauth.Issuer{{Issuer: meta.URL, Audiences: []string{audience},
		Introspection: &jwtauth.Introspection{ClientID: rsClientID, ClientSecret: rsSecret}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	m := goodAnswer(clock.Now())
	m["iss"] = meta.URL
	ep.add(opaque, m)
	p, _, err := v.VerifyToken(context.Background(), opaque, dualauth.Origin{})
	if e := asRefusal(t, err); e != nil || !p.Introspected || ep.calls.Load() != 1 {
		t.Fatalf("%v %v after %d calls, want the caller after one", p, e, ep.calls.Load())
	}
}

// TestIntrospectionMiddleware: an opaque token's caller reaches a net/http
// handler through the middleware, scope gate included.
func TestIntrospectionMiddleware(t *testing.T) {
	s := newSetup(t, nil)
	s.ep.add(opaque, goodAnswer(s.clock.Now()))
	a, err := dualauth.New(dualauth.Config{Tokens: s.v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	mw := middleware.New(a, middleware.Options{})
	for _, tt := range []struct {
		token, scope string
		status       int
	}{
		{opaque, "bookings:read", http.StatusOK},
		{opaque, "admin", http.StatusForbidden},
		{"unknown-token", "bookings:read", http.StatusUnauthorized},
	} {
		h := mw.Require(scopes.All(tt.scope))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := dualauth.FromContext(r.Context())
			if !ok || !p.Introspected || p.Method != dualauth.MethodJWT || p.Subject != "user-1" {
				t.Errorf("principal %+v", p)
			}
			w.WriteHeader(http.StatusOK)
		}))
		r := httptest.NewRequest(http.MethodGet, "/bookings", nil)
		r.Header.Set("Authorization", "Bearer "+tt.token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.status {
			t.Fatalf("%s with %s: %d, want %d (%s)", tt.token, tt.scope, w.Code, tt.status, w.Body)
		}
		if tt.status == http.StatusUnauthorized && !strings.Contains(w.Header().Get("WWW-Authenticate"), "invalid_token") {
			t.Fatalf("WWW-Authenticate %q", w.Header().Get("WWW-Authenticate"))
		}
	}
}

// TestValidateIntrospection: every Introspection fault is a ConfigError
// naming its field.
func TestValidateIntrospection(t *testing.T) {
	in := func(edit func(*jwtauth.Introspection)) jwtauth.Config {
		i := &jwtauth.Introspection{Endpoint: "https://auth.example.com/introspect", ClientID: "rs", ClientSecret: "x"}
		edit(i)
		return jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: issuerURL, Audiences: []string{audience}, Introspection: i}}}
	}
	for _, tt := range []struct {
		name  string
		cfg   jwtauth.Config
		field string
	}{
		{"http endpoint", in(func(i *jwtauth.Introspection) { i.Endpoint = "http://auth.example.com/introspect" }), "Issuers[0].Introspection.Endpoint"},
		{"no client id", in(func(i *jwtauth.Introspection) { i.ClientID = "" }), "Issuers[0].Introspection.ClientID"},
		{"no secret", in(func(i *jwtauth.Introspection) { i.ClientSecret = "" }), "Issuers[0].Introspection.ClientSecret"},
		{"auth method", in(func(i *jwtauth.Introspection) { i.AuthMethod = "private_key_jwt" }), "Issuers[0].Introspection.AuthMethod"},
		{"timeout", in(func(i *jwtauth.Introspection) { i.Timeout = -1 }), "Issuers[0].Introspection.Timeout"},
		{"negative TTL", in(func(i *jwtauth.Introspection) { i.Cache.NegativeTTL = -1 }), "Issuers[0].Introspection.Cache.NegativeTTL"},
		{"keys without introspection", jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: issuerURL, Audiences: []string{audience}}}}, "Issuers[0].Keys"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ce *dualauth.ConfigError
			if _, err := jwtauth.New(tt.cfg); !errors.As(err, &ce) || ce.Package != "jwtauth" || ce.Field != tt.field {
				t.Fatalf("New: %v, want a jwtauth ConfigError for %s", err, tt.field)
			}
		})
	}
}

// TestIntrospectionManyNewTokens: many distinct good tokens arriving at
// once from one address (a gateway, a NAT) or with no address at all (a
// token exchanged for client credentials) each get their call and pass:
// token checks are not capped per address in progress, and checks with no
// address share no budget.
func TestIntrospectionManyNewTokens(t *testing.T) {
	for _, tt := range []struct {
		name   string
		addr   string
		budget int
	}{
		{"twenty from one address", "192.0.2.50:1", 0},
		{"ten with no address, budget of one", "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, a := guardedSetup(t, clientauth.Throttle{MaxAddrFailures: tt.budget})
			n := 20
			if tt.addr == "" {
				n = 10
			}
			arrived, release := make(chan struct{}, n), make(chan struct{})
			s.ep.setAnswer(func(w http.ResponseWriter, r *http.Request, token string) {
				arrived <- struct{}{}
				<-release
				if strings.HasPrefix(token, "bad-") {
					_, _ = w.Write([]byte(`{"active":false}`))
					return
				}
				w.Header().Set("Content-Type", "application/json")
				m := goodAnswer(s.clock.Now())
				m["active"] = true
				_ = json.NewEncoder(w).Encode(m)
			})
			if tt.addr == "" { // the budget of one is spent by guesses first
				close(release)
				for i := range 3 {
					if _, err := a.Verify(context.Background(), fmt.Sprintf("bad-%d", i), ""); asRefusal(t, err).Status != http.StatusUnauthorized {
						t.Fatalf("guess %d with no address: %v, want 401", i, err)
					}
					<-arrived
				}
				release = make(chan struct{})
			}
			results := make(chan error, n)
			for i := range n {
				go func() {
					_, err := a.Verify(context.Background(), fmt.Sprintf("good-%d", i), tt.addr)
					results <- err
				}()
			}
			// Every token either reaches the endpoint or is answered
			// without it; then the endpoint answers.
			var early []error
			for calls := 0; calls+len(early) < n; {
				select {
				case <-arrived:
					calls++
				case err := <-results:
					early = append(early, err)
				}
			}
			close(release)
			for range n - len(early) {
				early = append(early, <-results)
			}
			for i, err := range early {
				if e := asRefusal(t, err); e != nil {
					t.Errorf("token %d: %d %s, want 200", i, e.Status, e.Code)
				}
			}
		})
	}
}

// TestIntrospectionJOSELookalikes: opaque tokens that merely start like a
// JOSE header (fosite's random.signature whose random part decodes to a
// "{", or one dot after "ey") go to the endpoint and pass when it knows
// them, instead of being refused as malformed JWTs without a call.
func TestIntrospectionJOSELookalikes(t *testing.T) {
	for i, raw := range []string{"eyJmb28iOiJiYXIifQ.abc", "ey.J", "eyJhbGciOiJub25lIn0.e30.sig.x"} {
		t.Run(raw, func(t *testing.T) {
			s := newSetup(t, nil)
			s.ep.add(raw, goodAnswer(s.clock.Now()))
			if _, e := s.verify(t, raw); e != nil {
				t.Fatalf("token %d: %d %v (%v), want it introspected and accepted", i, e.Status, e, e.Err)
			}
			if calls := s.ep.calls.Load(); calls != 1 {
				t.Fatalf("%d calls, want 1", calls)
			}
		})
	}
}

// panickingThrottle is a Throttle whose Admit panics, quoting the token.
type panickingThrottle struct{ token string }

func (p panickingThrottle) Admit(context.Context, string) (func(bool), error) {
	panic("throttle bug while checking " + p.token)
}

// TestIntrospectionPanic: a panic in the shared call (here a Throttle's,
// behind the real middleware) answers the request, and every request that
// waited for the call, 503 temporarily_unavailable with Retry-After, and
// logs an error that names the issuer but not the token; the process
// lives on.
func TestIntrospectionPanic(t *testing.T) {
	s := newSetup(t, func(c *jwtauth.Config) { c.Throttle = panickingThrottle{token: opaque} })
	a, err := dualauth.New(dualauth.Config{Tokens: s.v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	h := middleware.New(a, middleware.Options{}).Require(scopes.All("bookings:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the handler ran")
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for i := range 2 {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/bookings", nil)
		req.Header.Set("Authorization", "Bearer "+opaque)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
			!strings.Contains(string(body), "temporarily_unavailable") {
			t.Fatalf("request %d: %d Retry-After %q %s, want 503 temporarily_unavailable with Retry-After",
				i, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	if calls := s.ep.calls.Load(); calls != 0 {
		t.Fatalf("%d calls, want none", calls)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "level=ERROR") || !strings.Contains(logs, "panicked") || !strings.Contains(logs, issuerURL) {
		t.Fatalf("logs %s, want an error naming the issuer", logs)
	}
	s.noSecrets(t, opaque)
}

// TestIntrospectionOutsideB64Token: a Bearer value with a byte outside RFC
// 6750's b64token syntax is answered 400 invalid_request without a call
// and without spending the address's budget of guesses.
func TestIntrospectionOutsideB64Token(t *testing.T) {
	s, a := guardedSetup(t, clientauth.Throttle{MaxAddrFailures: 2})
	mw := middleware.New(a, middleware.Options{})
	h := mw.Require(scopes.All("bookings:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	for _, tt := range []struct {
		token  string
		status int
		code   string
	}{
		{"ab%cd", http.StatusBadRequest, "invalid_request"},
		{"tök€n", http.StatusBadRequest, "invalid_request"},
		{"a,b", http.StatusBadRequest, "invalid_request"},
		{`a"b`, http.StatusBadRequest, "invalid_request"},
		{"guess-1", http.StatusUnauthorized, "invalid_token"}, // the budget of two is still whole
		{opaque, http.StatusOK, ""},
	} {
		r := httptest.NewRequest(http.MethodGet, "/bookings", nil)
		r.Header.Set("Authorization", "Bearer "+tt.token)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.status || !strings.Contains(w.Header().Get("WWW-Authenticate"), tt.code) {
			t.Fatalf("%q: %d %q, want %d %s", tt.token, w.Code, w.Header().Get("WWW-Authenticate"), tt.status, tt.code)
		}
	}
	if calls := s.ep.calls.Load(); calls != 2 {
		t.Fatalf("%d calls, want 2 (the guess and the good token)", calls)
	}
}
