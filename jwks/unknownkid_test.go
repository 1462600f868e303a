package jwks_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// requested is logged on the Keyfunc goroutine when a lookup starts a refresh.
const requested = "jwks: refresh requested"

// TestJunkKidDoesNotDelayRotation ports the review's
// TestLimiterPreemptedDelaysRotation: a token with a junk kid spends one
// refresh, the issuer then rotates in a key, and the first token with that key
// starts another refresh at once and verifies after it.
func TestJunkKidDoesNotDelayRotation(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
	logs := newLogSink()
	clock := newFakeClock()
	r := newRemote(t, p.url("/jwks"), jwks.Options{Logger: logs.logger(), Now: clock.Now})
	logs.drain()

	junk := sign(t, jwt.SigningMethodRS256, rsaC(), "junk")
	wantErr(t, verify(r, junk), jwks.ErrUnknownKey)
	logs.wait(t, "jwks: keys loaded")
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
	wantErr(t, verify(r, rotated), jwks.ErrUnknownKey)
	if n := logs.count(requested); n != 2 {
		t.Fatalf("the rotated key's first token did not start a refresh")
	}
	logs.wait(t, "jwks: keys loaded")
	wantOK(t, verify(r, rotated))
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
	logs.wait(t, "jwks: keys loaded")
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
	wantErr(t, verify(r, rotated), jwks.ErrUnknownKey)
	logs.wait(t, "jwks: refresh failed")

	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}, jwk{key: rsaB(), kid: "k2"}))
	wantErr(t, verify(r, rotated), jwks.ErrUnknownKey)
	if n := logs.count(requested); n != 2 {
		t.Fatalf("%d refreshes requested, want 2", n)
	}
	logs.wait(t, "jwks: keys loaded")
	wantOK(t, verify(r, rotated))
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
		wantErr(t, err, jwks.ErrNoKeys)
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
