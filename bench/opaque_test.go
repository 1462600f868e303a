package bench_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/bench/internal/suite"
	"github.com/keyward/keyward/jwtauth"
)

// introspector is an RFC 7662 introspection endpoint on 127.0.0.1 that
// knows the opaque tokens it was told of, checks this API's client
// credentials, and counts the calls it answers.
type introspector struct {
	srv   *httptest.Server
	calls atomic.Int64

	mu     sync.Mutex
	active map[string]bool
}

const (
	introspectClient = "bookings-api"
	introspectSecret = "introspection secret"
)

func startIntrospector(tb testing.TB) *introspector {
	tb.Helper()
	in := &introspector{active: map[string]bool{}}
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in.calls.Add(1)
		// RFC 6749 §2.3.1: the id and secret are form-encoded before Basic.
		id, secret, ok := r.BasicAuth()
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		if !ok || id != introspectClient || secret != introspectSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		in.mu.Lock()
		active := in.active[r.PostFormValue("token")]
		in.mu.Unlock()
		answer := map[string]any{"active": false}
		if active {
			answer = map[string]any{
				"active": true, "scope": suite.Scope + " bookings:write", "client_id": "acme", "sub": "acme",
				"iss": env.Issuer.URL, "aud": suite.Audience, "exp": time.Now().Add(time.Hour).Unix(),
				"token_type": "Bearer",
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}))
	tb.Cleanup(in.srv.Close)
	return in
}

// issue makes a new opaque token the endpoint calls active.
func (in *introspector) issue() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	tok := "kwat_" + base64.RawURLEncoding.EncodeToString(b)
	in.mu.Lock()
	in.active[tok] = true
	in.mu.Unlock()
	return tok
}

// trust is the suite's trust with the endpoint as its issuer's
// introspection endpoint.
func (in *introspector) trust() suite.Trust {
	t := env.Trust()
	t.EditKeyward = func(c *jwtauth.Config) {
		c.Issuers[0].Introspection = &jwtauth.Introspection{
			Endpoint: in.srv.URL, ClientID: introspectClient, ClientSecret: introspectSecret,
		}
	}
	return t
}

// BenchmarkOpaque compares, in one run, a reused opaque token (checked
// once at the introspection endpoint, then answered from the cache) with a
// reused JWT on the same Keyward handler:
//
//	BenchmarkOpaque/token={jwt,opaque}/run={serial,parallel}/impl={keyward-nethttp,keyward-echo}
//
// The endpoint is asked once, before the timer.
func BenchmarkOpaque(b *testing.B) {
	for _, token := range []string{"jwt", "opaque"} {
		b.Run("token="+token, func(b *testing.B) {
			for _, run := range []string{"serial", "parallel"} {
				b.Run("run="+run, func(b *testing.B) {
					for _, impl := range []string{suite.ImplKeywardNetHTTP, suite.ImplKeywardEcho} {
						b.Run("impl="+impl, func(b *testing.B) {
							in := startIntrospector(b)
							h := build(b, impl, suite.Algs[0], in.trust())
							tok := env.Reused(suite.Algs[0])
							if token == "opaque" {
								tok = in.issue()
							}
							if code := newStatusWriter().serve(h, bearer(tok)); code != http.StatusOK {
								b.Fatalf("%s refused a good %s token: status %d", impl, token, code)
							}
							benchSame(b, h, func() *http.Request { return bearer(tok) }, run == "parallel")
							b.StopTimer()
							if n := in.calls.Load(); token == "opaque" && n != 1 {
								b.Fatalf("the endpoint was called %d times for one reused token, want 1", n)
							}
						})
					}
				})
			}
		})
	}
}

// TestOpaqueCoalesced: 100 concurrent requests with one opaque token no
// one has presented before make one introspection call, and all pass; a
// token the endpoint does not know is refused.
func TestOpaqueCoalesced(t *testing.T) {
	for _, impl := range []string{suite.ImplKeywardNetHTTP, suite.ImplKeywardEcho} {
		t.Run(impl, func(t *testing.T) {
			in := startIntrospector(t)
			h := build(t, impl, suite.Algs[0], in.trust())
			tok := in.issue()
			start := make(chan struct{})
			codes := make(chan int, 100)
			var wg sync.WaitGroup
			for range 100 {
				wg.Go(func() {
					<-start
					codes <- newStatusWriter().serve(h, bearer(tok))
				})
			}
			close(start)
			wg.Wait()
			close(codes)
			for code := range codes {
				if code != http.StatusOK {
					t.Fatalf("a request with a good opaque token got status %d", code)
				}
			}
			if n := in.calls.Load(); n != 1 {
				t.Errorf("100 concurrent requests with one new token made %d introspection calls, want 1", n)
			}
			if code := newStatusWriter().serve(h, bearer("kwat_unknown")); code != http.StatusUnauthorized {
				t.Errorf("an unknown opaque token got status %d, want 401", code)
			}
		})
	}
}
