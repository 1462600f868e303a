package dualauth_test

import (
	"context"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/keywardtest"
)

// BenchmarkCredentials measures a client-credential request answered from
// the verified-credential cache, and the same request checked against the
// registry's hash every time (cache off) for bcrypt cost 12 (the registry
// default) and the cheapest argon2id parameters accepted.
func BenchmarkCredentials(b *testing.B) {
	hashes := map[string]clients.HashParams{
		"bcrypt-12":    {Algorithm: clients.AlgBcrypt, BcryptCost: 12},
		"argon2id-min": {Algorithm: clients.AlgArgon2id, Argon2: clients.Argon2Params{Memory: clients.MinArgon2Memory, Time: 1, Threads: 1}},
	}
	for name, params := range hashes {
		hash, err := clients.HashSecret("bench-secret", params)
		if err != nil {
			b.Fatal(err)
		}
		reg, err := clients.Parse([]byte("clients:\n  - client_id: bench\n    secret_hash: \"" + hash + "\"\n    scopes: [bookings:read]\n"))
		if err != nil {
			b.Fatal(err)
		}
		for _, cache := range []struct {
			name string
			ttl  time.Duration
		}{{"cached", 0}, {"uncached", -1}} {
			b.Run(name+"/"+cache.name, func(b *testing.B) {
				a, err := dualauth.New(dualauth.Config{Mode: dualauth.ModeCredentials, Credentials: dualauth.Credentials{
					Verifier: dualauth.RegistryVerifier(reg), CacheTTL: cache.ttl,
				}})
				if err != nil {
					b.Fatal(err)
				}
				r := request{headers: map[string]string{"client_id": "bench", "client_secret": "bench-secret"}}.build()
				if _, err := a.Authenticate(r); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := a.Authenticate(r); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkVerify measures Verify for a token seen before (answered by the
// token cache) and for a new token each time (the cache off, so every call
// takes the full path: parse, key lookup, signature, claims).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"RS256", "PS256", "ES256", "EdDSA"} {
		iss := keywardtest.NewIssuer(b, alg)
		raw := iss.Token(b, jwt.MapClaims{"scope": "bookings:read"})
		for _, tc := range []struct {
			name  string
			cache dualauth.TokenCache
		}{{"reused", dualauth.TokenCache{}}, {"new", dualauth.TokenCache{Disabled: true}}} {
			b.Run(alg+"/"+tc.name, func(b *testing.B) {
				a := iss.Authenticator(b, func(c *dualauth.Config) { c.TokenCache = tc.cache })
				ctx := context.Background()
				if _, err := a.Verify(ctx, raw); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Verify(ctx, raw); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
