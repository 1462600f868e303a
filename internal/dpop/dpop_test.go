package dpop_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/keywardtest"
)

const (
	testURI   = "https://api.example.com/bookings/42"
	testToken = "an-access-token"
)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Unix(1_800_000_000, 0)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newKey(t testing.TB, alg string) *keywardtest.DPoPKey {
	t.Helper()
	k, err := keywardtest.NewDPoPKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newChecker(t testing.TB, o dpop.Options) *dpop.Checker {
	t.Helper()
	c, err := dpop.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sign(t testing.TB, k *keywardtest.DPoPKey, method, uri, token string, o *keywardtest.ProofOptions) string {
	t.Helper()
	p, err := k.Proof(method, uri, token, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// raw signs a proof of header and claims as JSON exactly (signed with k's
// own algorithm, whatever header says).
func raw(t testing.TB, k *keywardtest.DPoPKey, header, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	p, err := k.SignRaw(h, c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// wantRefusal checks that err is an *Error of status and code caused by
// cause, and that it repeats neither the proof nor the token.
func wantRefusal(t *testing.T, err error, status int, code string, cause error, secrets ...string) {
	t.Helper()
	var e *dpop.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want a *dpop.Error", err, err)
	}
	if e.Status != status || e.Code != code || cause != nil && !errors.Is(err, cause) {
		t.Fatalf("refusal %d %s (cause %v), want %d %s (cause %v)", e.Status, e.Code, e.Err, status, code, cause)
	}
	if strings.ContainsAny(e.Description, `"\`) {
		t.Fatalf("description %q holds a quote or a backslash, which RFC 6750 §3 leaves out of error_description", e.Description)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error()+e.Description, s) {
			t.Fatalf("the error repeats a proof or token: %v", err)
		}
	}
}

// TestCheck holds each check of RFC 9449 §4.3 to its word: every row is one
// proof or request that one check refuses (or that a normalisation
// accepts), on a checker with a fake clock.
func TestCheck(t *testing.T) {
	es256 := newKey(t, "ES256")
	other := newKey(t, "ES256")
	clk := newClock()
	now := clk.Now()
	opts := func(o *keywardtest.ProofOptions) *keywardtest.ProofOptions {
		if o.IssuedAt.IsZero() {
			o.IssuedAt = now
		}
		return o
	}
	good := func() []string {
		return []string{sign(t, es256, "GET", testURI, testToken, opts(&keywardtest.ProofOptions{}))}
	}
	with := func(o keywardtest.ProofOptions) func() []string {
		return func() []string { return []string{sign(t, es256, "GET", testURI, testToken, opts(&o))} }
	}
	claims := func() map[string]any {
		return map[string]any{"jti": "j-" + time.Now().String(), "htm": "GET", "htu": testURI, "iat": now.Unix(),
			"ath": "ya3hv0spxZWbAvUOBl1zaoSKVEdAQ4r8jf6vbBjGtL8"} // the SHA-256 of testToken
	}
	privateJWK := es256.JWK()
	privateJWK["d"] = "AAAA"
	octJWK := map[string]any{"kty": "oct", "k": "c2VjcmV0"}

	type row struct {
		name    string
		proofs  func() []string
		method  string // default GET
		uri     string // default testURI
		token   string // default testToken; "-" for none
		boundTo string
		cause   error // nil: accepted
	}
	rows := []row{
		{name: "valid", proofs: good},
		{name: "no DPoP header", proofs: func() []string { return nil }, cause: dpop.ErrHeaderCount},
		{name: "two DPoP headers", proofs: func() []string { return append(good(), good()...) }, cause: dpop.ErrHeaderCount},
		{name: "two parts", proofs: func() []string { return []string{"eyJhbGciOiJFUzI1NiJ9.e30"} }, cause: dpop.ErrForm},
		{name: "four parts", proofs: func() []string { return []string{good()[0] + ".x"} }, cause: dpop.ErrForm},
		{name: "header not base64url", proofs: func() []string { return []string{"!!!." + strings.SplitN(good()[0], ".", 2)[1]} }, cause: dpop.ErrForm},
		{name: "padded signature", proofs: func() []string { return []string{good()[0] + "=="} }, cause: dpop.ErrForm},
		{name: "typ JWT", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"typ": "JWT"}}), cause: dpop.ErrTyp},
		{name: "typ missing", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"typ": nil}}), cause: dpop.ErrTyp},
		{name: "typ with a parameter", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"typ": "dpop+jwt; q=1"}}), cause: dpop.ErrTyp},
		{name: "typ in upper case is the same media type", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"typ": "DPoP+JWT"}})},
		{name: "typ with application/", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"typ": "application/dpop+jwt"}})},
		{name: "crit", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"crit": []string{"exp"}}}), cause: dpop.ErrCrit},
		{name: "alg none", proofs: func() []string {
			h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "none", "jwk": es256.JWK()})
			c, _ := json.Marshal(claims())
			return []string{base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."}
		}, cause: dpop.ErrAlg},
		{name: "alg HS256", proofs: func() []string {
			return []string{raw(t, es256, map[string]any{"typ": "dpop+jwt", "alg": "HS256", "jwk": octJWK}, claims())}
		}, cause: dpop.ErrAlg},
		{name: "alg es256 (case)", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"alg": "es256"}}), cause: dpop.ErrAlg},
		{name: "no jwk", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"jwk": nil, "kid": "k1"}}), cause: dpop.ErrNoJWK},
		{name: "private jwk", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"jwk": privateJWK}}), cause: dpop.ErrPrivateJWK},
		{name: "symmetric jwk", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"jwk": octJWK}}), cause: dpop.ErrPrivateJWK},
		{name: "jwk not an object", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"jwk": "k1"}}), cause: dpop.ErrJWK},
		{name: "jwk of another curve than alg", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"alg": "ES384"}}), cause: dpop.ErrKeyAlg},
		{name: "jwk of another key", proofs: with(keywardtest.ProofOptions{Header: map[string]any{"jwk": other.JWK()}}), cause: dpop.ErrSignature},
		{name: "signature altered", proofs: func() []string {
			p := good()[0]
			last := p[len(p)-2]
			flip := byte('A')
			if last == 'A' {
				flip = 'B'
			}
			return []string{p[:len(p)-2] + string(flip) + p[len(p)-1:]}
		}, cause: dpop.ErrSignature},
		{name: "jti missing", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"jti": nil}}), cause: dpop.ErrJTI},
		{name: "jti empty", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"jti": ""}}), cause: dpop.ErrJTI},
		{name: "jti too long", proofs: with(keywardtest.ProofOptions{JTI: strings.Repeat("j", dpop.MaxJTIBytes+1)}), cause: dpop.ErrJTI},
		{name: "jti a number", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"jti": 7}}), cause: dpop.ErrJTI},
		{name: "htm other method", proofs: good, method: "POST", cause: dpop.ErrHTM},
		{name: "htm in lower case", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"htm": "get"}}), cause: dpop.ErrHTM},
		{name: "htm missing", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"htm": nil}}), cause: dpop.ErrHTM},
		{name: "htu other path", proofs: good, uri: "https://api.example.com/bookings/43", cause: dpop.ErrHTU},
		{name: "htu other host", proofs: good, uri: "https://evil.example.com/bookings/42", cause: dpop.ErrHTU},
		{name: "htu http for https", proofs: good, uri: "http://api.example.com/bookings/42", cause: dpop.ErrHTU},
		{name: "htu other port", proofs: good, uri: "https://api.example.com:8443/bookings/42", cause: dpop.ErrHTU},
		{name: "htu trailing slash", proofs: good, uri: testURI + "/", cause: dpop.ErrHTU},
		{name: "htu path case", proofs: good, uri: "https://api.example.com/Bookings/42", cause: dpop.ErrHTU},
		{name: "htu missing", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"htu": nil}}), cause: dpop.ErrHTU},
		{name: "htu relative", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"htu": "/bookings/42"}}), cause: dpop.ErrHTU},
		{name: "request URI with a query", proofs: good, uri: testURI + "?page=2#top"},
		{name: "htu with a query", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"htu": testURI + "?page=2"}})},
		{name: "scheme and host case", proofs: good, uri: "HTTPS://API.Example.COM/bookings/42"},
		{name: "default port", proofs: good, uri: "https://api.example.com:443/bookings/42"},
		{name: "percent-encoded unreserved", proofs: good, uri: "https://api.example.com/%62ookings/%34%32"},
		{name: "dot segments", proofs: good, uri: "https://api.example.com/v1/../bookings/./42"},
		{name: "request URI unparsable", proofs: good, uri: "/bookings/42", cause: dpop.ErrRequestURI},
		{name: "iat missing", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"iat": nil}}), cause: dpop.ErrIATMissing},
		{name: "iat a string", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"iat": "1800000000"}}), cause: dpop.ErrIATMissing},
		{name: "iat too old", proofs: with(keywardtest.ProofOptions{IssuedAt: now.Add(-70*time.Second - time.Second)}), cause: dpop.ErrIATOld},
		{name: "iat at max age plus leeway", proofs: with(keywardtest.ProofOptions{IssuedAt: now.Add(-70 * time.Second)})},
		{name: "iat too new", proofs: with(keywardtest.ProofOptions{IssuedAt: now.Add(10*time.Second + time.Second)}), cause: dpop.ErrIATFuture},
		{name: "iat within the leeway ahead", proofs: with(keywardtest.ProofOptions{IssuedAt: now.Add(10 * time.Second)})},
		{name: "ath missing", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"ath": nil}}), cause: dpop.ErrATHMissing},
		{name: "ath of another token", proofs: good, token: "another-token", cause: dpop.ErrATH},
		{name: "ath padded", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"ath": "ya3hv0spxZWbAvUOBl1zaoSKVEdAQ4r8jf6vbBjGtL8="}}), cause: dpop.ErrATH},
		{name: "no token, no ath", proofs: with(keywardtest.ProofOptions{Claims: map[string]any{"ath": nil}}), token: "-"},
		{name: "bound to the proof's key", proofs: good, boundTo: es256.Thumbprint()},
		{name: "bound to another key", proofs: good, boundTo: other.Thumbprint(), cause: dpop.ErrBoundKey},
		{name: "bound to another key, refused before the signature", proofs: func() []string {
			p := good()[0]
			return []string{p[:strings.LastIndexByte(p, '.')+1] + base64.RawURLEncoding.EncodeToString(make([]byte, 64))}
		}, boundTo: other.Thumbprint(), cause: dpop.ErrBoundKey},
		{name: "Ed25519 identity key with the signature that verifies anything", proofs: func() []string {
			identity := make([]byte, 32)
			identity[0] = 1
			h, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "EdDSA",
				"jwk": map[string]any{"kty": "OKP", "crv": "Ed25519", "x": base64.RawURLEncoding.EncodeToString(identity)}})
			c, _ := json.Marshal(claims())
			sig := append(identity, make([]byte, 32)...) // R = identity, S = 0
			return []string{base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "." + base64.RawURLEncoding.EncodeToString(sig)}
		}, cause: dpop.ErrJWK},
	}
	c := newChecker(t, dpop.Options{MaxAge: time.Minute, Leeway: 10 * time.Second, Now: clk.Now})
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			req := dpop.Request{Proofs: r.proofs(), Method: "GET", URI: testURI, AccessToken: testToken, BoundTo: r.boundTo}
			if r.method != "" {
				req.Method = r.method
			}
			if r.uri != "" {
				req.URI = r.uri
			}
			switch r.token {
			case "-":
				req.AccessToken = ""
			case "":
			default:
				req.AccessToken = r.token
			}
			got, err := c.Check(context.Background(), req)
			if r.cause == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got.Thumbprint != es256.Thumbprint() || !got.IssuedAt.Equal(now.Truncate(time.Second)) && r.name == "valid" {
					t.Fatalf("proof %+v, want thumbprint %s", got, es256.Thumbprint())
				}
				return
			}
			secrets := append([]string{req.AccessToken}, req.Proofs...)
			wantRefusal(t, err, http.StatusUnauthorized, dpop.CodeInvalidProof, r.cause, secrets...)
		})
	}
}

// TestAlgorithms checks that a proof of each default algorithm passes, and
// that one outside a configured allowlist does not.
func TestAlgorithms(t *testing.T) {
	clk := newClock()
	c := newChecker(t, dpop.Options{Now: clk.Now})
	for _, alg := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := newKey(t, alg)
			p := sign(t, k, "POST", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: clk.Now()})
			got, err := c.Check(context.Background(), dpop.Request{Proofs: []string{p}, Method: "POST", URI: testURI, AccessToken: testToken})
			if err != nil || got.Thumbprint != k.Thumbprint() {
				t.Fatalf("Check = %+v, %v; want thumbprint %s", got, err, k.Thumbprint())
			}
		})
	}
	only := newChecker(t, dpop.Options{Algorithms: []string{"ES256"}, Now: clk.Now})
	if got := only.Algorithms(); got != "ES256" {
		t.Fatalf("Algorithms() = %q", got)
	}
	p := sign(t, newKey(t, "EdDSA"), "GET", testURI, "", &keywardtest.ProofOptions{IssuedAt: clk.Now()})
	_, err := only.Check(context.Background(), dpop.Request{Proofs: []string{p}, Method: "GET", URI: testURI})
	wantRefusal(t, err, http.StatusUnauthorized, dpop.CodeInvalidProof, dpop.ErrAlg)
}

// TestNonce checks the server-nonce hook: a proof without a nonce, or with
// one the hook refuses, gets use_dpop_nonce; the right one passes.
func TestNonce(t *testing.T) {
	clk := newClock()
	k := newKey(t, "ES256")
	c := newChecker(t, dpop.Options{Now: clk.Now, Nonce: func(n string) bool { return n == "n-1" }})
	for _, r := range []struct {
		nonce string
		ok    bool
	}{{"", false}, {"n-0", false}, {"n-1", true}} {
		p := sign(t, k, "GET", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: clk.Now(), Nonce: r.nonce})
		_, err := c.Check(context.Background(), dpop.Request{Proofs: []string{p}, Method: "GET", URI: testURI, AccessToken: testToken})
		if r.ok {
			if err != nil {
				t.Fatalf("nonce %q refused: %v", r.nonce, err)
			}
			continue
		}
		wantRefusal(t, err, http.StatusUnauthorized, dpop.CodeUseNonce, dpop.ErrNonce)
	}
}

// TestReplay checks that a proof is accepted once, that a replay is refused
// until the proof could no longer pass iat anyway, and that the cache then
// lets its entry go.
func TestReplay(t *testing.T) {
	clk := newClock()
	k := newKey(t, "ES256")
	c := newChecker(t, dpop.Options{MaxAge: time.Minute, Leeway: 10 * time.Second, Now: clk.Now})
	req := dpop.Request{Proofs: []string{sign(t, k, "GET", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: clk.Now(), JTI: "once"})},
		Method: "GET", URI: testURI, AccessToken: testToken}
	if _, err := c.Check(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	clk.Add(70 * time.Second) // the last instant iat passes
	_, err := c.Check(context.Background(), req)
	wantRefusal(t, err, http.StatusUnauthorized, dpop.CodeInvalidProof, dpop.ErrReplayed)

	// The same jti under another key is another proof.
	req2 := req
	req2.Proofs = []string{sign(t, newKey(t, "ES256"), "GET", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: clk.Now(), JTI: "once"})}
	if _, err := c.Check(context.Background(), req2); err != nil {
		t.Fatalf("same jti, other key: %v", err)
	}
	if n := dpop.ReplayLen(c); n != 2 {
		t.Fatalf("%d entries, want 2", n)
	}
	clk.Add(time.Nanosecond)
	_, err = c.Check(context.Background(), req)
	wantRefusal(t, err, http.StatusUnauthorized, dpop.CodeInvalidProof, dpop.ErrIATOld)
	if n := dpop.ReplayLen(c); n != 2 {
		t.Fatalf("%d entries within the replay margin, want 2", n)
	}
	clk.Add(dpop.ReplayMargin)
	if n := dpop.ReplayLen(c); n != 1 {
		t.Fatalf("%d entries after the first expired, want 1", n)
	}
}

// TestReplayBounds checks the memory cache's bounds: a key over its own
// bound gets 429 while other keys pass; the cache full, the key holding
// the most gives room to a newcomer and is refused (429) until the record
// it gave up would have expired, so that record cannot be replayed; a
// full cache of keys at their fair share gets 503; none forgets a
// recorded proof while it could pass.
func TestReplayBounds(t *testing.T) {
	clk := newClock()
	c := newChecker(t, dpop.Options{MaxAge: time.Minute, Leeway: -1, Now: clk.Now, MaxEntries: 4, MaxEntriesPerKey: 3})
	check := func(k *keywardtest.DPoPKey, jti string) error {
		p := sign(t, k, "GET", testURI, "", &keywardtest.ProofOptions{IssuedAt: clk.Now(), JTI: jti})
		_, err := c.Check(context.Background(), dpop.Request{Proofs: []string{p}, Method: "GET", URI: testURI})
		return err
	}
	retry := func(err error) time.Duration {
		var e *dpop.Error
		if !errors.As(err, &e) {
			t.Fatalf("error %v, want a *dpop.Error", err)
		}
		return e.RetryAfter
	}
	a, b, d, e, f := newKey(t, "EdDSA"), newKey(t, "EdDSA"), newKey(t, "EdDSA"), newKey(t, "EdDSA"), newKey(t, "EdDSA")
	for _, jti := range []string{"1", "2", "3"} {
		if err := check(a, jti); err != nil {
			t.Fatal(err)
		}
	}
	err := check(a, "4")
	wantRefusal(t, err, http.StatusTooManyRequests, dpop.CodeTooManyRequests, dpop.ErrKeyShareFull)
	if got := retry(err); got != time.Minute+dpop.ReplayMargin {
		t.Fatalf("RetryAfter %s, want 1m plus the margin", got)
	}
	wantRefusal(t, check(a, "1"), http.StatusUnauthorized, dpop.CodeInvalidProof, dpop.ErrReplayed)
	clk.Add(30 * time.Second)
	if err := check(b, "1"); err != nil { // the cache is full now: 4 entries
		t.Fatalf("another key: %v", err)
	}
	if err := check(d, "1"); err != nil {
		t.Fatalf("a newcomer to the full cache: %v", err)
	}
	for _, jti := range []string{"1", "5"} { // a gave up the record of "1": a is refused while it could pass
		err = check(a, jti)
		wantRefusal(t, err, http.StatusTooManyRequests, dpop.CodeTooManyRequests, dpop.ErrKeyShareFull)
		if got := retry(err); got != 30*time.Second+dpop.ReplayMargin {
			t.Fatalf("a's RetryAfter %s, want 35s (until its given-up record expires)", got)
		}
	}
	if err := check(e, "1"); err != nil { // a gives up another
		t.Fatalf("a second newcomer: %v", err)
	}
	// a, b, d and e each hold one of the 4: a fifth key waits.
	err = check(f, "1")
	wantRefusal(t, err, http.StatusServiceUnavailable, dpop.CodeUnavailable, dpop.ErrCacheFull)
	if got := retry(err); got != 30*time.Second+dpop.ReplayMargin {
		t.Fatalf("RetryAfter %s, want 35s (until a's entry expires)", got)
	}
	clk.Add(30*time.Second + dpop.ReplayMargin)
	if err := check(f, "1"); err != nil {
		t.Fatalf("after a's entries expired: %v", err)
	}
	if n := dpop.ReplayLen(c); n != 4 {
		t.Fatalf("%d entries, want 4 (b, d, e and f; a's have expired)", n)
	}
}

// TestReplayFlood: a few bound keys that fill the memory cache with
// proofs dated as far ahead as the leeway allows no longer lock every
// other key out (503 for two minutes before): a newcomer passes, the
// flooding keys are refused 429, and a proof they gave up room for is not
// accepted again. A busy key alone may use the whole cache (it was held
// to a tenth).
func TestReplayFlood(t *testing.T) {
	clk := newClock()
	c := newChecker(t, dpop.Options{Now: clk.Now, MaxEntries: 200})
	check := func(k *keywardtest.DPoPKey, jti string, iat time.Time) error {
		p := sign(t, k, "GET", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: iat, JTI: jti})
		_, err := c.Check(context.Background(), dpop.Request{Proofs: []string{p}, Method: "GET", URI: testURI, AccessToken: testToken, BoundTo: k.Thumbprint()})
		return err
	}
	attackers := []*keywardtest.DPoPKey{newKey(t, "EdDSA"), newKey(t, "EdDSA")}
	recorded := 0
	for i, k := range attackers {
		for j := 0; ; j++ {
			if err := check(k, fmt.Sprint(j), clk.Now().Add(30*time.Second)); err != nil {
				break
			}
			recorded++
			if i == 0 && j == 199 {
				break // the first alone may fill it
			}
		}
	}
	if recorded < 200 {
		t.Fatalf("the attackers recorded %d proofs, want the cache full (200)", recorded)
	}
	for i := range 5 {
		victim := newKey(t, "ES256")
		if err := check(victim, "v", clk.Now()); err != nil {
			t.Fatalf("victim %d after the flood: %v", i, err)
		}
	}
	err := check(attackers[0], "new", clk.Now())
	wantRefusal(t, err, http.StatusTooManyRequests, dpop.CodeTooManyRequests, dpop.ErrKeyShareFull)
	for j := range 200 { // none of its proofs passes again, given up or not
		if err := check(attackers[0], fmt.Sprint(j), clk.Now().Add(30*time.Second)); err == nil {
			t.Fatalf("proof %d of the flooding key accepted twice", j)
		}
	}
}

// TestNew checks that options out of range are refused.
func TestNew(t *testing.T) {
	for _, o := range []dpop.Options{
		{Algorithms: []string{"HS256"}},
		{Algorithms: []string{"none"}},
		{Algorithms: []string{"es256"}},
		{MaxAge: -time.Second},
		{MaxAge: dpop.MaxMaxAge + time.Second},
		{Leeway: 6 * time.Minute},
		{MaxEntries: -1},
	} {
		if _, err := dpop.New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// TestThumbprint checks RFC 7638 thumbprints against the RFCs' own
// examples (RSA: RFC 7638 §3.1; Ed25519: RFC 8037 A.3), an EC key's
// canonical JSON written out by hand, an RSA modulus with a leading zero
// octet (the same key), and refuses private and symmetric keys.
func TestThumbprint(t *testing.T) {
	const rfc7638N = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	n, _ := base64.RawURLEncoding.DecodeString(rfc7638N)
	zeroN := base64.RawURLEncoding.EncodeToString(append([]byte{0}, n...))
	const ecX, ecY = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0" // RFC 7515 A.3
	ecCanonical := `{"crv":"P-256","kty":"EC","x":"` + ecX + `","y":"` + ecY + `"}`
	for _, r := range []struct {
		name, jwk, want string
	}{
		{"RFC 7638 RSA", `{"kty":"RSA","n":"` + rfc7638N + `","e":"AQAB","alg":"RS256","kid":"2011-04-29"}`, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RSA modulus with a leading zero", `{"kty":"RSA","n":"` + zeroN + `","e":"AQAB"}`, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", `{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"x"}`, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
		{"EC P-256", `{"y":"` + ecY + `","x":"` + ecX + `","use":"sig","kty":"EC","crv":"P-256"}`, sha256B64(ecCanonical)},
	} {
		got, err := dpop.Thumbprint([]byte(r.jwk))
		if err != nil || got != r.want {
			t.Errorf("%s: Thumbprint = %q, %v; want %q", r.name, got, err, r.want)
		}
	}
	for _, bad := range []string{
		`{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}`,
		`{"kty":"oct","k":"c2VjcmV0"}`,
		`{"kty":"EC","crv":"P-256","x":"` + ecX + `","y":"` + ecX + `"}`, // not on the curve
		`{"kty":"RSA","n":"AQAB","e":"AQAB"}`,                            // too short
		`{"kty":"RSA","n":"` + rfc7638N + `","e":"Aw"}`,                  // e = 3
		`{"kty":"RSA","n":"` + rfc7638N + `","e":"f____w"}`,              // e = 2^31 - 1
		`{"kty":"OKP","crv":"X25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`,
		`[]`,
	} {
		if got, err := dpop.Thumbprint([]byte(bad)); err == nil {
			t.Errorf("Thumbprint(%s) = %q, want an error", bad, got)
		}
	}
}

// TestSmallOrderEd25519Keys refuses the Ed25519 keys that are points of
// small order, under which one signature verifies every message: the
// eight canonical encodings and the non-canonical spellings of the same
// points (y not reduced modulo 2^255-19, or x's sign bit set where x = 0).
func TestSmallOrderEd25519Keys(t *testing.T) {
	for _, r := range []struct{ name, hex string }{
		{"identity", "0100000000000000000000000000000000000000000000000000000000000000"},
		{"order 2", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
		{"order 4", "0000000000000000000000000000000000000000000000000000000000000000"},
		{"order 4, x negative", "0000000000000000000000000000000000000000000000000000000000000080"},
		{"order 8", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"},
		{"order 8, x negative", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa"},
		{"order 8, other y", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"},
		{"order 8, other y, x negative", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"},
		{"identity, sign bit set", "0100000000000000000000000000000000000000000000000000000000000080"},
		{"order 2, sign bit set", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
		{"y = p (0 unreduced)", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
		{"y = p, sign bit set", "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
		{"y = p + 1 (identity unreduced)", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"},
		{"y = p + 1, sign bit set", "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"},
	} {
		b, err := hex.DecodeString(r.hex)
		if err != nil {
			t.Fatal(err)
		}
		jwk := `{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(b) + `"}`
		if got, err := dpop.Thumbprint([]byte(jwk)); err == nil {
			t.Errorf("%s: Thumbprint = %q, want the small-order key refused", r.name, got)
		}
	}
}
