package bench_test

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/bench/internal/suite"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// dpopAlgs are the DPoP keys' algorithms the DPoP benchmarks use: the two
// DPoP clients most often sign with.
var dpopAlgs = []string{"ES256", "EdDSA"}

// dpopTokenAlg signs the access tokens of the DPoP benchmarks, Bearer and
// DPoP alike. They are verified once, before the timer, and answered from
// the token cache after that, so it does not matter which.
const dpopTokenAlg = "ES256"

// bookingsURI is the URI Keyward sees for bearer's and dpopRequest's
// requests (httptest.NewRequest's host, no TLS): the htu of their proofs.
const bookingsURI = "http://example.com" + suite.BookingsRoute

// dpopTrust is the suite's trust with DPoP-bound tokens allowed beside
// Bearer ones (jwtauth.DPoP's defaults: proofs up to 60 s old, replays
// refused from this process's memory).
func dpopTrust() suite.Trust {
	t := env.Trust()
	t.EditKeyward = func(c *jwtauth.Config) { c.DPoP = &jwtauth.DPoP{} }
	return t
}

// dpopClient is a DPoP key and a token bound to it.
type dpopClient struct {
	key   *keywardtest.DPoPKey
	token string
}

func newDPoPClient(tb testing.TB, alg string) dpopClient {
	tb.Helper()
	key, err := keywardtest.NewDPoPKey(alg)
	if err != nil {
		tb.Fatal(err)
	}
	token, err := env.Mint(dpopTokenAlg, jwt.MapClaims{"cnf": map[string]any{"jkt": key.Thumbprint()}})
	if err != nil {
		tb.Fatal(err)
	}
	return dpopClient{key: key, token: token}
}

// proofs signs n proofs for GET bookingsURI with the client's token, each
// with its own jti, on every core.
func (c dpopClient) proofs(tb testing.TB, n int) []string {
	tb.Helper()
	out, err := suite.MintParallel(n, func() (string, error) {
		return c.key.Proof(http.MethodGet, bookingsURI, c.token, nil)
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// request builds a GET request for the bookings route with the client's
// token as DPoP and proof.
func (c dpopClient) request(proof string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, suite.BookingsRoute, nil)
	r.Header.Set("Authorization", "DPoP "+c.token)
	r.Header.Set("DPoP", proof)
	return r
}

// BenchmarkDPoP compares, in one run, a reused DPoP-bound token sent with a
// fresh proof on every request with a reused Bearer token on the same
// Keyward handler (DPoP allowed), and gives the price of one proof's
// signature as a reference:
//
//	BenchmarkDPoP/alg={ES256,EdDSA}/token={bearer,dpop}/run={serial,parallel}/impl={keyward-nethttp,keyward-echo}
//	BenchmarkDPoP/alg={ES256,EdDSA}/token={proof-sig,proof-jwt}/run={serial,parallel}/impl=golang-jwt
//
// alg is the DPoP key's algorithm (the access tokens are ES256 JWTs,
// verified once before the timer and then answered from the cache). A
// proof is single use, so token=dpop sends b.N proofs signed before the
// timer, each with its own jti: run it with -benchtime Nx, as fresh
// tokens. token=proof-sig verifies a proof's signature alone with
// golang-jwt (its SigningMethod.Verify on the decoded signature, the key
// known); token=proof-jwt parses and verifies a whole proof with golang-jwt
// (jwt.Parse into MapClaims). Neither decodes the proof's jwk, checks its
// claims or records its jti, which Keyward does.
func BenchmarkDPoP(b *testing.B) {
	for _, alg := range dpopAlgs {
		b.Run("alg="+alg, func(b *testing.B) {
			client := newDPoPClient(b, alg)
			for _, token := range []string{"bearer", "dpop", "proof-sig", "proof-jwt"} {
				b.Run("token="+token, func(b *testing.B) {
					for _, run := range []string{"serial", "parallel"} {
						b.Run("run="+run, func(b *testing.B) {
							parallel := run == "parallel"
							if strings.HasPrefix(token, "proof-") {
								b.Run("impl=golang-jwt", func(b *testing.B) {
									benchProofVerify(b, client, token == "proof-sig", parallel)
								})
								return
							}
							for _, impl := range []string{suite.ImplKeywardNetHTTP, suite.ImplKeywardEcho} {
								b.Run("impl="+impl, func(b *testing.B) {
									benchDPoP(b, impl, client, token == "dpop", parallel)
								})
							}
						})
					}
				})
			}
		})
	}
}

// benchDPoP serves b.N requests through impl with DPoP allowed: the reused
// Bearer token every time, or the reused DPoP-bound token with a proof
// never sent before. Both tokens pass once before the timer, so both are
// in the token cache.
func benchDPoP(b *testing.B, impl string, client dpopClient, dpop, parallel bool) {
	h := build(b, impl, dpopTokenAlg, dpopTrust())
	reused := env.Reused(dpopTokenAlg)
	warm := client.proofs(b, 1)[0]
	if code := newStatusWriter().serve(h, bearer(reused)); code != http.StatusOK {
		b.Fatalf("%s refused a good Bearer token with DPoP allowed: status %d", impl, code)
	}
	if code := newStatusWriter().serve(h, client.request(warm)); code != http.StatusOK {
		b.Fatalf("%s refused a good DPoP token and proof: status %d", impl, code)
	}
	if !dpop {
		benchSame(b, h, func() *http.Request { return bearer(reused) }, parallel)
		return
	}
	proofs := client.proofs(b, b.N)
	reqs := make([]*http.Request, b.N)
	for i, proof := range proofs {
		reqs[i] = client.request(proof)
	}
	benchEach(b, h, reqs, parallel)
}

// benchProofVerify verifies a proof's signature b.N times with golang-jwt:
// with sigOnly, the signing method's Verify on the signing input and the
// decoded signature; else jwt.Parse of the whole proof.
func benchProofVerify(b *testing.B, client dpopClient, sigOnly, parallel bool) {
	proofs := client.proofs(b, 64)
	public := client.key.Public()
	method := jwt.GetSigningMethod(client.key.Alg)
	parser := jwt.NewParser(jwt.WithValidMethods([]string{client.key.Alg}))
	keyFunc := func(*jwt.Token) (any, error) { return public, nil }
	verify := func(proof string) bool {
		if sigOnly {
			dot := strings.LastIndexByte(proof, '.')
			sig, err := base64.RawURLEncoding.DecodeString(proof[dot+1:])
			return err == nil && method.Verify(proof[:dot], sig, public) == nil
		}
		_, err := parser.Parse(proof, keyFunc)
		return err == nil
	}
	for _, proof := range proofs {
		if !verify(proof) {
			b.Fatal("golang-jwt refused a good proof")
		}
	}
	benchLoop(b, parallel, func(i int) error {
		if !verify(proofs[i%len(proofs)]) {
			return errors.New("golang-jwt refused a good proof")
		}
		return nil
	})
}

// TestDPoPHandlers checks, on both frameworks and for both DPoP key
// algorithms, what BenchmarkDPoP relies on and what it must not measure
// by mistake: with DPoP allowed a Bearer token and a bound token with a
// good proof pass; the same proof again is a replay, and the bound token
// sent as Bearer is refused, each with its RFC 9449 challenge.
func TestDPoPHandlers(t *testing.T) {
	for _, alg := range dpopAlgs {
		client := newDPoPClient(t, alg)
		for _, impl := range []string{suite.ImplKeywardNetHTTP, suite.ImplKeywardEcho} {
			t.Run(alg+"/"+impl, func(t *testing.T) {
				h := build(t, impl, dpopTokenAlg, dpopTrust())
				proofs := client.proofs(t, 2)
				for _, tc := range []struct {
					name      string
					req       *http.Request
					code      int
					challenge []string // parts of the WWW-Authenticate value, in order
				}{
					{"Bearer token", bearer(env.Reused(dpopTokenAlg)), http.StatusOK, nil},
					{"bound token, good proof", client.request(proofs[0]), http.StatusOK, nil},
					{"bound token, the same proof again", client.request(proofs[0]), http.StatusUnauthorized,
						[]string{`DPoP realm="bookings-api", algs="`, `error="invalid_dpop_proof"`}},
					{"bound token, another good proof", client.request(proofs[1]), http.StatusOK, nil},
					{"bound token as Bearer", bearer(client.token), http.StatusUnauthorized,
						[]string{`Bearer realm="bookings-api", error="invalid_token"`, `DPoP realm="bookings-api", algs="`}},
				} {
					w := newStatusWriter()
					if code := w.serve(h, tc.req); code != tc.code {
						t.Fatalf("%s: status %d, want %d", tc.name, code, tc.code)
					}
					got := strings.Join(w.Header().Values("WWW-Authenticate"), " ")
					if rest := got; len(tc.challenge) > 0 {
						for _, part := range tc.challenge {
							_, after, found := strings.Cut(rest, part)
							if !found {
								t.Errorf("%s: WWW-Authenticate %q, want %q in it, in order", tc.name, got, tc.challenge)
								break
							}
							rest = after
						}
					} else if got != "" {
						t.Errorf("%s: WWW-Authenticate %q on a pass", tc.name, got)
					}
				}
			})
		}
	}
}
