package jwks

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"math/big"
	"testing"

	"github.com/MicahParks/jwkset"
)

// TestStoreDropsOversizedRSA: whoever writes into the store, an RSA key above
// maxRSABits is dropped and counted, and never indexed.
func TestStoreDropsOversizedRSA(t *testing.T) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), maxRSABits))
	if err != nil {
		t.Fatal(err)
	}
	n.SetBit(n, maxRSABits, 1).SetBit(n, 0, 1) // maxRSABits+1 bits
	jk, err := jwkset.NewJWKFromKey(&rsa.PublicKey{N: n, E: 65537}, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: "big"}})
	if err != nil {
		t.Fatal(err)
	}
	s := newStore(slog.New(slog.DiscardHandler))
	skipped, err := s.load(context.Background(), []jwkset.JWK{jk})
	if err != nil || skipped != 1 || s.keys().len() != 0 {
		t.Fatalf("load: skipped %d, err %v, %d keys", skipped, err, s.keys().len())
	}
	if err := s.KeyWrite(context.Background(), jk); err != nil || s.keys().len() != 0 {
		t.Fatalf("KeyWrite: err %v, %d keys", err, s.keys().len())
	}
	if fits("RS256", &rsa.PublicKey{N: n, E: 65537}) {
		t.Fatal("an RSA key above the maximum fits RS256")
	}
}
