package clients_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/clients"
)

// BenchmarkVerify measures one verification per algorithm and cost, and an
// unknown id, which costs what the registry's most expensive entry costs
// (here bcrypt at cost 12).
func BenchmarkVerify(b *testing.B) {
	r := mustParse(b, registryYAML(b,
		spec{id: "bcrypt-10", secret: "secret", p: bcrypt10},
		spec{id: "bcrypt-12", secret: "secret", p: clients.HashParams{BcryptCost: 12}},
		spec{id: "argon2id-min", secret: "secret", p: argonMin},
	))
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
	b.Run("unknown-id", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Verify(ctx, "nobody", "secret"); !errors.Is(err, clients.ErrUnknownClient) {
				b.Fatal(err)
			}
		}
	})
}
