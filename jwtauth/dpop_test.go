package jwtauth_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
	"github.com/keyward/keyward/internal/throttle/redisstore"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

const (
	boundDescription   = "the access token is bound to a DPoP key (cnf.jkt): send it with the DPoP scheme and a DPoP proof"
	unboundDescription = "the access token is not bound to a DPoP key (no cnf.jkt): it cannot be sent with the DPoP scheme"
	cnfUnverifiable    = "the access token is bound to a key (cnf), and this server cannot verify that binding"
	cnfMalformed       = "the access token's cnf claim is malformed"
	noCertificate      = "the access token is bound to a client certificate (cnf x5t#S256), and the request has none"
)

// newDPoPKey is a DPoP key for alg.
func newDPoPKey(t testing.TB, alg string) *keywardtest.DPoPKey {
	t.Helper()
	k, err := keywardtest.NewDPoPKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dpopAuthenticator is an Authenticator over a Verifier of DPoP d that
// trusts iss (its current key, static), on the clock now (nil: time.Now),
// behind the trusted proxies; both closed when the test ends.
func dpopAuthenticator(t *testing.T, iss *keywardtest.Issuer, d jwtauth.DPoP, now func() time.Time, proxies ...netip.Prefix) *dualauth.Authenticator {
	t.Helper()
	v, err := jwtauth.New(jwtauth.Config{Now: now, DPoP: &d,
		Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: staticKeys(t, iss)}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	a, err := dualauth.New(dualauth.Config{Tokens: v, TrustedProxies: proxies})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// dpopServer serves a protected route on 127.0.0.1 with an Authenticator
// over v (see protectedHandler).
func dpopServer(t *testing.T, v *jwtauth.Verifier) string {
	t.Helper()
	srv := httptest.NewServer(protectedHandler(t, v))
	t.Cleanup(srv.Close)
	return srv.URL + "/bookings"
}

// protectedHandler is the middleware of an Authenticator over v, in front
// of a handler answering 200 with the caller's subject and whether it was
// introspected.
func protectedHandler(t *testing.T, v *jwtauth.Verifier) http.Handler {
	t.Helper()
	a, err := dualauth.New(dualauth.Config{Tokens: v})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	mw := middleware.New(a, middleware.Options{})
	return mw.Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := dualauth.FromContext(r.Context())
		_ = json.NewEncoder(w).Encode(map[string]any{"sub": p.Subject, "introspected": p.Introspected})
	}))
}

// call sends a GET of uri with Authorization auth and the proofs, and
// returns the status, the body's error (or sub) and the challenges.
func call(t *testing.T, uri, auth string, proofs ...string) (int, string, []string) {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", auth)
	r.Header["Dpop"] = proofs
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		Error, Sub   string
		Introspected bool
	}
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	if res.StatusCode == http.StatusOK && !body.Introspected {
		t.Fatalf("the caller was not introspected: %s", raw)
	}
	return res.StatusCode, body.Error + body.Sub, res.Header.Values("WWW-Authenticate")
}

// TestDPoPOpaque: an opaque token whose introspection answer (a real RFC
// 7662 endpoint on 127.0.0.1) carries cnf.jkt is a DPoP-bound token: with
// a proof of that key it passes, and when presented again the endpoint is
// not asked (the answer cache holds the binding) while the proof is still
// checked; as Bearer, or with a proof of another key, it is refused; an
// unbound opaque token is refused as DPoP; and an answer binding the token
// otherwise than by jkt alone is refused.
func TestDPoPOpaque(t *testing.T) {
	s := newSetup(t, func(c *jwtauth.Config) { c.DPoP = &jwtauth.DPoP{} })
	key, other := newDPoPKey(t, "ES256"), newDPoPKey(t, "PS256")
	now := s.clock.Now()
	answer := func(cnf map[string]any) map[string]any {
		a := goodAnswer(now)
		a["token_type"], a["cnf"] = "DPoP", cnf
		return a
	}
	const unbound, twoBindings = "ory_at_unbound.x", "ory_at_two.x"
	s.ep.add(opaque, answer(map[string]any{"jkt": key.Thumbprint()}))
	s.ep.add(unbound, goodAnswer(now))
	s.ep.add(twoBindings, answer(map[string]any{"jkt": key.Thumbprint(), "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}))
	uri := dpopServer(t, s.v)
	proof := func(k *keywardtest.DPoPKey, token string) string {
		p, err := k.Proof(http.MethodGet, uri, token, &keywardtest.ProofOptions{IssuedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := proof(key, opaque)
	for _, tt := range []struct {
		name, auth string
		proofs     []string
		status     int
		answer     string // the body's error, or the caller's sub
		challenge  string // the first challenge's start
		calls      int64  // the endpoint's calls so far
	}{
		{"bound, with a proof of its key", "DPoP " + opaque, []string{first}, http.StatusOK, "user-1", "", 1},
		{"again, with a fresh proof: from the cache", "DPoP " + opaque, []string{proof(key, opaque)}, http.StatusOK, "user-1", "", 1},
		{"again, the first proof replayed", "DPoP " + opaque, []string{first}, http.StatusUnauthorized, "invalid_dpop_proof",
			`DPoP realm="api", algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", error="invalid_dpop_proof", error_description="the DPoP proof was used before (its jti was seen)"`, 1},
		{"a proof of another key", "DPoP " + opaque, []string{proof(other, opaque)}, http.StatusUnauthorized, "invalid_dpop_proof", `DPoP realm="api", algs=`, 1},
		{"bound, as Bearer", "Bearer " + opaque, nil, http.StatusUnauthorized, "invalid_token",
			`Bearer realm="api", error="invalid_token", error_description="` + boundDescription + `"`, 1},
		{"unbound, as DPoP", "DPoP " + unbound, []string{proof(key, unbound)}, http.StatusUnauthorized, "invalid_token",
			`DPoP realm="api", algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", error="invalid_token", error_description="` + unboundDescription + `"`, 2},
		{"bound by jkt and a certificate", "DPoP " + twoBindings, []string{proof(key, twoBindings)}, http.StatusUnauthorized, "invalid_token",
			`DPoP realm="api", algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", error="invalid_token", error_description="` + cnfUnverifiable + `"`, 3},
	} {
		status, got, challenges := call(t, uri, tt.auth, tt.proofs...)
		if status != tt.status || got != tt.answer {
			t.Fatalf("%s: %d %q, want %d %q", tt.name, status, got, tt.status, tt.answer)
		}
		if tt.challenge != "" && (len(challenges) == 0 || !strings.HasPrefix(challenges[0], tt.challenge)) {
			t.Fatalf("%s: challenges %q, want the first to start %q", tt.name, challenges, tt.challenge)
		}
		if calls := s.ep.calls.Load(); calls != tt.calls {
			t.Fatalf("%s: the endpoint was called %d times, want %d", tt.name, calls, tt.calls)
		}
	}
	s.noSecrets(t, opaque)
}

// TestDPoPConfirmationShapes: with DPoP on, a JWT whose cnf is exactly
// {"jkt": <a SHA-256 thumbprint>} verifies and is bound (so that, without
// the DPoP scheme, it is refused for that reason); every other cnf is
// refused as without DPoP — another method beside jkt, a jkt that is no
// thumbprint — and so are the duplicates two parsers would read apart.
// Without DPoP the bound token is refused as any cnf is. A certificate
// binding ({"x5t#S256": <thumbprint>} alone) verifies with DPoP on or off,
// and is refused here for want of a request with a certificate.
func TestDPoPConfirmationShapes(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	key := newDPoPKey(t, "ES256")
	newVerifier := func(d *jwtauth.DPoP) *jwtauth.Verifier {
		v, err := jwtauth.New(jwtauth.Config{DPoP: d, Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: staticKeys(t, iss)}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = v.Close() })
		return v
	}
	on, off := newVerifier(&jwtauth.DPoP{}), newVerifier(nil)
	base, err := json.Marshal(iss.Claims(nil))
	if err != nil {
		t.Fatal(err)
	}
	withMembers := func(members string) string { // for duplicates, which no encoder writes
		return iss.Sign(t, iss.Key(), nil, rawClaims(strings.TrimSuffix(string(base), "}")+","+members+"}"))
	}
	jkt := `"` + key.Thumbprint() + `"`
	for _, tt := range []struct {
		name, token string
		on, off     string // the description with DPoP on and off
	}{
		{"jkt alone", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": key.Thumbprint()}}), boundDescription, cnfUnverifiable},
		{"jkt and x5t#S256", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": key.Thumbprint(), "x5t#S256": "x"}}), cnfUnverifiable, cnfUnverifiable},
		{"x5t#S256 alone, no thumbprint", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"x5t#S256": "x"}}), cnfMalformed, cnfMalformed},
		{"x5t#S256 alone", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"x5t#S256": key.Thumbprint()}}), noCertificate, noCertificate},
		{"jkt too short", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": key.Thumbprint()[:42]}}), cnfMalformed, cnfUnverifiable},
		{"jkt padded", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": key.Thumbprint()[:42] + "="}}), cnfMalformed, cnfUnverifiable},
		{"jkt not a string", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": 7}}), cnfMalformed, cnfUnverifiable},
		{"empty cnf", iss.Token(t, jwt.MapClaims{"cnf": map[string]any{}}), cnfMalformed, cnfMalformed},
		{"two cnf, empty last", withMembers(`"cnf":{"jkt":` + jkt + `},"cnf":{}`), cnfMalformed, cnfMalformed},
		{"two cnf, empty first", withMembers(`"cnf":{},"cnf":{"jkt":` + jkt + `}`), cnfMalformed, cnfMalformed},
		{"two cnf, both jkt", withMembers(`"cnf":{"jkt":` + jkt + `},"cnf":{"jkt":` + jkt + `}`), cnfMalformed, cnfMalformed},
		{"two jkt in one cnf", withMembers(`"cnf":{"jkt":` + jkt + `,"jkt":` + jkt + `}`), cnfMalformed, cnfUnverifiable},
		{"no cnf", iss.Token(t, nil), "", ""},
	} {
		for _, v := range []struct {
			v    *jwtauth.Verifier
			want string
		}{{on, tt.on}, {off, tt.off}} {
			_, _, err := v.v.VerifyToken(t.Context(), tt.token, dualauth.Origin{})
			got := ""
			if err != nil {
				var e *dualauth.Error
				if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != dualauth.CodeInvalidToken {
					t.Fatalf("%s: %v, want a 401 invalid_token", tt.name, err)
				}
				got = e.Description
			}
			if got != v.want {
				t.Errorf("%s (DPoP on: %v): %q, want %q", tt.name, v.v == on, got, v.want)
			}
		}
	}
}

// rawClaims is a claims set signed exactly as written.
type rawClaims string

func (c rawClaims) MarshalJSON() ([]byte, error) { return []byte(c), nil }

func (rawClaims) GetExpirationTime() (*jwt.NumericDate, error) { return nil, nil }
func (rawClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return nil, nil }
func (rawClaims) GetNotBefore() (*jwt.NumericDate, error)      { return nil, nil }
func (rawClaims) GetIssuer() (string, error)                   { return "", nil }
func (rawClaims) GetSubject() (string, error)                  { return "", nil }
func (rawClaims) GetAudience() (jwt.ClaimStrings, error)       { return nil, nil }

// TestDPoPReplicas: two replicas (two Verifiers, each behind its own
// server, both behind one trusted proxy that forwards the host the client
// used) sharing one real redis-server as DPoP.Replay: a proof one accepted
// is a replay to the other; while Redis is down every DPoP request is
// refused 503 temporarily_unavailable with Retry-After (a proof that
// cannot be recorded could be replayed), and passes again once it is back.
func TestDPoPReplicas(t *testing.T) {
	srv := testredis.Start(t, false)
	iss := keywardtest.NewIssuer(t, "ES256")
	key := newDPoPKey(t, "EdDSA")
	clock := newClock()
	iss.Now = clock.Now
	replica := func() string {
		store, err := redisstore.New(throttle.RedisOptions{URL: srv.URL(), Now: clock.Now, ProbeEvery: time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		a := dpopAuthenticator(t, iss, jwtauth.DPoP{Replay: store}, clock.Now, netip.MustParsePrefix("127.0.0.1/32"))
		h := middleware.New(a, middleware.Options{}).Authenticate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		return s.URL
	}
	replicas := []string{replica(), replica()}
	const uri = "https://api.example/bookings"
	token := iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": key.Thumbprint()}})
	send := func(replica int, proof string) (int, string, string) {
		r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, replicas[replica]+"/bookings", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", proof)
		r.Header.Set("X-Forwarded-Proto", "https")
		r.Header.Set("X-Forwarded-Host", "api.example")
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Error string }
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Error, res.Header.Get("Retry-After")
	}
	proof := func() string {
		p, err := key.Proof(http.MethodGet, uri, token, &keywardtest.ProofOptions{IssuedAt: clock.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	type answer struct {
		status      int
		code, retry string
	}
	check := func(what string, replica int, p string, want answer) {
		t.Helper()
		if status, code, retry := send(replica, p); (answer{status, code, retry}) != want {
			t.Fatalf("%s: %d %q Retry-After %q, want %+v", what, status, code, retry, want)
		}
	}
	ok := answer{status: http.StatusOK}
	p := proof()
	check("first use, replica 0", 0, p, ok)
	check("replayed to replica 1", 1, p, answer{http.StatusUnauthorized, "invalid_dpop_proof", ""})
	check("a fresh proof, replica 1", 1, proof(), ok)

	srv.Stop()
	check("Redis down", 0, proof(), answer{http.StatusServiceUnavailable, "temporarily_unavailable", "1"})
	srv.Restart()
	clock.Advance(2 * time.Second) // past the store's next probe
	check("Redis back", 0, proof(), ok)
}

// TestValidateDPoP: a DPoP option out of bounds is a ConfigError naming
// its field; the zero DPoP is valid.
func TestValidateDPoP(t *testing.T) {
	issuers := []jwtauth.Issuer{{Issuer: issuerURL, Audiences: []string{audience}, Introspection: &jwtauth.Introspection{
		Endpoint: "https://auth.example.com/introspect", ClientID: rsClientID, ClientSecret: rsSecret}}}
	for _, tt := range []struct {
		d     jwtauth.DPoP
		field string // "" means valid
	}{
		{jwtauth.DPoP{}, ""},
		{jwtauth.DPoP{Required: true, MaxAge: 10 * time.Minute, Algorithms: []string{"ES256", "EdDSA"}}, ""},
		{jwtauth.DPoP{MaxAge: -time.Second}, "DPoP.MaxAge"},
		{jwtauth.DPoP{MaxAge: 10*time.Minute + time.Second}, "DPoP.MaxAge"},
		{jwtauth.DPoP{MaxReplayEntries: -1}, "DPoP.MaxReplayEntries"},
		{jwtauth.DPoP{MaxReplayEntriesPerKey: -1}, "DPoP.MaxReplayEntriesPerKey"},
		{jwtauth.DPoP{MaxReplayEntries: 10, MaxReplayEntriesPerKey: 5}, ""},
		{jwtauth.DPoP{Algorithms: []string{"ES256", "HS256"}}, "DPoP.Algorithms[1]"},
		{jwtauth.DPoP{Algorithms: []string{"none"}}, "DPoP.Algorithms[0]"},
		{jwtauth.DPoP{Nonces: true}, ""},
		{jwtauth.DPoP{Nonces: true, NonceSecret: make([]byte, 32), NonceWindow: 10 * time.Second}, ""},
		{jwtauth.DPoP{Nonces: true, NonceSecret: make([]byte, 31)}, "DPoP.NonceSecret"},
		{jwtauth.DPoP{Nonces: true, NonceWindow: 9 * time.Second}, "DPoP.NonceWindow"},
		{jwtauth.DPoP{Nonces: true, NonceWindow: -time.Second}, "DPoP.NonceWindow"},
		{jwtauth.DPoP{NonceSecret: make([]byte, 32)}, "DPoP.Nonces"},
	} {
		err := jwtauth.Config{Issuers: issuers, DPoP: &tt.d}.Validate()
		var ce *dualauth.ConfigError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("%+v: %v", tt.d, err)
		case tt.field != "" && (!errors.As(err, &ce) || ce.Package != "jwtauth" || ce.Field != tt.field):
			t.Errorf("%+v: %v, want a ConfigError of %s", tt.d, err, tt.field)
		}
	}
}

// TestDPoPNonces: with DPoP.Nonces a proof must carry the nonce the server
// provides (RFC 9449 §8): without one, or with one it did not make, the
// request is 401 use_dpop_nonce with the exact DPoP challenge and a fresh
// nonce in DPoP-Nonce; a proof with that nonce passes, in its window and
// the next, and not after; a replica with the same NonceSecret accepts the
// other's nonces and one with another secret does not; and
// keywardtest.DPoPTransport gets through by retrying once with the nonce,
// then sends it from the start.
func TestDPoPNonces(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	key := newDPoPKey(t, "ES256")
	clock := newClock()
	iss.Now = clock.Now
	secret := []byte(strings.Repeat("s", 32))
	var hits atomic.Int64
	replica := func(secret []byte) string {
		a := dpopAuthenticator(t, iss, jwtauth.DPoP{Nonces: true, NonceSecret: secret, NonceWindow: time.Minute}, clock.Now)
		protected := middleware.New(a, middleware.Options{}).Authenticate(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			protected.ServeHTTP(w, r)
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	a, b, other := replica(secret), replica(secret), replica(nil)
	token := iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": key.Thumbprint()}})
	send := func(base, nonce string) (status int, challenges []string, fresh string) {
		t.Helper()
		p, err := key.Proof(http.MethodGet, base+"/x", token, &keywardtest.ProofOptions{IssuedAt: clock.Now(), Nonce: nonce})
		if err != nil {
			t.Fatal(err)
		}
		r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+token)
		r.Header.Set("DPoP", p)
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		return res.StatusCode, res.Header.Values("WWW-Authenticate"), res.Header.Get("DPoP-Nonce")
	}
	useNonce := []string{`DPoP realm="api", algs="RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA", error="use_dpop_nonce", ` +
		`error_description="the DPoP proof must carry the nonce this server provides (DPoP-Nonce)"`}
	askedForNonce := func(what, base, nonce string) string {
		t.Helper()
		status, challenges, fresh := send(base, nonce)
		if status != http.StatusUnauthorized || !slices.Equal(challenges, useNonce) || fresh == "" {
			t.Fatalf("%s: %d %q nonce %q, want 401 use_dpop_nonce with a nonce", what, status, challenges, fresh)
		}
		return fresh
	}
	passes := func(what, base, nonce string) {
		t.Helper()
		if status, challenges, _ := send(base, nonce); status != http.StatusOK {
			t.Fatalf("%s: %d %q", what, status, challenges)
		}
	}
	n1 := askedForNonce("no nonce", a, "")
	passes("the nonce given", a, n1)
	passes("the nonce given, at the other replica", b, n1)
	askedForNonce("the nonce given, at a replica with another secret", other, n1)
	askedForNonce("a nonce the server did not make", a, "bm9uY2U")
	clock.Advance(time.Minute)
	passes("the nonce given, in the next window", a, n1)
	clock.Advance(time.Minute)
	if n3 := askedForNonce("the nonce given, two windows later", a, n1); n3 == n1 {
		t.Fatal("the nonce did not change with the window")
	} else {
		passes("the new nonce", a, n3)
	}

	client := &http.Client{Transport: &keywardtest.DPoPTransport{Key: key, Now: clock.Now}}
	for i, want := range []int64{2, 1} { // a retry with the nonce, then none
		before := hits.Load()
		r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a+"/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Header.Set("Authorization", "DPoP "+token)
		res, err := client.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if got := hits.Load() - before; res.StatusCode != http.StatusOK || got != want {
			t.Fatalf("transport request %d: %d after %d requests, want 200 after %d", i, res.StatusCode, got, want)
		}
	}
}

// TestDPoPRequiredWithoutRequest: with DPoP required, a token verified
// without a request (Authenticator.Verify; clientauth's exchanged tokens)
// is held to its binding only: unbound, it passes; bound, it is refused,
// as there is no proof.
func TestDPoPRequiredWithoutRequest(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	a := dpopAuthenticator(t, iss, jwtauth.DPoP{Required: true}, nil)
	if _, err := a.Verify(t.Context(), iss.Token(t, nil), "192.0.2.1:1"); err != nil {
		t.Fatalf("unbound: %v", err)
	}
	bound := iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"jkt": newDPoPKey(t, "ES256").Thumbprint()}})
	var e *dualauth.Error
	if _, err := a.Verify(t.Context(), bound, "192.0.2.1:1"); !errors.As(err, &e) || e.Description != boundDescription {
		t.Fatalf("bound: %v, want %q", err, boundDescription)
	}
}
