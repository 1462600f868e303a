package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// opaqueIssuer is an authorization server of opaque tokens: an RFC 7662
// introspection endpoint on 127.0.0.1 that knows one active token, accepts
// its client keyward-rs / keyward-rs-secret in Basic, and counts its calls.
type opaqueIssuer struct {
	*httptest.Server
	token string
	calls atomic.Int64
}

func newOpaqueIssuer(t *testing.T, token, scope string) *opaqueIssuer {
	o := &opaqueIssuer{token: token}
	o.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.calls.Add(1)
		if id, secret, ok := r.BasicAuth(); !ok || id != "keyward-rs" || secret != "keyward-rs-secret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		answer := map[string]any{"active": false}
		if r.PostFormValue("token") == o.token {
			answer = map[string]any{
				"active": true, "scope": scope, "client_id": "opaque-app", "sub": "opaque-app",
				"iss": o.URL, "exp": time.Now().Add(time.Hour).Unix(),
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(answer)
	}))
	t.Cleanup(o.Close)
	return o
}

// TestServeOpaqueToken: `keyward serve` with a file whose issuer's tokens
// are all opaque is ready at once (it has no key set to fetch), answers an
// active one from the introspection endpoint
// (200 with the identity headers, 403 for a scope it lacks), an unknown one
// 401 invalid_token, and, in mode jwt with credentials.throttle, the guesses
// of one forwarded client address 429 with Retry-After once its budget is
// spent, without asking the endpoint, while other clients are still
// answered.
func TestServeOpaqueToken(t *testing.T) {
	t.Parallel()
	const token = "ory_at_serve-opaque-token"
	iss := newOpaqueIssuer(t, token, "bookings:read")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "rs.secret"), []byte("keyward-rs-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keyward := startServe(t, fmt.Sprintf(`jwt:
  issuers:
    - issuer: %s
      audiences: [bookings-api]
      introspection:
        endpoint: %s/oauth/introspect
        client_id: keyward-rs
        client_secret_file: %s
credentials:
  throttle:
    max_address_failures: 2
    window: 1h
`, iss.URL, iss.URL, filepath.Join(dir, "rs.secret"))+testRoutes)
	ask := func(method, uri, token, forwardedFor string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(http.MethodGet, "http://"+keyward+"/auth", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Forwarded-Method", method)
		req.Header.Set("X-Forwarded-Uri", uri)
		req.Header.Set("X-Forwarded-For", forwardedFor)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}

	// No key set to wait for: ready at once.
	for _, path := range []string{"/livez", "/readyz", "/healthz"} {
		if status, body := httpGet(t, "http://"+keyward+path); status != http.StatusOK {
			t.Errorf("%s: %d %s; want 200", path, status, body)
		}
	}
	res := ask("GET", "/v1/bookings", token, "198.51.100.1")
	if res.StatusCode != http.StatusOK || res.Header.Get("X-Auth-Client-Id") != "opaque-app" ||
		res.Header.Get("X-Auth-Scopes") != "bookings:read" || res.Header.Get("X-Auth-Issuer") != iss.URL {
		t.Errorf("an active opaque token: %d, identity %q %q %q; want 200 for opaque-app with bookings:read",
			res.StatusCode, res.Header.Get("X-Auth-Client-Id"), res.Header.Get("X-Auth-Scopes"), res.Header.Get("X-Auth-Issuer"))
	}
	if res := ask("POST", "/v1/bookings", token, "198.51.100.1"); res.StatusCode != http.StatusForbidden ||
		!strings.Contains(res.Header.Get("WWW-Authenticate"), `error="insufficient_scope"`) {
		t.Errorf("a scope the token lacks: %d %q, want 403 insufficient_scope", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	for i := range 2 {
		if res := ask("GET", "/v1/bookings", fmt.Sprintf("guess-%d", i), "198.51.100.7"); res.StatusCode != http.StatusUnauthorized ||
			!strings.Contains(res.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
			t.Fatalf("guess %d: %d %q, want 401 invalid_token", i, res.StatusCode, res.Header.Get("WWW-Authenticate"))
		}
	}
	calls := iss.calls.Load()
	if res := ask("GET", "/v1/bookings", "guess-2", "198.51.100.7"); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("a guess over the budget: %d, Retry-After %q; want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if n := iss.calls.Load() - calls; n != 0 {
		t.Errorf("a throttled guess made %d introspection calls", n)
	}
	if res := ask("GET", "/v1/bookings", "guess-3", "198.51.100.8"); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("another client's guess: %d, want 401", res.StatusCode)
	}
}
