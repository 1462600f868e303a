package dualauth_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// closingVerifier records whether Close reached it.
type closingVerifier struct {
	clientauth.Verifier
	closed atomic.Int32
}

func (v *closingVerifier) Close() error {
	v.closed.Add(1)
	return errors.New("verifier closed")
}

// TestCloseLeavesNoGoroutine: an Authenticator that refreshed keys, checked
// client credentials (coalesced, throttled, cached) and verified tokens
// leaves no goroutine behind once Close returns; Close reaches the key sets
// and the verifier once, whichever view is closed, and reports the
// verifier's error.
func TestCloseLeavesNoGoroutine(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	path := registryFile(t, t.TempDir(), testClients)
	reg, err := clients.Open(path, clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()

	set, err := jwks.NewRemote(context.Background(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	verifier := &closingVerifier{Verifier: reg}
	a, err := build(testConfig{
		Mode:        dualauth.ModeDual,
		Issuers:     []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: set}},
		Credentials: credentials{Verifier: verifier},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(t.Context(), iss.Token(t, nil), ""); err != nil {
		t.Fatal(err)
	}
	if err := set.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 8)
	for i := range 8 {
		secret := "acme-secret"
		if i%2 == 1 {
			secret = "wrong"
		}
		go func() {
			_, err := a.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": secret}}.build())
			done <- err
		}()
	}
	for range 8 {
		<-done
	}
	jwtOnly, err := a.ForMode(dualauth.ModeJWT)
	if err != nil {
		t.Fatal(err)
	}
	if err := jwtOnly.Close(); err == nil || err.Error() != "verifier closed" {
		t.Fatalf("Close = %v, want the verifier's error", err)
	}
	if err := a.Close(); err == nil {
		t.Fatal("a second Close lost the first one's error")
	}
	if n := verifier.closed.Load(); n != 1 {
		t.Fatalf("verifier closed %d times, want 1", n)
	}
	// Idle HTTP connections of the test client end asynchronously; wait for
	// the count to settle, bounded.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		runtime.Gosched()
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
	// Keys held stay usable after Close.
	if _, err := a.Verify(t.Context(), iss.Token(t, nil), ""); err != nil {
		t.Fatalf("Verify after Close: %v", err)
	}
}
