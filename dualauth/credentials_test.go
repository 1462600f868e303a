package dualauth_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// testClients are the registry's clients: id → secret.
var testClients = map[string]string{
	"acme":      "acme-secret",
	"partner:7": "p@ss w%rd+/=é",
	"initech":   "initech-secret", // disabled
}

var registryMu sync.Mutex

// registryFile writes a registry of testClients (argon2id with the cheapest parameters allowed) with the
// given secret overrides and returns its path.
func registryFile(t *testing.T, dir string, secrets map[string]string, disabled ...string) string {
	t.Helper()
	registryMu.Lock()
	defer registryMu.Unlock()
	var b strings.Builder
	b.WriteString("clients:\n")
	for id, secret := range secrets {
		h, err := clients.HashSecret(secret, clients.HashParams{Algorithm: clients.AlgArgon2id, Argon2: clients.Argon2Params{Memory: clients.MinArgon2Memory, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		off := id == "initech"
		for _, d := range disabled {
			off = off || d == id
		}
		fmt.Fprintf(&b, "  - client_id: %q\n    secret_hash: %q\n    scopes: [bookings:read]\n    disabled: %v\n", id, h, off)
	}
	path := filepath.Join(dir, "clients.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// countingVerifier counts the checks that reach the real verifier, to see
// what the cache answers.
type countingVerifier struct {
	clientauth.Verifier
	calls atomic.Int64
}

func (c *countingVerifier) VerifyClient(ctx context.Context, id, secret string) (*dualauth.Principal, error) {
	c.calls.Add(1)
	return c.Verifier.VerifyClient(ctx, id, secret)
}

func (c *countingVerifier) Generation() uint64 {
	return c.Verifier.(interface{ Generation() uint64 }).Generation()
}

type credSetup struct {
	auth     *dualauth.Authenticator
	iss      *keywardtest.Issuer
	registry *clients.Registry
	path     string
	verifier *countingVerifier
}

func newCredSetup(t *testing.T, mode dualauth.Mode, edit func(*testConfig)) *credSetup {
	t.Helper()
	s := &credSetup{iss: keywardtest.NewIssuer(t)}
	s.path = registryFile(t, t.TempDir(), testClients)
	var err error
	if s.registry, err = clients.Open(s.path, clients.Options{}); err != nil {
		t.Fatal(err)
	}
	s.verifier = &countingVerifier{Verifier: s.registry}
	s.auth = newAuthenticator(t, func(c *testConfig) {
		c.Mode = mode
		c.Credentials.Verifier = s.verifier
		if edit != nil {
			edit(c)
		}
	}, s.iss)
	return s
}

func basic(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

type request struct {
	authorization []string
	headers       map[string]string
	remote        string
}

func (rq request) build() *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	for _, v := range rq.authorization {
		r.Header.Add("Authorization", v)
	}
	for k, v := range rq.headers {
		r.Header.Add(k, v)
	}
	if rq.remote != "" {
		r.RemoteAddr = rq.remote
	}
	return r
}

func TestCredentialModes(t *testing.T) {
	setups := map[dualauth.Mode]*credSetup{}
	for _, m := range []dualauth.Mode{dualauth.ModeJWT, dualauth.ModeCredentials, dualauth.ModeDual} {
		setups[m] = newCredSetup(t, m, nil)
	}
	bearer := func(s *credSetup) string { return "Bearer " + s.iss.Token(t, nil) }
	good := map[string]string{"client_id": "acme", "client_secret": "acme-secret"}
	type want struct {
		status int    // 0: accepted
		code   string // error code
		method dualauth.Method
	}
	tests := []struct {
		name string
		req  func(s *credSetup) request
		want map[dualauth.Mode]want
	}{
		{"bearer", func(s *credSetup) request { return request{authorization: []string{bearer(s)}} }, map[dualauth.Mode]want{
			dualauth.ModeJWT: {method: dualauth.MethodJWT}, dualauth.ModeCredentials: {status: 401}, dualauth.ModeDual: {method: dualauth.MethodJWT}}},
		{"client headers", func(*credSetup) request { return request{headers: good} }, map[dualauth.Mode]want{
			dualauth.ModeJWT: {status: 401}, dualauth.ModeCredentials: {method: dualauth.MethodCredentials}, dualauth.ModeDual: {method: dualauth.MethodCredentials}}},
		{"basic", func(*credSetup) request { return request{authorization: []string{basic("acme", "acme-secret")}} }, map[dualauth.Mode]want{
			dualauth.ModeJWT: {status: 401}, dualauth.ModeCredentials: {method: dualauth.MethodCredentials}, dualauth.ModeDual: {method: dualauth.MethodCredentials}}},
		{"bearer and client headers", func(s *credSetup) request { return request{authorization: []string{bearer(s)}, headers: good} }, map[dualauth.Mode]want{
			dualauth.ModeJWT: {method: dualauth.MethodJWT}, dualauth.ModeCredentials: {method: dualauth.MethodCredentials}, dualauth.ModeDual: {status: 400, code: dualauth.CodeInvalidRequest}}},
		{"basic and client headers", func(*credSetup) request {
			return request{authorization: []string{basic("acme", "acme-secret")}, headers: good}
		}, map[dualauth.Mode]want{
			dualauth.ModeJWT: {status: 401}, dualauth.ModeCredentials: {status: 400, code: dualauth.CodeInvalidRequest}, dualauth.ModeDual: {status: 400, code: dualauth.CodeInvalidRequest}}},
		{"nothing", func(*credSetup) request { return request{} }, map[dualauth.Mode]want{
			dualauth.ModeJWT: {status: 401}, dualauth.ModeCredentials: {status: 401}, dualauth.ModeDual: {status: 401}}},
		{"id without secret", func(*credSetup) request { return request{headers: map[string]string{"client_id": "acme"}} }, map[dualauth.Mode]want{
			dualauth.ModeJWT: {status: 401}, dualauth.ModeCredentials: {status: 400, code: dualauth.CodeInvalidRequest}, dualauth.ModeDual: {status: 400, code: dualauth.CodeInvalidRequest}}},
		{"secret without id", func(*credSetup) request { return request{headers: map[string]string{"client_secret": "x"}} }, map[dualauth.Mode]want{
			dualauth.ModeCredentials: {status: 400, code: dualauth.CodeInvalidRequest}, dualauth.ModeDual: {status: 400, code: dualauth.CodeInvalidRequest}}},
		{"wrong secret", func(*credSetup) request {
			return request{headers: map[string]string{"client_id": "acme", "client_secret": "nope"}}
		}, map[dualauth.Mode]want{
			dualauth.ModeCredentials: {status: 401, code: dualauth.CodeInvalidClient}, dualauth.ModeDual: {status: 401, code: dualauth.CodeInvalidClient}}},
		{"unknown client", func(*credSetup) request { return request{authorization: []string{basic("nobody", "acme-secret")}} }, map[dualauth.Mode]want{
			dualauth.ModeCredentials: {status: 401, code: dualauth.CodeInvalidClient}, dualauth.ModeDual: {status: 401, code: dualauth.CodeInvalidClient}}},
		{"disabled client", func(*credSetup) request { return request{authorization: []string{basic("initech", "initech-secret")}} }, map[dualauth.Mode]want{
			dualauth.ModeCredentials: {status: 401, code: dualauth.CodeInvalidClient}, dualauth.ModeDual: {status: 401, code: dualauth.CodeInvalidClient}}},
		{"basic with form-encoded special characters", func(*credSetup) request {
			return request{authorization: []string{basic("partner:7", "p@ss w%rd+/=é")}}
		}, map[dualauth.Mode]want{
			dualauth.ModeCredentials: {method: dualauth.MethodCredentials}, dualauth.ModeDual: {method: dualauth.MethodCredentials}}},
		{"basic not base64", func(*credSetup) request { return request{authorization: []string{"Basic !!!"}} }, map[dualauth.Mode]want{
			dualauth.ModeCredentials: {status: 400, code: dualauth.CodeInvalidRequest}}},
		{"basic without colon", func(*credSetup) request {
			return request{authorization: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("acme"))}}
		}, map[dualauth.Mode]want{dualauth.ModeCredentials: {status: 400, code: dualauth.CodeInvalidRequest}}},
		{"basic bad percent-encoding", func(*credSetup) request {
			return request{authorization: []string{"Basic " + base64.StdEncoding.EncodeToString([]byte("acme:%zz"))}}
		}, map[dualauth.Mode]want{dualauth.ModeCredentials: {status: 400, code: dualauth.CodeInvalidRequest}}},
		{"lowercase basic scheme", func(*credSetup) request {
			return request{authorization: []string{"basic " + strings.TrimPrefix(basic("acme", "acme-secret"), "Basic ")}}
		}, map[dualauth.Mode]want{dualauth.ModeDual: {method: dualauth.MethodCredentials}}},
		{"oversized secret", func(*credSetup) request {
			return request{headers: map[string]string{"client_id": "acme", "client_secret": strings.Repeat("s", 2000)}}
		}, map[dualauth.Mode]want{dualauth.ModeDual: {status: 401, code: dualauth.CodeInvalidClient}}},
	}
	for _, tt := range tests {
		for mode, w := range tt.want {
			t.Run(tt.name+"/"+string(mode), func(t *testing.T) {
				s := setups[mode]
				p, err := s.auth.Authenticate(tt.req(s).build())
				if w.status == 0 {
					if err != nil {
						t.Fatalf("Authenticate: %v", err)
					}
					if p.Method != w.method {
						t.Fatalf("method = %q, want %q", p.Method, w.method)
					}
					if p.Method == dualauth.MethodCredentials && (p.ClientID == "" || p.Subject != p.ClientID || !p.Scopes.Has("bookings:read")) {
						t.Fatalf("credential principal = %+v", p)
					}
					return
				}
				e := asError(t, err)
				if e.Status != w.status || e.Code != w.code {
					t.Fatalf("error = %d %q (%s), want %d %q", e.Status, e.Code, e.Description, w.status, w.code)
				}
				for _, secret := range testClients {
					if strings.Contains(e.Error(), secret) {
						t.Fatal("error text contains a secret")
					}
				}
			})
		}
	}
}

func TestCredentialHeaderNames(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, func(c *testConfig) {
		c.Credentials.ClientIDHeader = "X-Client-Id"
		c.Credentials.ClientSecretHeader = "X-Client-Secret"
		c.Credentials.DisableBasic = true
	})
	if _, err := s.auth.Authenticate(request{headers: map[string]string{"x-client-id": "acme", "X-CLIENT-SECRET": "acme-secret"}}.build()); err != nil {
		t.Fatalf("custom headers: %v", err)
	}
	_, err := s.auth.Authenticate(request{authorization: []string{basic("acme", "acme-secret")}}.build())
	if !noCredentials(err) {
		t.Fatalf("Basic with Basic disabled: %v, want no credentials", err)
	}
	if c := s.auth.Refusal(nil, err).Challenges; len(c) != 0 {
		t.Fatalf("challenges with DisableBasic on a credentials route = %q, want none", c)
	}
}

func TestCredentialRepeatedHeader(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeDual, nil)
	r := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}.build()
	r.Header.Add("client_secret", "other")
	e := asError(t, func() error { _, err := s.auth.Authenticate(r); return err }())
	if e.Status != 400 || e.Code != dualauth.CodeInvalidRequest {
		t.Fatalf("error = %d %q", e.Status, e.Code)
	}
}

func TestCredentialCache(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeDual, nil)
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}
	for range 5 {
		if _, err := s.auth.Authenticate(good.build()); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.verifier.calls.Load(); n != 1 {
		t.Fatalf("verifier called %d times for 5 good requests, want 1 (cached)", n)
	}
	// The same id with another secret is not answered from the cache.
	bad := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret2"}}
	for range 2 {
		if _, err := s.auth.Authenticate(bad.build()); err == nil {
			t.Fatal("a wrong secret was accepted")
		}
	}
	if n := s.verifier.calls.Load(); n != 3 {
		t.Fatalf("verifier called %d times, want 3: failures are never cached", n)
	}
	// Basic and headers share the cache: same id and secret.
	if _, err := s.auth.Authenticate(request{authorization: []string{basic("acme", "acme-secret")}}.build()); err != nil {
		t.Fatal(err)
	}
	if n := s.verifier.calls.Load(); n != 3 {
		t.Fatalf("verifier called %d times, want 3", n)
	}
}

func TestCredentialCacheDroppedOnReload(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, nil)
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}
	if _, err := s.auth.Authenticate(good.build()); err != nil {
		t.Fatal(err)
	}
	// Rotate acme's secret.
	rotated := map[string]string{"acme": "acme-secret-v2", "initech": "initech-secret"}
	registryFile(t, filepath.Dir(s.path), rotated)
	if err := s.registry.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.auth.Authenticate(good.build()); err == nil {
		t.Fatal("the old secret was accepted from the cache after the registry changed")
	}
	next := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret-v2"}}
	if _, err := s.auth.Authenticate(next.build()); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	// Disable acme: takes effect at once.
	registryFile(t, filepath.Dir(s.path), rotated, "acme")
	if err := s.registry.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.auth.Authenticate(next.build()); err == nil {
		t.Fatal("a disabled client was accepted from the cache")
	}
}

func TestCredentialThrottle(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeDual, func(c *testConfig) {
		c.Credentials.Throttle = clientauth.Throttle{MaxClientFailures: 3, MaxAddrFailures: 5}
	})
	const guesser = "198.51.100.7:1000"
	guess := func(id, remote string) *dualauth.Error {
		_, err := s.auth.Authenticate(request{headers: map[string]string{"client_id": id, "client_secret": "guess"}, remote: remote}.build())
		return asError(t, err)
	}
	for i := range 3 {
		if e := guess("acme", guesser); e.Status != 401 {
			t.Fatalf("guess %d: status %d, want 401", i, e.Status)
		}
	}
	e := guess("acme", guesser)
	if e.Status != http.StatusTooManyRequests || e.Code != dualauth.CodeTooManyRequests || e.RetryAfter <= 0 {
		t.Fatalf("4th guess on acme = %d %q retry %v, want 429 with Retry-After", e.Status, e.Code, e.RetryAfter)
	}
	calls := s.verifier.calls.Load()
	guess("acme", guesser)
	if s.verifier.calls.Load() != calls {
		t.Fatal("a throttled guess still reached the verifier")
	}
	// The guesser's failures are its own: the real client, from its own
	// address and never verified before, is not locked out.
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}, remote: "192.0.2.1:1000"}
	if _, err := s.auth.Authenticate(good.build()); err != nil {
		t.Fatalf("the real client while acme is guessed at: %v", err)
	}
	// Per address: 5 failures from one address across different ids.
	for i := range 2 {
		guess(fmt.Sprintf("user%d", i), guesser)
	}
	if e := guess("user9", guesser); e.Status != http.StatusTooManyRequests {
		t.Fatalf("6th failure from one address = %d, want 429", e.Status)
	}
}

// TestCredentialThrottleKnownPair: a pair that verified before passes the
// failure gate even when its cache entry is gone (here: a registry reload)
// and its address is throttled, so a guesser sharing the address (a NAT, a
// proxy) cannot lock the real client out.
func TestCredentialThrottleKnownPair(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeDual, func(c *testConfig) {
		c.Credentials.Throttle = clientauth.Throttle{MaxClientFailures: 2, MaxAddrFailures: 2}
	})
	const shared = "203.0.113.9:1"
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}, remote: shared}
	if _, err := s.auth.Authenticate(good.build()); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, _ = s.auth.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": "guess"}, remote: shared}.build())
	}
	registryFile(t, filepath.Dir(s.path), map[string]string{"acme": "acme-secret", "globex": "globex-secret"})
	if err := s.registry.Reload(); err != nil {
		t.Fatal(err)
	}
	calls := s.verifier.calls.Load()
	if _, err := s.auth.Authenticate(good.build()); err != nil {
		t.Fatalf("known pair on a throttled address after a reload: %v", err)
	}
	if s.verifier.calls.Load() != calls+1 {
		t.Fatal("the known pair was not verified again after the reload")
	}
}

// TestCredentialThrottleConcurrent: concurrent guesses from one address
// cannot all slip through before the first failure is counted.
func TestCredentialThrottleConcurrent(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, func(c *testConfig) {
		c.Credentials.Throttle = clientauth.Throttle{MaxClientFailures: 3, MaxAddrFailures: 5}
	})
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = s.auth.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": fmt.Sprint("guess", i)}, remote: "198.51.100.1:1"}.build())
		}()
	}
	wg.Wait()
	if n := s.verifier.calls.Load(); n > 3 {
		t.Fatalf("%d of 60 concurrent guesses reached the verifier, want at most 3", n)
	}
}

// TestCredentialConcurrentSamePair: concurrent requests with the same good
// pair share one verification.
func TestCredentialConcurrentSamePair(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, nil)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := s.auth.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}.build()); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d of 20 good requests failed", failed.Load())
	}
	if n := s.verifier.calls.Load(); n > 2 {
		t.Fatalf("20 concurrent requests with one pair cost %d verifications", n)
	}
}

// TestCredentialPrincipalIsACopy: a handler changing its caller does not
// change the cached one.
func TestCredentialPrincipalIsACopy(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, nil)
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}
	p, err := s.auth.Authenticate(good.build())
	if err != nil {
		t.Fatal(err)
	}
	p.Scopes[0] = "admin"
	p2, err := s.auth.Authenticate(good.build())
	if err != nil {
		t.Fatal(err)
	}
	if p2.Scopes.Has("admin") || !p2.Scopes.Has("bookings:read") {
		t.Fatalf("cached scopes changed: %q", p2.Scopes)
	}
}

func TestCredentialNewRejects(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	keys := remoteSet(t, iss)
	issuers := []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{"a"}, Keys: keys}}
	reg, err := clients.Open(registryFile(t, t.TempDir(), map[string]string{"acme": "acme-secret"}), clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v := reg
	for name, cfg := range map[string]testConfig{
		"credentials without verifier": {Mode: dualauth.ModeCredentials},
		"dual without verifier":        {Mode: dualauth.ModeDual, Issuers: issuers},
		"dual without issuers":         {Mode: dualauth.ModeDual, Credentials: credentials{Verifier: v}},
		"same header twice":            {Mode: dualauth.ModeCredentials, Credentials: credentials{Verifier: v, ClientIDHeader: "X-A", ClientSecretHeader: "x-a"}},
		"authorization as header":      {Mode: dualauth.ModeCredentials, Credentials: credentials{Verifier: v, ClientIDHeader: "Authorization"}},
		"bad header name":              {Mode: dualauth.ModeCredentials, Credentials: credentials{Verifier: v, ClientIDHeader: "client id"}},
		"negative window":              {Mode: dualauth.ModeCredentials, Credentials: credentials{Verifier: v, Throttle: clientauth.Throttle{Window: -1}}},
	} {
		if _, err := build(cfg); err == nil {
			t.Errorf("%s: New accepted the config", name)
		}
	}
	a, err := build(testConfig{Mode: dualauth.ModeCredentials, Credentials: credentials{Verifier: v}})
	if err != nil {
		t.Fatalf("credentials-only config: %v", err)
	}
	for mode, serves := range map[dualauth.Mode]bool{dualauth.ModeJWT: false, dualauth.ModeDual: false, dualauth.ModeCredentials: true, "bogus": false} {
		if _, err := a.ForMode(mode); (err == nil) != serves {
			t.Errorf("ForMode(%q) error = %v, want serves=%v for a credentials-only authenticator", mode, err, serves)
		}
	}
}

// TestCredentialThrottleIPv6Network: addresses of one IPv6 /64 share a
// failure budget, so rotating through a host's /64 buys no guesses.
func TestCredentialThrottleIPv6Network(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, func(c *testConfig) {
		c.Credentials.Throttle = clientauth.Throttle{MaxClientFailures: 100, MaxAddrFailures: 3}
	})
	statuses := []int{}
	for i := range 5 {
		_, err := s.auth.Authenticate(request{
			headers: map[string]string{"client_id": "acme", "client_secret": "guess"},
			remote:  fmt.Sprintf("[2001:db8:1:2::%x%%eth0]:443", i+1),
		}.build())
		statuses = append(statuses, asError(t, err).Status)
	}
	if statuses[3] != http.StatusTooManyRequests {
		t.Fatalf("statuses = %v, want 429 from the 4th address of the same /64", statuses)
	}
	_, err := s.auth.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": "guess"}, remote: "[2001:db8:1:3::1]:443"}.build())
	if e := asError(t, err); e.Status != http.StatusUnauthorized {
		t.Fatalf("another /64 = %d, want 401", e.Status)
	}
}

// TestCredentialThrottleBehindProxy: behind a trusted proxy a guesser's
// failures count against the address the proxy forwards, so the real client
// behind the same proxy is not locked out; from an untrusted peer a forged
// X-Forwarded-For buys no fresh budget.
func TestCredentialThrottleBehindProxy(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, func(c *testConfig) {
		c.Credentials.Throttle = clientauth.Throttle{MaxClientFailures: 3, MaxAddrFailures: 50}
		c.Credentials.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	})
	via := func(peer, forwarded, secret string) int {
		r := request{headers: map[string]string{"client_id": "acme", "client_secret": secret}, remote: peer}.build()
		if forwarded != "" {
			r.Header.Set("X-Forwarded-For", forwarded)
		}
		_, err := s.auth.Authenticate(r)
		if err == nil {
			return http.StatusOK
		}
		return asError(t, err).Status
	}
	var guesser []int
	for range 5 {
		guesser = append(guesser, via("10.0.0.1:40000", "203.0.113.5", "guess"))
	}
	if !slices.Equal(guesser, []int{401, 401, 401, 429, 429}) {
		t.Fatalf("guesser behind the proxy: %v", guesser)
	}
	if got := via("10.0.0.1:40001", "203.0.113.6", "acme-secret"); got != http.StatusOK {
		t.Fatalf("the real client behind the same proxy: %d, want 200", got)
	}
	// Untrusted peer: its X-Forwarded-For is not read, each fresh value
	// counts against the peer itself.
	var spoofer []int
	for i := range 5 {
		spoofer = append(spoofer, via("192.0.2.66:1", fmt.Sprintf("198.51.100.%d", i), "guess"))
	}
	if !slices.Equal(spoofer, []int{401, 401, 401, 429, 429}) {
		t.Fatalf("forged X-Forwarded-For from an untrusted peer: %v", spoofer)
	}
}

// TestCredentialRevokedKnownPairIsThrottled: a pair that verified once and
// was then revoked loses its exemption from the failure gate at its first
// failure.
func TestCredentialRevokedKnownPairIsThrottled(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, func(c *testConfig) {
		c.Credentials.Throttle = clientauth.Throttle{MaxClientFailures: 3, MaxAddrFailures: 5}
	})
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}, remote: "192.0.2.8:1"}
	if _, err := s.auth.Authenticate(good.build()); err != nil {
		t.Fatal(err)
	}
	registryFile(t, filepath.Dir(s.path), map[string]string{"acme": "acme-secret-v2", "globex": "globex-secret"})
	if err := s.registry.Reload(); err != nil {
		t.Fatal(err)
	}
	calls := s.verifier.calls.Load()
	throttled := 0
	for range 10 {
		_, err := s.auth.Authenticate(good.build())
		if asError(t, err).Status == http.StatusTooManyRequests {
			throttled++
		}
	}
	if n := s.verifier.calls.Load() - calls; n > 4 || throttled < 6 {
		t.Fatalf("revoked pair: %d checks reached the verifier, %d of 10 throttled; want at most 1+3 checks", n, throttled)
	}
}

// gatedVerifier holds each check until the test lets it go, or until the
// check's context ends.
type gatedVerifier struct {
	clientauth.Verifier
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedVerifier) VerifyClient(ctx context.Context, id, secret string) (*dualauth.Principal, error) {
	g.entered <- struct{}{}
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return g.Verifier.VerifyClient(ctx, id, secret)
}

// TestCredentialWaiterOutlivesTheLeader: when the request whose check
// another request with the same pair waits on goes away, the waiter checks
// again instead of failing, and the leaver is not counted as a failure.
func TestCredentialWaiterOutlivesTheLeader(t *testing.T) {
	s := newCredSetup(t, dualauth.ModeCredentials, nil)
	gated := &gatedVerifier{Verifier: s.verifier, entered: make(chan struct{}, 2), gate: make(chan struct{})}
	a := newAuthenticator(t, func(c *testConfig) {
		c.Mode = dualauth.ModeCredentials
		c.Credentials.Verifier = gated
		c.Credentials.Throttle = clientauth.Throttle{MaxClientFailures: 1}
	}, s.iss)
	good := request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}

	leaderCtx, leave := context.WithCancel(context.Background())
	leaderDone := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(good.build().WithContext(leaderCtx))
		leaderDone <- err
	}()
	<-gated.entered // the leader's check is running
	waiterDone := make(chan error, 1)
	go func() {
		_, err := a.Authenticate(good.build())
		waiterDone <- err
	}()
	leave()
	if err := <-leaderDone; asError(t, err).Status != http.StatusServiceUnavailable {
		t.Fatalf("leader after leaving: %v", err)
	}
	<-gated.entered // the waiter runs its own check
	close(gated.gate)
	if err := <-waiterDone; err != nil {
		t.Fatalf("waiter: %v, want its own successful check", err)
	}
}
