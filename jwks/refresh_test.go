package jwks_test

import (
	"context"
	"crypto/elliptic"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// requested is logged on the Keyfunc goroutine when a lookup starts a refresh.
const requested = "jwks: refresh requested"

// TestRotationFirstTokenPasses: an issuer publishes a new key and signs with
// it at once; the first token with the new kid waits for the refresh it
// starts and passes.
func TestRotationFirstTokenPasses(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "old"}))
	logs := newLogSink()
	clock := newFakeClock()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now})
	waitHit(t, p, "/jwks")
	logs.drain()

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "old"}, jwk{key: rsaB(), kid: "new"}))
	token := sign(t, jwt.SigningMethodRS256, rsaB(), "new")
	var err error
	within(t, "Keyfunc with a rotated-in kid", func() { err = verify(r, token) })
	wantOK(t, err)
	if n := logs.count(requested); n != 1 {
		t.Fatalf("%d refreshes requested, want 1", n)
	}
	if n := p.n.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (initial, rotation)", n)
	}
	wantOK(t, verify(r, token))
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "old")))
}

// TestRotationManyFirstRequestsShareOneFetch: many requests carrying the new
// kid arrive together while the server holds the fetch; they all wait for
// that one fetch and pass once it completes.
func TestRotationManyFirstRequestsShareOneFetch(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "old"}))
	logs := newLogSink()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), UnknownKIDWait: guard, Timeout: 2 * guard})
	drainHits(p)

	rotated := jwksJSON(t, jwk{key: rsaA(), kid: "old"}, jwk{key: rsaB(), kid: "new"})
	gate := make(chan struct{})
	p.handle("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-gate:
		case <-p.release:
		}
		_, _ = w.Write(rotated)
	})
	token := sign(t, jwt.SigningMethodRS256, rsaB(), "new")
	const n = 20
	errs := make(chan error, n)
	for range n {
		go func() { errs <- verify(r, token) }()
	}
	waitHit(t, p, "/jwks")
	// Every request has looked the kid up once it has asked for a refresh or
	// joined the one in flight; none has an answer while the server holds it.
	select {
	case err := <-errs:
		t.Fatalf("a request was answered while the fetch was held: %v", err)
	default:
	}
	close(gate)
	for range n {
		select {
		case err := <-errs:
			wantOK(t, err)
		case <-time.After(guard):
			t.Fatal("a request did not return after the fetch")
		}
	}
	if got := p.n.Load(); got != 2 {
		t.Fatalf("%d fetches, want 2 (initial, the rotation)", got)
	}
}

// TestUnknownKidWaitIsBounded: a request whose kid is unknown waits for the
// refresh it starts for at most UnknownKIDWait, then is refused with
// ErrUnknownKey while the server still holds the fetch.
func TestUnknownKidWaitIsBounded(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	const bound = 50 * time.Millisecond
	r := newRemote(t, p.url("/jwks"), jwks.Options{UnknownKIDWait: bound, Timeout: 2 * guard})
	started := make(chan struct{}, 1)
	p.hang("/jwks", started)

	token := sign(t, jwt.SigningMethodRS256, rsaB(), "new")
	var err error
	var took time.Duration
	within(t, "Keyfunc with a held fetch", func() {
		begin := time.Now()
		err = verify(r, token)
		took = time.Since(begin)
	})
	wantErr(t, err, jwks.ErrUnknownKey)
	recv(t, started, "the refresh reaching the server")
	if took < bound {
		t.Fatalf("the request waited %v, less than the bound %v", took, bound)
	}
	// The fetch is still held: the request ended on the bound. A token with
	// a known kid does not wait at all.
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")))
}

// TestUnknownKidWaitEndsWithContext: a waiting request whose context ends
// stops waiting at once.
func TestUnknownKidWaitEndsWithContext(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{UnknownKIDWait: time.Hour, Timeout: time.Hour})
	started := make(chan struct{}, 1)
	p.hang("/jwks", started)

	tok := &jwt.Token{Header: map[string]any{"alg": "RS256", "kid": "new"}}
	for _, how := range []string{"Keyfunc", "Key"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			res := make(chan error, 1)
			go func() {
				var err error
				if how == "Key" {
					_, err = r.Key(ctx, "RS256", "new")
				} else {
					_, err = r.Keyfunc(ctx)(tok)
				}
				res <- err
			}()
			if how == "Keyfunc" {
				recv(t, started, "the refresh reaching the server")
			}
			select {
			case err := <-res:
				t.Fatalf("answered before its context ended: %v", err)
			default:
			}
			cancel()
			select {
			case err := <-res:
				wantErr(t, err, jwks.ErrUnknownKey)
			case <-time.After(guard):
				t.Fatal("the request kept waiting after its context ended")
			}
		})
	}
}

// TestUnknownKidWaitEndsWithClose: Close ends every wait.
func TestUnknownKidWaitEndsWithClose(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	r, err := jwks.NewRemote(context.Background(), p.url("/jwks"), jwks.Options{UnknownKIDWait: time.Hour, Timeout: time.Hour})
	wantOK(t, err)
	started := make(chan struct{}, 1)
	p.hang("/jwks", started)
	res := make(chan error, 1)
	go func() { res <- verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "new")) }()
	recv(t, started, "the refresh reaching the server")
	within(t, "Close", r.Close)
	select {
	case err := <-res:
		wantErr(t, err, jwks.ErrUnknownKey)
	case <-time.After(guard):
		t.Fatal("the request kept waiting after Close")
	}
}

// TestNoWaitWhenNoRefresh: lookups that can start no refresh (kid just
// proven absent, limiter spent) are answered at once, and a negative
// UnknownKIDWait never waits.
func TestNoWaitWhenNoRefresh(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	logs := newLogSink()
	clock := newFakeClock()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now, UnknownKIDWait: time.Hour, Timeout: time.Hour})
	// Spend the burst: three junk kids, each proven absent by the fetch it
	// waited for.
	for i := range 3 {
		wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaC(), fmt.Sprint("junk-", i))), jwks.ErrUnknownKey)
	}
	if n := p.n.Load(); n != 4 {
		t.Fatalf("%d fetches, want 4 (initial + burst of 3)", n)
	}
	// From now on every fetch would hang: a request that waited would hang
	// until the hang guard fails the test.
	p.hang("/jwks", nil)
	within(t, "lookups that can start no refresh", func() {
		_ = verify(r, sign(t, jwt.SigningMethodRS256, rsaC(), "junk-0")) // proven absent
		_ = verify(r, sign(t, jwt.SigningMethodRS256, rsaC(), "fresh"))  // limiter spent
	})
	if n := logs.count(requested); n != 3 {
		t.Fatalf("%d refreshes requested, want 3", n)
	}

	// Negative: never wait, even for the refresh a lookup starts.
	q := newIDP(t)
	q.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	never := newRemote(t, q.url("/jwks"), jwks.Options{UnknownKIDWait: -1})
	started := make(chan struct{}, 1)
	q.hang("/jwks", started)
	var err error
	within(t, "lookup with UnknownKIDWait < 0", func() {
		err = verify(never, sign(t, jwt.SigningMethodRS256, rsaB(), "new"))
	})
	wantErr(t, err, jwks.ErrUnknownKey)
	recv(t, started, "the refresh reaching the server")
}

// TestUnknownKidFloodWaitsBounded: random kids from many goroutines, each
// request waiting: at most the burst of fetches, and every request returns
// while the server still holds the fetches, so none waited for longer than
// the bound.
func TestUnknownKidFloodWaitsBounded(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	logs := newLogSink()
	clock := newFakeClock()
	const bound = 100 * time.Millisecond
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now, UnknownKIDWait: bound, Timeout: 2 * guard})
	before := p.n.Load()
	started := make(chan struct{}, 16)
	p.hang("/jwks", started)

	const goroutines, perG = 50, 4
	var mu sync.Mutex
	var longest time.Duration
	within(t, "the flood", func() {
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for i := range perG {
					kid := fmt.Sprintf("rand-%d-%d", g, i)
					begin := time.Now()
					_, err := r.Key(context.Background(), "RS256", kid)
					took := time.Since(begin)
					if !errors.Is(err, jwks.ErrUnknownKey) {
						t.Errorf("error = %v, want ErrUnknownKey", err)
					}
					mu.Lock()
					longest = max(longest, took)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
	})
	// The server held the one fetch that reached it all along: no request
	// can have waited for a fetch, only for the bound.
	recv(t, started, "a refresh reaching the server")
	if n := logs.count(requested); n > 2 {
		t.Fatalf("%d refreshes requested while one hung, want at most 2 (one running, one queued)", n)
	}
	if n := p.n.Load() - before; n != 1 {
		t.Fatalf("%d fetches reached the server, want 1 (the others queue behind it)", n)
	}
	t.Logf("longest wait %v, bound %v", longest, bound)
}

func TestRemovedKeyStopsVerifyingAfterRefresh(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}, jwk{key: rsaB(), kid: "b"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	tokB := sign(t, jwt.SigningMethodRS256, rsaB(), "b")
	tokBNoKid := sign(t, jwt.SigningMethodRS256, rsaB(), "")
	wantOK(t, verify(r, tokB))
	wantOK(t, verify(r, tokBNoKid))

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	wantOK(t, r.Refresh(context.Background()))
	wantErr(t, verify(r, tokB), jwks.ErrUnknownKey)
	wantErr(t, verify(r, tokBNoKid), jwt.ErrTokenSignatureInvalid)
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")))
	if got := r.Status().Keys; got != 1 {
		t.Fatalf("Status.Keys = %d, want 1", got)
	}
}

func TestUnknownKidFlood(t *testing.T) {
	p := newIDP(t)
	body := jwksJSON(t, jwk{key: rsaA(), kid: "a"})
	p.serveJSON("/jwks", body)
	logs := newLogSink()
	clock := newFakeClock()
	// Lookups do not wait here: this tests which of them start a refresh.
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now, UnknownKIDWait: -1})
	drainHits(p)
	logs.drain()
	kf := r.Keyfunc(context.Background())
	lookup := func(kid string) {
		tok := &jwt.Token{Header: map[string]any{"alg": "RS256", "kid": kid}}
		if _, err := kf(tok); !errors.Is(err, jwks.ErrUnknownKey) {
			t.Errorf("kid %q: error = %v, want ErrUnknownKey", kid, err)
		}
	}
	flood := func(prefix string) {
		t.Helper()
		const goroutines, perG = 50, 20 // 1000 lookups, each of a fresh kid
		within(t, "1000 unknown-kid lookups", func() {
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for i := range perG {
						lookup(fmt.Sprintf("%s-%d-%d", prefix, g, i))
					}
				})
			}
			wg.Wait()
		})
	}

	// The first refresh hangs on the server while 1000 random kids arrive:
	// they queue exactly one more fetch and join it.
	gate := make(chan struct{})
	p.handle("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-gate:
		case <-p.release:
		}
		_, _ = w.Write(body)
	})
	lookup("first")
	waitHit(t, p, "/jwks")
	flood("during")
	if n := logs.count(requested); n != 2 {
		t.Fatalf("%d refreshes requested, want 2 (one running, one queued)", n)
	}
	close(gate)
	logs.wait(t, "jwks: keys loaded")
	logs.wait(t, "jwks: keys loaded")

	// The third refresh of the burst goes to the next fresh kid; then the
	// limiter is empty and another flood starts nothing.
	lookup("third")
	logs.wait(t, "jwks: keys loaded")
	flood("after")
	if n := logs.count(requested); n != 3 {
		t.Fatalf("%d refreshes requested, want 3 (the burst)", n)
	}
	if n := p.n.Load(); n != 4 {
		t.Fatalf("%d fetches, want 4 (initial + burst of 3)", n)
	}

	// The limiter refills one refresh per UnknownKIDInterval on the (fake)
	// clock.
	clock.Advance(jwks.DefaultUnknownKIDInterval - time.Second)
	lookup("early")
	if n := logs.count(requested); n != 3 {
		t.Fatalf("a refresh was requested before the interval passed")
	}
	clock.Advance(time.Second)
	flood("next-interval")
	if n := logs.count(requested); n != 4 {
		t.Fatalf("%d refreshes requested after one interval, want 4", n)
	}
	logs.wait(t, "jwks: keys loaded")
	if n := p.n.Load(); n != 5 {
		t.Fatalf("%d fetches after the interval, want 5", n)
	}
}

// TestJunkKidDoesNotDelayRotation ports the review's
// TestLimiterPreemptedDelaysRotation: a token with a junk kid spends one
// refresh, the issuer then rotates in a key, and the first token with that key
// starts another refresh at once and passes after it.
func TestJunkKidDoesNotDelayRotation(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
	logs := newLogSink()
	clock := newFakeClock()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now})
	logs.drain()

	junk := sign(t, jwt.SigningMethodRS256, rsaC(), "junk")
	wantErr(t, verify(r, junk), jwks.ErrUnknownKey) // after the refresh it started
	// Replayed, the junk kid starts nothing more: the refresh it started did
	// not find it.
	for range 10 {
		wantErr(t, verify(r, junk), jwks.ErrUnknownKey)
	}
	if n := logs.count(requested); n != 1 {
		t.Fatalf("%d refreshes requested by the junk kid, want 1", n)
	}

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}, jwk{key: rsaB(), kid: "k2"}))
	rotated := sign(t, jwt.SigningMethodRS256, rsaB(), "k2")
	wantOK(t, verify(r, rotated))
	if n := logs.count(requested); n != 2 {
		t.Fatalf("the rotated key's first token did not start a refresh")
	}
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k1")))
	if n := p.n.Load(); n != 3 {
		t.Fatalf("%d fetches, want 3 (initial, junk, rotation)", n)
	}

	// The junk kid's quiet time ends after UnknownKIDInterval on the (fake)
	// clock.
	clock.Advance(jwks.DefaultUnknownKIDInterval - time.Second)
	wantErr(t, verify(r, junk), jwks.ErrUnknownKey)
	if n := logs.count(requested); n != 2 {
		t.Fatalf("the junk kid started a refresh within its quiet time")
	}
	clock.Advance(time.Second)
	wantErr(t, verify(r, junk), jwks.ErrUnknownKey)
	if n := logs.count(requested); n != 3 {
		t.Fatalf("the junk kid started no refresh after its quiet time")
	}
	if n := p.n.Load(); n != 4 {
		t.Fatalf("%d fetches, want 4", n)
	}
}

// TestUnknownKidAfterFailedRefreshMayRetry: a refresh that failed did not
// look for the kid, so the kid is not made quiet.
func TestUnknownKidAfterFailedRefreshMayRetry(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
	logs := newLogSink()
	clock := newFakeClock()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now})
	logs.drain()

	p.handle("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	rotated := sign(t, jwt.SigningMethodRS256, rsaB(), "k2")
	wantErr(t, verify(r, rotated), jwks.ErrUnknownKey) // after the failed refresh
	logs.wait(t, "jwks: refresh failed")

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}, jwk{key: rsaB(), kid: "k2"}))
	wantOK(t, verify(r, rotated))
	if n := logs.count(requested); n != 2 {
		t.Fatalf("%d refreshes requested, want 2", n)
	}
}

// TestEmptySetLookupsAreLimited: lookups in an empty set start refreshes
// under the same burst and interval.
func TestEmptySetLookupsAreLimited(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", []byte(`{"keys":[]}`))
	logs := newLogSink()
	clock := newFakeClock()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now})
	logs.drain()
	kf := r.Keyfunc(context.Background())
	tok := &jwt.Token{Header: map[string]any{"alg": "RS256"}}
	for i := range 3 {
		_, err := kf(tok)
		wantHealthyNoKeys(t, err)
		if n := logs.count(requested); n != i+1 {
			t.Fatalf("lookup %d: %d refreshes requested", i+1, n)
		}
		logs.wait(t, "jwks: keys loaded")
	}
	for range 100 {
		_, _ = kf(tok)
	}
	if n := logs.count(requested); n != 3 {
		t.Fatalf("%d refreshes requested, want 3 (the burst)", n)
	}
}

func TestServerDownAtStartThenUp(t *testing.T) {
	// Reserve a loopback port, then free it so that the first fetch is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	wantOK(t, err)
	addr := ln.Addr().String()
	wantOK(t, ln.Close())

	logs := newLogSink()
	var r *jwks.Remote
	within(t, "NewRemote against a closed port", func() {
		r, err = jwks.NewRemote(context.Background(), "http://"+addr+"/jwks", jwks.Options{
			RefreshInterval: 100 * time.Millisecond, // also caps the retry backoff
			Logger:          logs.logger(),
		})
	})
	wantOK(t, err)
	t.Cleanup(r.Close)
	st := r.Status()
	if st.Keys != 0 || st.LastError == "" || !st.LastRefresh.IsZero() || st.LastAttempt.IsZero() {
		t.Fatalf("status after failed start = %+v", st)
	}
	if st.NextAttempt.IsZero() {
		t.Fatalf("status after failed start has no NextAttempt: %+v", st)
	}
	// No keys because fetching failed: the key server's fault, not the
	// token's.
	token := sign(t, jwt.SigningMethodRS256, rsaA(), "a")
	wantErr(t, verify(r, token), jwks.ErrUnavailable)
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")), jwks.ErrUnavailable)
	wantErr(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "")), jwks.ErrUnavailable)
	if n := logs.count(loadedAgain); n != 0 {
		t.Fatalf("%q logged before any load succeeded", loadedAgain)
	}

	// The issuer comes up on that port.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s was taken meanwhile: %v", addr, err)
	}
	p := &idp{hits: make(chan string, 4096), release: make(chan struct{}), routes: map[string]http.HandlerFunc{}}
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Listener.Close()
	p.srv.Listener = ln
	p.srv.Start()
	t.Cleanup(p.srv.Close)

	waitHit(t, p, "/jwks")
	line := logs.wait(t, loadedAgain)
	if !strings.Contains(line, "source=http://"+addr+"/jwks") || !strings.Contains(line, "keys=1") {
		t.Fatalf("log record %q lacks the source or the key count", line)
	}
	wantOK(t, verify(r, token))
	if st := r.Status(); st.Keys != 1 || st.LastError != "" || st.LastRefresh.IsZero() {
		t.Fatalf("status after recovery = %+v", st)
	}
	// Later loads are routine: logged at debug only.
	wantOK(t, r.Refresh(context.Background()))
	wantOK(t, r.Refresh(context.Background()))
	if n := logs.count(loadedAgain); n != 1 {
		t.Fatalf("%q logged %d times, want once", loadedAgain, n)
	}
}

// loadedAgain is logged at info when a load succeeds after failures.
const loadedAgain = "jwks: keys loaded again"

// TestUnavailableOnlyWhileFailing: ErrUnavailable is the answer while a set
// holds no usable key because its fetches fail; a set that loaded fine with
// no usable key answers ErrNoKeys, and an unknown kid in a healthy set
// ErrUnknownKey. A set that keeps usable keys through failures is never
// unavailable.
func TestUnavailableOnlyWhileFailing(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", []byte(`{"keys":[]}`))
	logs := newLogSink()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), RefreshInterval: time.Hour})
	tok := sign(t, jwt.SigningMethodRS256, rsaA(), "a")
	wantHealthyNoKeys(t, verify(r, tok))

	down := func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusBadGateway) }
	p.handle("/jwks", down)
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh against a failing server succeeded")
	}
	wantErr(t, verify(r, tok), jwks.ErrUnavailable)
	if st := r.Status(); st.NextAttempt.Before(st.LastAttempt) {
		t.Fatalf("NextAttempt %v before LastAttempt %v", st.NextAttempt, st.LastAttempt)
	}

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	wantOK(t, r.Refresh(context.Background()))
	if n := logs.count(loadedAgain); n != 1 {
		t.Fatalf("%q logged %d times, want 1", loadedAgain, n)
	}
	wantOK(t, verify(r, tok))
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "other")), jwks.ErrUnknownKey)

	// Usable keys held through a failure: a token is judged by them.
	p.handle("/jwks", down)
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh against a failing server succeeded")
	}
	wantOK(t, verify(r, tok))
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "other")), jwks.ErrUnknownKey)
	wantHealthyNoKeys(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "")))
}

// wantHealthyNoKeys checks that err is ErrNoKeys and not ErrUnavailable
// (which matches ErrNoKeys too).
func wantHealthyNoKeys(t *testing.T, err error) {
	t.Helper()
	wantErr(t, err, jwks.ErrNoKeys)
	if errors.Is(err, jwks.ErrUnavailable) {
		t.Fatalf("error = %v, want ErrNoKeys, not ErrUnavailable", err)
	}
}

// TestErrUnavailableMatchesErrNoKeys: callers that know only ErrNoKeys still
// refuse; ErrNoKeys is not ErrUnavailable.
func TestErrUnavailableMatchesErrNoKeys(t *testing.T) {
	if !errors.Is(jwks.ErrUnavailable, jwks.ErrNoKeys) {
		t.Error("ErrUnavailable does not match ErrNoKeys")
	}
	if errors.Is(jwks.ErrNoKeys, jwks.ErrUnavailable) || errors.Is(jwks.ErrUnknownKey, jwks.ErrUnavailable) {
		t.Error("another error matches ErrUnavailable")
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", jwks.ErrUnavailable), jwks.ErrUnavailable) {
		t.Error("a wrapped ErrUnavailable does not match")
	}
}

func TestHangingRefreshDoesNotBlockRequests(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{Timeout: 200 * time.Millisecond})
	started := make(chan struct{}, 1)
	p.hang("/jwks", started)

	known := sign(t, jwt.SigningMethodRS256, rsaA(), "a")
	unknown := sign(t, jwt.SigningMethodRS256, rsaA(), "unknown")
	refreshed := make(chan error, 1)
	go func() { refreshed <- r.Refresh(context.Background()) }()
	recv(t, started, "refresh reaching the server")
	// The refresh hangs on the server; requests go on.
	var errKnown, errUnknown error
	within(t, "Keyfunc during a hanging refresh", func() {
		errKnown = verify(r, known)
		errUnknown = verify(r, unknown)
	})
	wantOK(t, errKnown)
	wantErr(t, errUnknown, jwks.ErrUnknownKey)
	var err error
	select {
	case err = <-refreshed:
	case <-time.After(guard):
		t.Fatal("Refresh outlived its Timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Refresh error = %v, want a timeout", err)
	}
	if st := r.Status(); st.Keys != 1 || !strings.Contains(st.LastError, "timed out") {
		t.Fatalf("status = %+v", st)
	}
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")))
}

func TestPeriodicRefresh(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{RefreshInterval: 20 * time.Millisecond})
	waitHit(t, p, "/jwks") // a periodic fetch
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaB(), kid: "b"}))
	drainHits(p)
	// Fetches run one after another: the first fetch announced after the
	// drain serves the new set, and the next one starts only after it has
	// completed.
	waitHit(t, p, "/jwks")
	waitHit(t, p, "/jwks")
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "b")))
}

func TestRefreshIsSingleFlight(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	gate := make(chan struct{})
	var inFlight, maxInFlight int
	var mu sync.Mutex
	body := jwksJSON(t, jwk{key: rsaA(), kid: "a"})
	p.handle("/jwks", func(w http.ResponseWriter, _ *http.Request) {
		mu.Lock()
		inFlight++
		maxInFlight = max(maxInFlight, inFlight)
		mu.Unlock()
		<-gate
		mu.Lock()
		inFlight--
		mu.Unlock()
		_, _ = w.Write(body)
	})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := r.Refresh(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	waitHit(t, p, "/jwks") // first of the fetches
	close(gate)
	within(t, "concurrent Refresh", wg.Wait)
	if maxInFlight != 1 {
		t.Fatalf("%d fetches ran at once, want 1", maxInFlight)
	}
	if n := p.n.Load(); n > 1+8 {
		t.Fatalf("%d fetches for 8 Refresh calls", n)
	}
}

func TestRefreshHonoursCallerContext(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{Timeout: time.Minute})
	started := make(chan struct{}, 1)
	p.hang("/jwks", started)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- r.Refresh(ctx) }()
	recv(t, started, "refresh reaching the server")
	cancel()
	select {
	case err := <-res:
		wantErr(t, err, context.Canceled)
	case <-time.After(guard):
		t.Fatal("Refresh ignored its context")
	}
}

// TestEmptySetAfterKeysKeepsKeys: a well-formed set without any usable
// signature key does not replace usable keys.
func TestEmptySetAfterKeysKeepsKeys(t *testing.T) {
	oct := []byte("0123456789abcdef0123456789abcdef")
	tests := []struct {
		name string
		body func(t *testing.T) []byte
	}{
		{"no keys", func(*testing.T) []byte { return []byte(`{"keys":[]}`) }},
		{"only unusable keys", func(t *testing.T) []byte {
			return jwksJSON(t,
				jwk{key: rsaB(), kid: "enc", use: jwkset.UseEnc},
				jwk{key: oct, kid: "oct", private: true},
				jwk{key: rsa1024(), kid: "weak"},
			)
		}},
		{"only unreadable keys", func(t *testing.T) []byte {
			return rawSet(t, map[string]any{"kty": "RSA", "kid": "no-e", "n": "AQAB"}, map[string]any{"kty": "AKP"})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
			r := newRemote(t, p.url("/jwks"), jwks.Options{})
			before := r.Status()
			tok := sign(t, jwt.SigningMethodRS256, rsaA(), "k1")

			p.serveJSON("/jwks", tc.body(t))
			err := r.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), "the key set has no usable signature keys") {
				t.Fatalf("Refresh error = %v", err)
			}
			st := r.Status()
			if st.Keys != 1 || st.LastError != err.Error() || !st.LastRefresh.Equal(before.LastRefresh) {
				t.Fatalf("status = %+v", st)
			}
			wantOK(t, verify(r, tok))
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")))

			// A set with a usable key replaces the old keys again.
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaB(), kid: "k2"}))
			wantOK(t, r.Refresh(context.Background()))
			wantErr(t, verify(r, tok), jwks.ErrUnknownKey)
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "k2")))
			if st := r.Status(); st.Keys != 1 || st.LastError != "" {
				t.Fatalf("status after recovery = %+v", st)
			}
		})
	}
}

// TestEmptySetOnFirstLoad: with no usable keys held, an empty set is a
// successful load of no keys, with a warning.
func TestEmptySetOnFirstLoad(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", []byte(`{"keys":[]}`))
	logs := newLogSink()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger()})
	st := r.Status()
	if st.Keys != 0 || st.LastError != "" || st.LastRefresh.IsZero() {
		t.Fatalf("status = %+v, want a successful load of no keys", st)
	}
	logs.wait(t, "jwks: key set holds no usable signature key")
	wantHealthyNoKeys(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k1")))

	// So is a set of keys that fit no algorithm, and an empty set after it.
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsa1024(), kid: "weak"}))
	wantOK(t, r.Refresh(context.Background()))
	p.serveJSON("/jwks", []byte(`{"keys":[]}`))
	wantOK(t, r.Refresh(context.Background()))

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
	wantOK(t, r.Refresh(context.Background()))
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k1")))
}

// TestGenerationCountsDroppedKeys: the generation stays while loads keep
// every key (the same set again, or a key added), and moves when a load
// drops a key or replaces one under the same kid.
func TestGenerationCountsDroppedKeys(t *testing.T) {
	p := newIDP(t)
	a, b, c := jwk{key: rsaA(), kid: "a"}, jwk{key: mustEC(elliptic.P256()), kid: "b"}, jwk{key: mustEC(elliptic.P256()), kid: "a"}
	p.serveJSON("/jwks", jwksJSON(t, a))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	for _, step := range []struct {
		name string
		keys []jwk
		want uint64
	}{
		{"the same set", []jwk{a}, 0},
		{"a key added", []jwk{a, b}, 0},
		{"a key dropped", []jwk{b}, 1},
		{"the same set again", []jwk{b}, 1},
		{"a kid given to another key", []jwk{b, c}, 1},
		{"that key replaced under its kid", []jwk{b, {key: mustEC(elliptic.P256()), kid: "a"}}, 2},
	} {
		p.serveJSON("/jwks", jwksJSON(t, step.keys...))
		if err := r.Refresh(t.Context()); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if g := r.Generation(); g != step.want {
			t.Fatalf("%s: generation %d, want %d", step.name, g, step.want)
		}
	}
}

// TestStatusCountsRefreshes: Status counts every load attempt, the first
// fetch included, by outcome; a Static set counts none.
func TestStatusCountsRefreshes(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	count := func(ok, failed uint64) {
		t.Helper()
		if st := r.Status(); st.Refreshes != ok || st.RefreshErrors != failed {
			t.Fatalf("Refreshes, RefreshErrors = %d, %d; want %d, %d", st.Refreshes, st.RefreshErrors, ok, failed)
		}
	}
	count(1, 0)
	wantOK(t, r.Refresh(context.Background()))
	count(2, 0)
	p.serveJSON("/jwks", []byte(`{"keys":[]}`)) // refused: usable keys are held
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh of an empty set succeeded")
	}
	count(2, 1)

	s, err := jwks.NewStatic("static", rsaA().Public())
	wantOK(t, err)
	if st := s.Status(); st.Refreshes != 0 || st.RefreshErrors != 0 {
		t.Fatalf("Static status = %+v", st)
	}
}
