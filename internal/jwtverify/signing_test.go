package jwtverify

import (
	"bytes"
	"encoding/asn1"
	"math/big"
	"math/rand/v2"
	"testing"
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
