package dualauth_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// TestKeyServerOutage: while the issuer's key set holds no key because the
// key server is down, a valid token is answered 503 temporarily_unavailable
// with Retry-After (the server's trouble, not the caller's); once keys
// arrive it verifies, and a token naming an unknown kid in the healthy set
// is 401 again.
func TestKeyServerOutage(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	var up atomic.Bool
	keyServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		body, err := iss.JWKS()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(keyServer.Close)
	set, err := jwks.NewRemote(t.Context(), keyServer.URL, jwks.Options{UnknownKIDWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Close)
	a, err := build(testConfig{Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: set}}})
	if err != nil {
		t.Fatal(err)
	}
	token := iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})

	_, err = a.Verify(t.Context(), token, "")
	e := asError(t, err)
	if e.Status != http.StatusServiceUnavailable || e.Code != dualauth.CodeTemporarilyUnavailable || e.RetryAfter < 1e9 || e.RetryAfter > 30e9 {
		t.Fatalf("key server down: %d %s (%s), Retry-After %s; want 503 temporarily_unavailable, 1s to 30s", e.Status, e.Code, e.Description, e.RetryAfter)
	}
	if r := a.Refusal(nil, err); len(r.Challenges) != 0 || r.Status != http.StatusServiceUnavailable {
		t.Fatalf("refusal while down: %d, challenges %q", r.Status, r.Challenges)
	}

	up.Store(true)
	if err := set.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Verify(t.Context(), token, ""); err != nil {
		t.Fatalf("after the keys arrived: %v", err)
	}
	stranger, err := keywardtest.NewKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.Verify(t.Context(), iss.Sign(t, stranger, nil, iss.Claims(nil)), "")
	if e := asError(t, err); e.Status != http.StatusUnauthorized || e.Code != dualauth.CodeInvalidToken {
		t.Fatalf("unknown kid in a healthy set: %d %s, want 401 invalid_token", e.Status, e.Code)
	}
}
