package jwtverify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	cryptorand "crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// TestAppendDER holds the DER appendDER writes for an ECDSA signature's R
// and S to encoding/asn1's, which crypto/ecdsa reads it with, for every
// size of JWS (ES256, ES384, ES512) and the edge values: zero, leading
// zero bytes, a high first bit, all ones.
func TestAppendDER(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{32, 48, 66} {
		edges := [][]byte{
			make([]byte, size),                            // zero
			append(make([]byte, size-1), 1),               // one
			append([]byte{0x80}, make([]byte, size-1)...), // high bit
			bytes.Repeat([]byte{0xff}, size),              // all ones
			append([]byte{0, 0x7f}, bytes.Repeat([]byte{0xff}, size-2)...),
			append([]byte{0, 0x80}, make([]byte, size-2)...),
		}
		for range 200 {
			v := make([]byte, size)
			for i := range v {
				v[i] = byte(rng.Uint32())
			}
			v[0] &= byte(rng.Uint32()) // sometimes leading zeros
			edges = append(edges, v)
		}
		for _, r := range edges {
			for _, s := range edges[:8] {
				want, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(r), new(big.Int).SetBytes(s)})
				if err != nil {
					t.Fatal(err)
				}
				if got := appendDER(nil, r, s); !bytes.Equal(got, want) {
					t.Fatalf("size %d, r %x, s %x:\n got %x\nwant %x", size, r, s, got, want)
				}
				if got := appendDER([]byte("prefix"), s, r); !bytes.HasPrefix(got, []byte("prefix")) {
					t.Fatalf("appendDER lost what it appended to: %x", got)
				}
			}
		}
	}
}

// TestKeyfuncSeesGolangJWTMethods: a key set of the user's own (no
// jwks.KeyLookup) gets, in the token its Keyfunc reads, golang-jwt's method
// types, as golang-jwt's documentation has a Keyfunc check them, while our
// Verify checks the signature: every algorithm verifies.
func TestKeyfuncSeesGolangJWTMethods(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(cryptorand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), cryptorand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(cryptorand.Reader)
	for _, tt := range []struct {
		alg       string
		sign, pub any
		ok        func(jwt.SigningMethod) bool
	}{
		{"RS256", rsaKey, &rsaKey.PublicKey, func(m jwt.SigningMethod) bool { _, ok := m.(*jwt.SigningMethodRSA); return ok }},
		{"PS256", rsaKey, &rsaKey.PublicKey, func(m jwt.SigningMethod) bool { _, ok := m.(*jwt.SigningMethodRSAPSS); return ok }},
		{"ES256", ecKey, &ecKey.PublicKey, func(m jwt.SigningMethod) bool { _, ok := m.(*jwt.SigningMethodECDSA); return ok }},
		{"EdDSA", edKey, edPub, func(m jwt.SigningMethod) bool { _, ok := m.(*jwt.SigningMethodEd25519); return ok }},
	} {
		t.Run(tt.alg, func(t *testing.T) {
			keys := keyfuncSet(func(tok *jwt.Token) (any, error) {
				if !tt.ok(tok.Method) {
					return nil, fmt.Errorf("unexpected signing method %T", tok.Method)
				}
				return tt.pub, nil
			})
			v, err := New(Config{Issuers: []Issuer{{Issuer: "https://issuer.example", Audiences: []string{"api"}, Keys: keys}}})
			if err != nil {
				t.Fatal(err)
			}
			raw, err := jwt.NewWithClaims(jwt.GetSigningMethod(tt.alg), jwt.MapClaims{
				"iss": "https://issuer.example", "aud": "api", "sub": "u", "exp": time.Now().Add(time.Hour).Unix(),
			}).SignedString(tt.sign)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := v.Verify(context.Background(), raw); err != nil {
				t.Fatalf("Verify: %v (%v)", err, errors.Unwrap(err))
			}
		})
	}
}

// keyfuncSet is a key set of a user's own: a Keyfunc, no jwks.KeyLookup.
type keyfuncSet jwt.Keyfunc

func (k keyfuncSet) Keyfunc(context.Context) jwt.Keyfunc { return jwt.Keyfunc(k) }
func (k keyfuncSet) Status() jwks.Status                 { return jwks.Status{} }
