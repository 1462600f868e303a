package dualauth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/keywardtest"
)

// tokenEndpoint is a token endpoint in one of the seed styles that issues
// iss's tokens to acme / acme-secret.
func tokenEndpoint(t *testing.T, iss *keywardtest.Issuer, style exchange.Style, calls *atomic.Int64, status *atomic.Int64) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if s := status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		var id, secret, grant string
		switch style {
		case exchange.StyleBasic:
			id, secret, _ = r.BasicAuth()
			grant = r.PostFormValue("grant_type")
		case exchange.StyleJSON:
			var body map[string]string
			_ = json.NewDecoder(r.Body).Decode(&body)
			id, secret, grant = body["client_id"], body["client_secret"], body["grant_type"]
		case exchange.StyleForm:
			id, secret, grant = r.PostFormValue("client_id"), r.PostFormValue("client_secret"), r.PostFormValue("grant_type")
		}
		w.Header().Set("Content-Type", "application/json")
		if grant != "client_credentials" || id != "acme" || secret != "acme-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type":   "Bearer",
			"expires_in":   900,
			"access_token": iss.Token(t, jwt.MapClaims{"client_id": id, "sub": id, "scope": "bookings:read"}),
		})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestCredentialExchange(t *testing.T) {
	for _, style := range []exchange.Style{exchange.StyleBasic, exchange.StyleJSON, exchange.StyleForm} {
		t.Run(string(style), func(t *testing.T) {
			iss := keywardtest.NewIssuer(t)
			var calls, status atomic.Int64
			endpoint := tokenEndpoint(t, iss, style, &calls, &status)
			a := newAuthenticator(t, func(c *testConfig) {
				c.Mode = dualauth.ModeDual
				c.Credentials.Exchange = &exchange.Client{TokenURL: endpoint.URL, Style: style}
			}, iss)
			good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}
			for range 3 {
				p, err := a.Authenticate(good.build())
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if p.Method != dualauth.MethodCredentials || p.ClientID != "acme" || p.Issuer != iss.URL || !p.Scopes.Has("bookings:read") {
					t.Fatalf("principal = %+v", p)
				}
			}
			if n := calls.Load(); n != 1 {
				t.Fatalf("token endpoint called %d times for 3 requests, want 1", n)
			}
			_, err := a.Authenticate(request{authorization: []string{basic("acme", "wrong")}}.build())
			if e := asError(t, err); e.Status != 401 || e.Code != dualauth.CodeInvalidClient {
				t.Fatalf("wrong secret = %d %q, want 401 invalid_client", e.Status, e.Code)
			}
			status.Store(http.StatusBadGateway)
			_, err = a.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": "other"}}.build())
			if e := asError(t, err); e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 {
				t.Fatalf("endpoint down = %d %q, want 503 with Retry-After", e.Status, e.Code)
			}
			// Cached good credentials still answer while the endpoint is down.
			if _, err := a.Authenticate(good.build()); err != nil {
				t.Fatalf("cached caller while the endpoint is down: %v", err)
			}
		})
	}
}

// exchangeCalls exchanges acme's credentials once at a form-style token
// endpoint issuing tokens of the given lifetime, moves the authenticator's
// clock by after, exchanges again, and returns how often the endpoint was
// called.
func exchangeCalls(t *testing.T, lifetime, cacheTTL, after time.Duration) int64 {
	t.Helper()
	iss := keywardtest.NewIssuer(t)
	iss.Lifetime = lifetime
	now := time.Now()
	clock := atomic.Pointer[time.Time]{}
	clock.Store(&now)
	var calls, status atomic.Int64
	endpoint := tokenEndpoint(t, iss, exchange.StyleForm, &calls, &status)
	a := newAuthenticator(t, func(c *testConfig) {
		c.Mode = dualauth.ModeCredentials
		c.Credentials.Exchange = &exchange.Client{TokenURL: endpoint.URL, Style: exchange.StyleForm}
		c.Credentials.CacheTTL = cacheTTL
		c.Now = func() time.Time { return *clock.Load() }
	}, iss)
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}
	for i, at := range []time.Time{now, now.Add(after)} {
		clock.Store(&at)
		if _, err := a.Authenticate(good.build()); err != nil {
			t.Fatalf("exchange %d: %v", i+1, err)
		}
	}
	return calls.Load()
}

// TestCredentialExchangeCachedUntilExpiry: a cached token is not used within
// 30 seconds of its expiry.
func TestCredentialExchangeCachedUntilExpiry(t *testing.T) {
	if n := exchangeCalls(t, 2*time.Minute, time.Hour, 100*time.Second); n != 2 {
		t.Fatalf("token endpoint called %d times, want 2: a cached token must not be used near its expiry", n)
	}
}

// TestCredentialExchangeCachedForTheTokensLifetime: an exchanged token is
// remembered until shortly before it expires, however short cache_ttl is.
func TestCredentialExchangeCachedForTheTokensLifetime(t *testing.T) {
	if n := exchangeCalls(t, 15*time.Minute, time.Second, 10*time.Minute); n != 1 {
		t.Fatalf("token endpoint called %d times, want 1: the token is still good", n)
	}
}
