package dpop

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"math/big"
	"testing"
	"time"
)

// TestPSSSaltLength checks that a PS256 proof passes with a salt as long
// as the hash and is refused with any other (RFC 7518 §3.5), where
// golang-jwt's own PS256 accepts every salt length.
func TestPSSSaltLength(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	jwk := map[string]any{"kty": "RSA", "n": b64.EncodeToString(key.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(key.E)).Bytes())}
	header, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": "PS256", "jwk": jwk})
	claims, _ := json.Marshal(map[string]any{"jti": "j", "htm": "GET", "htu": "https://h/a", "iat": now.Unix()})
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	digest := sha256.Sum256([]byte(input))
	c, err := New(Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		salt int
		ok   bool
	}{{rsa.PSSSaltLengthEqualsHash, true}, {rsa.PSSSaltLengthAuto, false}, {20, false}} {
		sig, err := rsa.SignPSS(rand.Reader, key, crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: r.salt})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Check(context.Background(), Request{Proofs: []string{input + "." + b64.EncodeToString(sig)}, Method: "GET", URI: "https://h/a"})
		if r.ok != (err == nil) || !r.ok && !errors.Is(err, errSignature) {
			t.Errorf("salt length %d: Check error %v, want accepted %v", r.salt, err, r.ok)
		}
	}
}
