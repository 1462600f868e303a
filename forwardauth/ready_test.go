package forwardauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// keyServer is a JWKS endpoint on loopback that serves iss's keys while
// up and 503 while down; Close takes it off the network.
type keyServer struct {
	*httptest.Server
	up atomic.Bool
}

func newKeyServer(t *testing.T, iss *keywardtest.Issuer) *keyServer {
	t.Helper()
	body, err := iss.JWKS()
	if err != nil {
		t.Fatal(err)
	}
	ks := &keyServer{}
	ks.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ks.up.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(ks.Close)
	return ks
}

// TestReadiness: /livez answers 200 while the service serves; /readyz 503
// until every issuer's key set has loaded once, then 200 for good — through
// a later key server outage, while tokens still verify against the last
// keys held; /healthz reports each issuer's keys now (503 while one holds
// none). The key sets are refreshed by hand: no waiting on timers.
func TestReadiness(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	first, second := keywardtest.NewIssuer(t), keywardtest.NewIssuer(t)
	firstKeys, secondKeys := newKeyServer(t, first), newKeyServer(t, second)
	remote := func(ks *keyServer) *jwks.Remote {
		keys, err := jwks.NewRemote(ctx, ks.URL+"/jwks.json", jwks.Options{RefreshInterval: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(keys.Close)
		return keys
	}
	firstSet, secondSet := remote(firstKeys), remote(secondKeys) // both down: nothing loaded
	authn, err := keywardtest.Config{JWT: jwtauth.Config{Issuers: []jwtauth.Issuer{
		{Issuer: first.URL, Audiences: []string{first.Audience}, Keys: firstSet},
		{Issuer: second.URL, Audiences: []string{second.Audience}, Keys: secondSet},
	}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, authn, forwardauth.Config{Routes: issueRoutes})
	token := "Bearer " + first.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	check := func(step string, live, ready, health, auth int) {
		t.Helper()
		for _, c := range []struct {
			path string
			want int
		}{{"/livez", live}, {"/readyz", ready}, {"/healthz", health}} {
			w := ask(h, "GET", c.path, nil)
			if w.Code != c.want || w.Header().Get("Cache-Control") != "no-store" || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Errorf("%s: GET %s: %d %q %v; want %d, JSON, no-store", step, c.path, w.Code, w.Body.String(), w.Header(), c.want)
			}
			if strings.Contains(w.Body.String(), firstKeys.URL) || strings.Contains(w.Body.String(), secondKeys.URL) {
				t.Errorf("%s: GET %s names a key source: %s", step, c.path, w.Body.String())
			}
		}
		w := ask(h, "GET", "/auth", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "Authorization", token))
		if w.Code != auth {
			t.Errorf("%s: /auth with a token: %d %s; want %d", step, w.Code, w.Body.String(), auth)
		}
	}
	check("no key set loaded", 200, 503, 503, 503)

	firstKeys.up.Store(true)
	if err := firstSet.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	check("one of two loaded", 200, 503, 503, 200)
	if w := ask(h, "GET", "/readyz", nil); w.Body.String() != `{"status":"loading_keys","issuers":["`+second.URL+`"]}` {
		t.Errorf("/readyz with one of two loaded: %s; want the issuer still loading", w.Body.String())
	}

	secondKeys.up.Store(true)
	if err := secondSet.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	check("both loaded", 200, 200, 200, 200)

	// The key servers go away: the keys held keep verifying, and the
	// service stays ready.
	firstKeys.Close()
	secondKeys.up.Store(false)
	if err := firstSet.Refresh(ctx); err == nil {
		t.Fatal("refresh from a closed server succeeded")
	}
	if err := secondSet.Refresh(ctx); err == nil {
		t.Fatal("refresh from a failing server succeeded")
	}
	check("key servers down after loading", 200, 200, 200, 200)
	if w := ask(h, "GET", "/healthz", nil); !strings.Contains(w.Body.String(), `"healthy":false`) {
		t.Errorf("/healthz after failed refreshes: %s; want the issuers unhealthy", w.Body.String())
	}

	// Only GET and HEAD.
	for _, path := range []string{"/livez", "/readyz"} {
		if w := ask(h, "POST", path, nil); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q; want 405", path, w.Code, w.Header().Get("Allow"))
		}
		if w := ask(h, "HEAD", path, nil); w.Code != 200 || w.Body.Len() != 0 {
			t.Errorf("HEAD %s: %d %q; want 200 and no body", path, w.Code, w.Body.String())
		}
	}
}

// TestReadyWithoutKeySets: with no issuers (client credentials only) there
// is nothing to wait for.
func TestReadyWithoutKeySets(t *testing.T) {
	t.Parallel()
	authn, err := keywardtest.Config{Config: dualauth.Config{Mode: dualauth.ModeCredentials}, Clients: clientauth.Config{Verifier: testClients}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(t, authn, forwardauth.Config{Routes: issueRoutes})
	if w := ask(h, "GET", "/readyz", nil); w.Code != 200 {
		t.Errorf("/readyz: %d %s; want 200", w.Code, w.Body.String())
	}
}
