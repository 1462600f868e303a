package jwks_test

import (
	"context"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// BenchmarkKeyfunc measures the key lookup a request pays (not the signature
// check), for a Remote holding 6 keys and for a Static set.
func BenchmarkKeyfunc(b *testing.B) {
	p := newIDP(b)
	p.serveJSON("/jwks", jwksJSON(b,
		jwk{key: rsaA(), kid: "rsa-a"},
		jwk{key: rsaB(), kid: "rsa-b"},
		jwk{key: ecP256(), kid: "p256"},
		jwk{key: ecP384(), kid: "p384"},
		jwk{key: ecP521(), kid: "p521"},
		jwk{key: edKey(), kid: "ed"},
	))
	r, err := jwks.NewRemote(context.Background(), p.url("/jwks"), jwks.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(r.Close)
	st, err := jwks.NewStatic("static", rsaA().Public(), ecP256().Public())
	if err != nil {
		b.Fatal(err)
	}
	parse := func(token string) *jwt.Token {
		t, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
		if err != nil {
			b.Fatal(err)
		}
		return t
	}
	cases := []struct {
		name  string
		set   jwks.Set
		token *jwt.Token
	}{
		{"remote/kid", r, parse(sign(b, jwt.SigningMethodRS256, rsaB(), "rsa-b"))},
		{"remote/no-kid", r, parse(sign(b, jwt.SigningMethodRS256, rsaB(), ""))},
		{"static/no-kid", st, parse(sign(b, jwt.SigningMethodRS256, rsaA(), ""))},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			kf := bc.set.Keyfunc(context.Background())
			b.ReportAllocs()
			for b.Loop() {
				if _, err := kf(bc.token); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// As a verifier calls it: Keyfunc(ctx) for each request, then the lookup.
	b.Run("remote/kid-per-request", func(b *testing.B) {
		token := parse(sign(b, jwt.SigningMethodRS256, rsaB(), "rsa-b"))
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Keyfunc(ctx)(token); err != nil {
				b.Fatal(err)
			}
		}
	})
	// As dualauth calls it, with a request's context, which can end: Keyfunc
	// builds a function for it; Key needs none.
	b.Run("remote/kid-per-request-ctx", func(b *testing.B) {
		token := parse(sign(b, jwt.SigningMethodRS256, rsaB(), "rsa-b"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.Keyfunc(ctx)(token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remote/key-ctx", func(b *testing.B) {
		token := parse(sign(b, jwt.SigningMethodRS256, rsaB(), "rsa-b"))
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var set jwks.KeyLookup = r
		alg, kid := algKID(token)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := set.Key(ctx, alg, kid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("remote/parse+verify-ES256", func(b *testing.B) {
		token := sign(b, jwt.SigningMethodES256, ecP256(), "p256")
		kf := r.Keyfunc(context.Background())
		b.ReportAllocs()
		for b.Loop() {
			if _, err := jwt.Parse(token, kf); err != nil {
				b.Fatal(err)
			}
		}
	})
}
