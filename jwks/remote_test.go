package jwks_test

import (
	"context"
	"errors"
	"reflect"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

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

// TestCloseLeavesNoGoroutine: once Close returns, every goroutine a Remote
// started ends, for NewRemote and NewDiscovered alike: the refresh goroutine
// and the connections of the Remote's own transport, even with a fetch in
// flight at Close. (keyfunc and jwkset start none for a Remote: it uses
// jwkset only to read JWKs.)
func TestCloseLeavesNoGoroutine(t *testing.T) {
	p := newIDP(t)
	issuer := p.srv.URL
	p.serveJSON("/.well-known/openid-configuration", metadata(t, issuer, p.url("/keys")))
	p.serveJSON("/keys", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	before := runtime.NumGoroutine()

	remote, err := jwks.NewRemote(context.Background(), p.url("/jwks"), jwks.Options{})
	wantOK(t, err)
	discovered, err := jwks.NewDiscovered(context.Background(), issuer, jwks.Options{})
	wantOK(t, err)
	for _, r := range []*jwks.Remote{remote, discovered} {
		wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")))
		wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "unknown")), jwks.ErrUnknownKey)
		wantOK(t, r.Refresh(context.Background()))
	}
	if n := runtime.NumGoroutine(); n < before+2 {
		t.Fatalf("%d goroutines with two Remotes running, %d before: nothing to measure", n, before)
	}

	// A fetch of the discovered Remote hangs on the server as it is closed.
	started := make(chan struct{}, 1)
	p.hang("/keys", started)
	refreshed := make(chan error, 1)
	go func() { refreshed <- discovered.Refresh(context.Background()) }()
	recv(t, started, "refresh reaching the server")

	within(t, "Close", remote.Close)
	within(t, "Close with a fetch in flight", discovered.Close)
	select {
	case err := <-refreshed:
		if err == nil {
			t.Fatal("the fetch cancelled by Close succeeded")
		}
	case <-time.After(guard):
		t.Fatal("Refresh did not return after Close")
	}
	waitFor(t, "the goroutines of both Remotes to end", func() bool { return runtime.NumGoroutine() <= before })
	// The count above may include goroutines of earlier tests that ended
	// meanwhile: the refresh goroutines themselves must end too.
	waitFor(t, "the refresh goroutines to end", func() bool { return runGoroutines() == 0 })
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

func TestOptionsValidation(t *testing.T) {
	for _, o := range []jwks.Options{
		{RefreshInterval: -time.Second},
		{UnknownKIDInterval: -time.Second},
		{Timeout: -time.Second},
		{MaxBytes: -1},
	} {
		if r, err := jwks.NewRemote(context.Background(), "https://127.0.0.1/jwks", o); err == nil {
			r.Close()
			t.Errorf("NewRemote with %+v succeeded", o)
		}
	}
	// A negative UnknownKIDWait means never wait.
	r, err := jwks.NewRemote(context.Background(), "https://127.0.0.1:1/jwks", jwks.Options{UnknownKIDWait: -1, Timeout: time.Millisecond})
	if err != nil {
		t.Errorf("NewRemote with a negative UnknownKIDWait: %v", err)
	} else {
		r.Close()
	}
	//lint:ignore SA1012 a nil context must be refused, not panic
	if _, err := jwks.NewRemote(nil, "https://127.0.0.1/jwks", jwks.Options{}); err == nil {
		t.Error("NewRemote with nil context succeeded")
	}
}

func TestDefaults(t *testing.T) {
	if jwks.DefaultRefreshInterval != time.Hour || jwks.DefaultUnknownKIDInterval != 5*time.Minute ||
		jwks.DefaultTimeout != 10*time.Second || jwks.DefaultMaxBytes != 1<<20 ||
		jwks.DefaultUnknownKIDWait != 2*time.Second {
		t.Fatal("defaults changed")
	}
}

// TestKeyAllocatesNothing: a lookup that finds its key allocates nothing,
// through Key with a request's context or through the Keyfunc of a context
// that never ends.
func TestKeyAllocatesNothing(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}, jwk{key: ecP256(), kid: "ec"}))
	r := newRemote(t, p.url("/jwks"), jwks.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, tok := range []*jwt.Token{
		{Header: map[string]any{"alg": "RS256", "kid": "a"}},
		{Header: map[string]any{"alg": "ES256", "kid": "ec"}},
		{Header: map[string]any{"alg": "ES256"}},
	} {
		alg, kid := algKID(tok)
		if _, err := r.Key(ctx, alg, kid); err != nil {
			t.Fatalf("%v: %v", tok.Header, err)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = r.Key(ctx, alg, kid) }); n != 0 {
			t.Errorf("Key %v: %v allocations", tok.Header, n)
		}
		kf := r.Keyfunc(context.Background())
		if n := testing.AllocsPerRun(100, func() { _, _ = kf(tok) }); n != 0 {
			t.Errorf("Keyfunc(Background) %v: %v allocations", tok.Header, n)
		}
	}
}

// TestKeyAgreesWithKeyfunc: Key(ctx, alg, kid), which reads the index
// alone, gives the answer Keyfunc gives for a token with that header
// (where keyfunc reads a kid one key alone has), for every alg and kid:
// unique kids with and without a JWK "alg", a kid shared by two keys, an
// unknown kid, no kid, and algorithms the keys do not fit.
func TestKeyAgreesWithKeyfunc(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t,
		jwk{key: rsaA(), kid: "rsa"},
		jwk{key: rsaB(), kid: "rsa-256", alg: jwkset.AlgRS256},
		jwk{key: ecP256(), kid: "ec", alg: jwkset.AlgES256},
		jwk{key: ecP384(), kid: "shared"},
		jwk{key: edKey(), kid: "shared"},
	))
	r := newRemote(t, p.url("/jwks"), jwks.Options{UnknownKIDWait: -1})
	st, err := jwks.NewStatic("static", rsaA().Public(), ecP256().Public())
	wantOK(t, err)
	for _, alg := range []string{"RS256", "RS384", "PS256", "ES256", "ES384", "EdDSA", "HS256", ""} {
		for _, kid := range []string{"", "rsa", "rsa-256", "ec", "shared", "unknown"} {
			header := map[string]any{"alg": alg}
			if kid != "" {
				header["kid"] = kid
			}
			for name, set := range map[string]interface {
				jwks.Set
				jwks.KeyLookup
			}{"remote": r, "static": st} {
				want, wantErr := set.Keyfunc(context.Background())(&jwt.Token{Header: header})
				got, gotErr := set.Key(context.Background(), alg, kid)
				if !reflect.DeepEqual(got, want) || sentinel(gotErr) != sentinel(wantErr) {
					t.Errorf("%s alg %q kid %q: Key = %v, %v; Keyfunc = %v, %v", name, alg, kid, got, gotErr, want, wantErr)
				}
			}
		}
	}
}

// sentinel is the error of this package that err is, or err's text.
func sentinel(err error) string {
	for _, e := range []error{jwks.ErrUnknownKey, jwks.ErrKeyMismatch, jwks.ErrNoKeys, jwks.ErrUnavailable} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	if err != nil {
		return err.Error()
	}
	return ""
}
