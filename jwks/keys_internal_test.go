package jwks

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"math/big"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// TestOversizedRSANeverIndexed: however a JWK reaches the set, an RSA key
// above maxRSABits is dropped and counted, and never indexed.
func TestOversizedRSANeverIndexed(t *testing.T) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), maxRSABits))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, maxRSABits, 1).SetBit(n, 0, 1) // maxRSABits+1 bits
	jk, err := jwkset.NewJWKFromKey(&rsa.PublicKey{N: n, E: 65537}, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "big"}})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(jk.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	keys, skipped := readKeys(context.Background(), []json.RawMessage{raw}, slog.New(slog.DiscardHandler), "test")
	if len(keys) != 0 || skipped != 1 {
		t.Fatalf("readKeys: %d keys, %d skipped", len(keys), skipped)
	}
	// Past the size check of parseKey, signatureKey drops it too.
	if _, reason, unsafe := signatureKey(jk.Key(), jk.Marshal()); reason == "" || !unsafe {
		t.Fatalf("signatureKey kept the key or did not count it: reason %q, unsafe %v", reason, unsafe)
	}
	if ks := newKeySet(keys, time.Time{}); ks.n != 0 || ks.hasKID("big") {
		t.Fatalf("index holds %d keys", ks.n)
	}
	if fits("RS256", &rsa.PublicKey{N: n, E: 65537}) {
		t.Fatal("an RSA key above the maximum fits RS256")
	}
}

// TestAlgIndex: algIndex numbers signatureAlgs in order and nothing else.
func TestAlgIndex(t *testing.T) {
	for i, alg := range signatureAlgs {
		if got := algIndex(alg); got != i {
			t.Errorf("algIndex(%q) = %d, want %d", alg, got, i)
		}
	}
	for _, alg := range []string{"", "none", "HS256", "rs256", "ES256K", "Ed25519"} {
		if got := algIndex(alg); got != -1 {
			t.Errorf("algIndex(%q) = %d, want -1", alg, got)
		}
	}
}

// TestLookupAllocatesNothing: the answer to a request is prepared at load
// time, whether it is one key, several or an error.
func TestLookupAllocatesNothing(t *testing.T) {
	a, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ks := newKeySet([]entry{{kid: "a", key: &a.PublicKey}, {kid: "dup", key: &a.PublicKey}, {kid: "dup", key: &b.PublicKey}}, time.Time{})
	cases := []struct {
		alg, kid string
		want     error
	}{
		{"RS256", "a", nil},
		{"PS512", "dup", nil},
		{"ES256", "a", ErrKeyMismatch},
		{"RS256", "unknown", ErrUnknownKey},
		{"RS256", "", nil},
		{"EdDSA", "", ErrNoKeys},
	}
	for _, c := range cases {
		lookup := func() (any, error) {
			if c.kid == "" {
				return ks.forAlg(c.alg)
			}
			return ks.forKID(c.alg, c.kid)
		}
		if _, err := lookup(); err != c.want {
			t.Fatalf("%s/%q: error %v, want %v", c.alg, c.kid, err, c.want)
		}
		if n := testing.AllocsPerRun(100, func() { _, _ = lookup() }); n != 0 {
			t.Errorf("%s/%q: %v allocations per lookup", c.alg, c.kid, n)
		}
	}
	if set, _ := ks.forKID("RS256", "dup"); len(set.(jwt.VerificationKeySet).Keys) != 2 {
		t.Fatalf("kid dup: %#v, want both keys", set)
	}
}
