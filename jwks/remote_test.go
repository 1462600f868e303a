package jwks_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

func TestRotationUnknownKidTriggersOneRefresh(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "old"}))
	logs := newLogSink()
	clock := newFakeClock()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now})
	waitHit(t, p, "/jwks")
	logs.drain()

	// The issuer rotates in a new key; the first token with it is refused at
	// once and starts a refresh.
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "old"}, jwk{key: rsaB(), kid: "new"}))
	token := sign(t, jwt.SigningMethodRS256, rsaB(), "new")
	var err error
	within(t, "Keyfunc with unknown kid", func() { err = verify(r, token) })
	wantErr(t, err, jwks.ErrUnknownKey)
	waitHit(t, p, "/jwks")
	logs.wait(t, "jwks: keys loaded")
	wantOK(t, verify(r, token))
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "old")))
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
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now})
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
	token := sign(t, jwt.SigningMethodRS256, rsaA(), "a")
	wantErr(t, verify(r, token), jwks.ErrNoKeys)
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")), jwks.ErrNoKeys)

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
	logs.wait(t, "jwks: keys loaded")
	wantOK(t, verify(r, token))
	if st := r.Status(); st.Keys != 1 || st.LastError != "" || st.LastRefresh.IsZero() {
		t.Fatalf("status after recovery = %+v", st)
	}
}

func TestStartFailuresFailClosed(t *testing.T) {
	tests := []struct {
		name    string
		handler func(p *idp) http.HandlerFunc
		wantErr string
	}{
		{"5xx", func(*idp) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "secret-body", http.StatusBadGateway) }
		}, "status 502"},
		{"invalid JSON", func(*idp) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret-body {")) }
		}, "not valid JSON"},
		{"oversized", func(*idp) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(oversized()) }
		}, "exceeds"},
		{"hanging", func(p *idp) http.HandlerFunc {
			return func(_ http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-p.release:
				}
			}
		}, "timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			p.handle("/jwks", tc.handler(p))
			var r *jwks.Remote
			var err error
			within(t, "NewRemote", func() {
				r, err = jwks.NewRemote(context.Background(), p.url("/jwks"), jwks.Options{
					Timeout: 200 * time.Millisecond, MaxBytes: 4096,
				})
			})
			wantOK(t, err)
			t.Cleanup(r.Close)
			st := r.Status()
			if st.Keys != 0 || !strings.Contains(st.LastError, tc.wantErr) {
				t.Fatalf("status = %+v, want 0 keys and LastError containing %q", st, tc.wantErr)
			}
			if strings.Contains(st.LastError, "secret") {
				t.Fatalf("LastError leaks the body: %q", st.LastError)
			}
			wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")), jwks.ErrNoKeys)
		})
	}
}

// oversized is a JWK Set prefix padded past a 4 KiB cap.
func oversized() []byte {
	return []byte(`{"keys":[` + strings.Repeat(" ", 8192) + `]}`)
}

func TestRefreshFailureKeepsKeys(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{"503", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "secret-body", http.StatusServiceUnavailable)
		}, "unexpected HTTP status 503"},
		{"invalid JSON", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": [secret-body`))
		}, "not valid JSON"},
		{"wrong JSON shape", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": "secret-body"}`))
		}, `no "keys" array`},
		{"only an invalid key", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": [{"kty":"EC","crv":"P-256","x":"secret","y":"body"}]}`))
		}, "no usable signature keys"},
		{"truncated body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte(`{"keys": [secret-body`))
		}, "truncated"},
		{"oversized with Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			b := oversized()
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			_, _ = w.Write(b)
		}, "exceeds 4096 bytes"},
		{"oversized chunked", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[`))
			w.(http.Flusher).Flush() // no Content-Length: the cap must hit while reading
			_, _ = w.Write(oversized())
		}, "exceeds 4096 bytes"},
		{"empty body", func(http.ResponseWriter, *http.Request) {}, "empty response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
			r := newRemote(t, p.url("/jwks"), jwks.Options{MaxBytes: 4096})
			before := r.Status()
			if before.Keys != 1 || before.LastError != "" {
				t.Fatalf("initial status = %+v", before)
			}
			p.handle("/jwks", tc.handler)
			err := r.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Refresh error = %v, want one containing %q", err, tc.wantErr)
			}
			st := r.Status()
			if st.Keys != 1 || !st.LastRefresh.Equal(before.LastRefresh) || !strings.Contains(st.LastError, tc.wantErr) {
				t.Fatalf("status after failed refresh = %+v", st)
			}
			if strings.Contains(st.LastError, "secret") || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error text leaks the body: %q", st.LastError)
			}
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")))
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")))
		})
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

func TestTwoIssuersDoNotShareKeys(t *testing.T) {
	pa, pb := newIDP(t), newIDP(t)
	pa.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "shared-kid"}))
	pb.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaB(), kid: "shared-kid"}, jwk{key: ecP256(), kid: "b-ec"}))
	clock := newFakeClock()
	ra := newRemote(t, pa.url("/jwks"), jwks.Options{Now: clock.Now})
	rb := newRemote(t, pb.url("/jwks"), jwks.Options{Now: clock.Now})

	tokA := sign(t, jwt.SigningMethodRS256, rsaA(), "shared-kid")
	tokB := sign(t, jwt.SigningMethodRS256, rsaB(), "shared-kid")
	wantOK(t, verify(ra, tokA))
	wantOK(t, verify(rb, tokB))
	wantErr(t, verify(ra, tokB), jwt.ErrTokenSignatureInvalid)
	wantErr(t, verify(rb, tokA), jwt.ErrTokenSignatureInvalid)
	wantErr(t, verify(ra, sign(t, jwt.SigningMethodES256, ecP256(), "b-ec")), jwks.ErrUnknownKey)
	wantErr(t, verify(ra, sign(t, jwt.SigningMethodES256, ecP256(), "")), jwks.ErrNoKeys)
	wantErr(t, verify(rb, sign(t, jwt.SigningMethodRS256, rsaA(), "")), jwt.ErrTokenSignatureInvalid)
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

func TestCloseStopsGoroutine(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	before := runGoroutines()

	r, err := jwks.NewRemote(context.Background(), p.url("/jwks"), jwks.Options{})
	wantOK(t, err)
	within(t, "Close", r.Close)
	within(t, "second Close", r.Close)
	if err := r.Refresh(context.Background()); err == nil {
		t.Fatal("Refresh after Close succeeded")
	}
	// Keys stay usable after Close.
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")))

	// Cancelling the constructor's context stops it too, even mid-fetch.
	ctx, cancel := context.WithCancel(context.Background())
	r2, err := jwks.NewRemote(ctx, p.url("/jwks"), jwks.Options{})
	wantOK(t, err)
	started := make(chan struct{}, 1)
	p.hang("/jwks", started)
	go func() { _ = r2.Refresh(context.Background()) }()
	recv(t, started, "refresh reaching the server")
	cancel()
	within(t, "Close after cancel", r2.Close)

	waitFor(t, "run goroutines to exit", func() bool { return runGoroutines() <= before })
}

func TestStatusConcurrentWithRefresh(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{RefreshInterval: time.Millisecond})
	tok := sign(t, jwt.SigningMethodRS256, rsaA(), "a")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				_ = r.Status()
				if err := verify(r, tok); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			_ = r.Refresh(context.Background())
		}
	})
	within(t, "concurrent use", wg.Wait)
	if st := r.Status(); st.Source != p.url("/jwks") || st.Keys != 1 {
		t.Fatalf("status = %+v", st)
	}
}

func TestRedirects(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	for i := 1; i <= 4; i++ {
		next := fmt.Sprintf("/r%d", i+1)
		if i == 4 {
			next = "/jwks"
		}
		p.handle(fmt.Sprintf("/r%d", i), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, next, http.StatusFound)
		})
	}
	// /r2 -> /r3 -> /r4 -> /jwks is 3 redirects: allowed.
	r := newRemote(t, p.url("/r2"), jwks.Options{})
	if st := r.Status(); st.Keys != 1 {
		t.Fatalf("3 redirects: status = %+v", st)
	}
	// /r1 -> ... -> /jwks is 4 redirects: refused.
	r = newRemote(t, p.url("/r1"), jwks.Options{})
	if st := r.Status(); st.Keys != 0 || !strings.Contains(st.LastError, "redirects") {
		t.Fatalf("4 redirects: status = %+v", st)
	}

	// https -> http is refused even to loopback.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.url("/jwks"), http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)
	r = newRemote(t, tlsSrv.URL+"/jwks", jwks.Options{Client: tlsSrv.Client()})
	if st := r.Status(); st.Keys != 0 || !strings.Contains(st.LastError, "https to http") {
		t.Fatalf("https->http: status = %+v", st)
	}
}

func TestCustomClientGetsBodyCap(t *testing.T) {
	p := newIDP(t)
	p.handle("/jwks", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(oversized()) })
	client := &http.Client{}
	r := newRemote(t, p.url("/jwks"), jwks.Options{Client: client, MaxBytes: 4096})
	if st := r.Status(); !strings.Contains(st.LastError, "exceeds") {
		t.Fatalf("status = %+v", st)
	}
	if client.Transport != nil || client.CheckRedirect != nil {
		t.Fatal("caller's client was modified")
	}
}
