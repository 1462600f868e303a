package authserver_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
)

func TestRefreshRotates(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	first := ts.globexToken(t)
	ts.Clock.Add(time.Minute)
	second := ts.refresh(t, first.str("refresh_token"))
	checkTokenResponse(t, ts, second, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
	if rt := second.str("refresh_token"); rt == "" || rt == first.str("refresh_token") {
		t.Fatalf("refresh_token %q: want a new one", rt)
	}
	third := ts.refresh(t, second.str("refresh_token"))
	checkTokenResponse(t, ts, third, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
}

func TestRefreshSingleUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		depth int // rotations before the reuse
		reuse int // which token of the chain is presented again
	}{
		{"reuse the first, its successor is revoked", 1, 0},
		{"reuse the first, every descendant is revoked", 3, 0},
		{"reuse one in the middle", 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
			chain := []string{ts.globexToken(t).str("refresh_token")}
			for range tc.depth {
				resp := ts.refresh(t, chain[len(chain)-1])
				if resp.status != http.StatusOK {
					t.Fatalf("status %d, body %s", resp.status, resp.raw)
				}
				chain = append(chain, resp.str("refresh_token"))
			}
			other := ts.globexToken(t).str("refresh_token") // another family

			checkError(t, ts.refresh(t, chain[tc.reuse]), http.StatusBadRequest, "invalid_grant")
			for _, rt := range chain {
				checkError(t, ts.refresh(t, rt), http.StatusBadRequest, "invalid_grant")
			}
			if resp := ts.refresh(t, other); resp.status != http.StatusOK {
				t.Fatalf("another grant's refresh token: status %d, body %s", resp.status, resp.raw)
			}
		})
	}
}

func TestRefreshExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ttl    time.Duration
		wait   time.Duration
		status int
	}{
		{"default, just before", 0, authserver.DefaultRefreshTTL - time.Second, http.StatusOK},
		{"default, at expiry", 0, authserver.DefaultRefreshTTL, http.StatusBadRequest},
		{"1h, just before", time.Hour, time.Hour - time.Second, http.StatusOK},
		{"1h, after", time.Hour, time.Hour + time.Minute, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.RefreshTTL = tc.ttl; c.Algorithm = "ES256" })
			rt := ts.globexToken(t).str("refresh_token")
			ts.Clock.Add(tc.wait)
			resp := ts.refresh(t, rt)
			if tc.status != http.StatusOK {
				checkError(t, resp, tc.status, "invalid_grant")
				return
			}
			checkTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
			// The new refresh token has its own lifetime from now.
			ts.Clock.Add(tc.wait)
			if resp := ts.refresh(t, resp.str("refresh_token")); resp.status != http.StatusOK {
				t.Fatalf("successor: status %d, body %s", resp.status, resp.raw)
			}
		})
	}
}

func TestRefreshSweep(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
	for range 3 {
		ts.globexToken(t)
	}
	if n := authserver.RefreshTokensStored(ts.Server); n != 3 {
		t.Fatalf("stored %d, want 3", n)
	}
	ts.Clock.Add(authserver.DefaultRefreshTTL)
	ts.globexToken(t)
	if n := authserver.RefreshTokensStored(ts.Server); n != 1 {
		t.Fatalf("stored %d after expiry, want 1", n)
	}
}

func TestRefreshBelongsToClient(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	rt := ts.globexToken(t).str("refresh_token")
	checkError(t, ts.refresh(t, rt, "acme", "acme-secret"), http.StatusBadRequest, "invalid_grant")
	// Wrong or missing credentials are invalid_client, before the token is looked at.
	checkError(t, ts.refresh(t, rt, "globex", "not-the-secret"), http.StatusUnauthorized, "invalid_client")
	resp := ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt)})
	checkError(t, resp, http.StatusUnauthorized, "invalid_client")
	// None of that used the token up.
	if resp := ts.refresh(t, rt); resp.status != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.status, resp.raw)
	}
}

func TestRefreshCredentialStyles(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	rt := ts.globexToken(t).str("refresh_token")
	resp := ts.mustToken(t, request{path: authserver.PathToken, json: map[string]string{
		"grant_type": "refresh_token", "refresh_token": rt, "client_id": "globex", "client_secret": "globex-secret"}})
	ts.mustToken(t, request{path: authserver.PathToken, form: formOf(
		"grant_type", "refresh_token", "refresh_token", resp.str("refresh_token"), "client_id", "globex", "client_secret", "globex-secret")})
}

func TestRefreshScopes(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	refresh := func(rt, scope string) response {
		form := formOf("grant_type", "refresh_token", "refresh_token", rt)
		if scope != "" {
			form.Set("scope", scope)
		}
		return ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: form})
	}

	narrow := ts.globexToken(t, "scope", "bookings:read")
	// Widening beyond the original grant is invalid_scope and leaves the token usable.
	checkError(t, refresh(narrow.str("refresh_token"), "bookings:create"), http.StatusBadRequest, "invalid_scope")
	checkError(t, refresh(narrow.str("refresh_token"), "bookings:read bookings:create"), http.StatusBadRequest, "invalid_scope")
	resp := refresh(narrow.str("refresh_token"), "")
	checkTokenResponse(t, ts, resp, "globex", "bookings:read", authserver.LifetimeToken)

	// Narrowing an access token keeps the refresh token's full scope (RFC 6749 §6).
	full := ts.globexToken(t)
	resp = refresh(full.str("refresh_token"), "bookings:create")
	checkTokenResponse(t, ts, resp, "globex", "bookings:create", authserver.LifetimeToken)
	resp = refresh(resp.str("refresh_token"), "")
	checkTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
}
