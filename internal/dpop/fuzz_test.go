package dpop_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/keywardtest"
)

// FuzzCheck feeds the proof parser arbitrary proofs: it must never panic,
// and must refuse each one with a 401 *Error whose description is one of
// its own (it never repeats the proof), unless the proof is the seed's
// valid one or a form of it that still verifies.
func FuzzCheck(f *testing.F) {
	clk := newClock()
	k := newKey(f, "ES256")
	for _, o := range []keywardtest.ProofOptions{
		{},
		{Header: map[string]any{"typ": "JWT"}},
		{Header: map[string]any{"jwk": map[string]any{"kty": "RSA", "n": "AQAB", "e": "AQAB"}}},
		{Claims: map[string]any{"iat": 1e300, "htu": "https://[::1]:99/%zz"}},
	} {
		o.IssuedAt = clk.Now()
		f.Add(sign(f, k, "GET", testURI, testToken, &o))
	}
	f.Add("..")
	f.Add("e30.e30.")
	c := newChecker(f, dpop.Options{Now: clk.Now, MaxEntries: 1 << 20})
	f.Fuzz(func(t *testing.T, proof string) {
		_, err := c.Check(context.Background(), dpop.Request{Proofs: []string{proof}, Method: "GET", URI: testURI, AccessToken: testToken})
		if err == nil {
			return
		}
		var e *dpop.Error
		if !errors.As(err, &e) || e.Status != http.StatusUnauthorized || e.Code != dpop.CodeInvalidProof {
			t.Fatalf("error %v (%T), want a 401 invalid_dpop_proof", err, err)
		}
		if len(proof) >= 8 && strings.Contains(e.Description, proof) {
			t.Fatalf("the description repeats the proof: %s", e.Description)
		}
	})
}

// BenchmarkCheck measures one proof's check: parsing, the signature, the
// claims and the memory replay cache, for a reused key (the common case).
func BenchmarkCheck(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			clk := newClock()
			k := newKey(b, alg)
			c := newChecker(b, dpop.Options{Now: clk.Now, MaxEntries: 1 << 24, MaxEntriesPerKey: 1 << 24})
			proofs := make([]string, b.N)
			for i := range proofs {
				proofs[i] = sign(b, k, "GET", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: clk.Now()})
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if _, err := c.Check(ctx, dpop.Request{Proofs: proofs[i : i+1], Method: "GET", URI: testURI, AccessToken: testToken, BoundTo: k.Thumbprint()}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSignatureOnly measures the signature verification alone
// (golang-jwt's method with the key at hand), in the same run as
// BenchmarkCheck: the difference is what the rest of a check costs.
func BenchmarkSignatureOnly(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			k := newKey(b, alg)
			proof := sign(b, k, "GET", testURI, testToken, nil)
			dot := strings.LastIndexByte(proof, '.')
			sig, err := base64.RawURLEncoding.DecodeString(proof[dot+1:])
			if err != nil {
				b.Fatal(err)
			}
			method, public := jwt.GetSigningMethod(alg), k.Public()
			b.ReportAllocs()
			for b.Loop() {
				if err := method.Verify(proof[:dot], sig, public); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
