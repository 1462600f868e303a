package clients_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/clients"
)

// BenchmarkVerify measures one verification per algorithm and cost; success
// takes what its own hash takes.
func BenchmarkVerify(b *testing.B) {
	r := benchRegistry(b)
	ctx := context.Background()
	for _, id := range []string{"bcrypt-10", "bcrypt-12", "argon2id-min"} {
		b.Run(id, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Verify(ctx, id, "secret"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyFailure is the review's timing measurement: in a registry
// that mixes algorithms and costs, every failure, whatever the entry or an
// unknown id, takes about the time of the most expensive entry (here bcrypt
// at cost 12), the failure floor. Compare the ns/op of the sub-benchmarks.
func BenchmarkVerifyFailure(b *testing.B) {
	r := benchRegistry(b)
	b.Logf("failure floor %v", clients.FailureFloor(r))
	ctx := context.Background()
	for _, id := range []string{"bcrypt-10", "bcrypt-12", "argon2id-min", "unknown"} {
		b.Run(id, func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Verify(ctx, id, "wrong"); !errors.Is(err, clients.ErrInvalidClient) {
					b.Fatal(err)
				}
			}
		})
	}
}

func benchRegistry(b *testing.B) *clients.Registry {
	return mustParse(b, registryYAML(b,
		spec{id: "bcrypt-10", secret: "secret", p: bcrypt10},
		spec{id: "bcrypt-12", secret: "secret", p: clients.HashParams{BcryptCost: 12}},
		spec{id: "argon2id-min", secret: "secret", p: argonMin},
	))
}
