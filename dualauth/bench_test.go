package dualauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
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
				a, err := build(testConfig{Mode: dualauth.ModeCredentials, Credentials: credentials{
					Verifier: reg, CacheTTL: cache.ttl,
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
			cache jwtauth.TokenCache
		}{{"reused", jwtauth.TokenCache{}}, {"new", jwtauth.TokenCache{Disabled: true}}} {
			b.Run(alg+"/"+tc.name, func(b *testing.B) {
				a := authenticatorFor(b, iss, func(c *testConfig) { c.TokenCache = tc.cache })
				ctx := context.Background()
				if _, err := a.Verify(ctx, raw, ""); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := a.Verify(ctx, raw, ""); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkTelemetry measures the path of a token the cache holds with
// metrics and traces off and on: "off" has no-op providers, "global" the
// global ones left unset (the default), "metrics" an SDK MeterProvider with
// a ManualReader, "metrics+traces" also an SDK TracerProvider that samples
// every span into a batch processor. Verify records keyward.verify.duration;
// Authorize (as middleware Require alone) also counts the request and
// starts its span; NetHTTP is a ServeMux route behind middleware
// Authenticate and Require, answered 200.
func BenchmarkTelemetry(b *testing.B) {
	iss := keywardtest.NewIssuer(b, "ES256")
	raw := iss.Token(b, jwt.MapClaims{"scope": "bookings:read"})
	need := scopes.All("bookings:read")
	setups := []struct {
		name string
		edit func(*testConfig)
	}{
		{"off", func(c *testConfig) {
			c.MeterProvider, c.TracerProvider = metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
		}},
		{"global", nil},
		{"metrics", func(c *testConfig) {
			c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			c.TracerProvider = tracenoop.NewTracerProvider()
		}},
		{"metrics+traces", func(c *testConfig) {
			c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter())))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			c.TracerProvider = tp
		}},
	}
	for _, path := range []string{"Verify", "Authorize", "NetHTTP"} {
		for _, s := range setups {
			b.Run(path+"/"+s.name, func(b *testing.B) {
				a := authenticatorFor(b, iss, s.edit)
				b.Cleanup(func() { _ = a.Close() })
				ctx := context.Background()
				r := httptest.NewRequest(http.MethodGet, "/bookings", nil)
				r.Header.Set("Authorization", "Bearer "+raw)
				var run func() error
				switch path {
				case "Verify":
					run = func() error { _, err := a.Verify(ctx, raw, ""); return err }
				case "Authorize":
					run = func() error { _, err := a.Authorize(r, need); return err }
				case "NetHTTP":
					kw := middleware.New(a, middleware.Options{})
					mux := http.NewServeMux()
					mux.Handle("GET /bookings", kw.Authenticate(kw.Require(need)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
						w.WriteHeader(http.StatusOK)
					}))))
					run = func() error {
						rec := httptest.NewRecorder()
						mux.ServeHTTP(rec, r)
						if rec.Code != http.StatusOK {
							return fmt.Errorf("status %d", rec.Code)
						}
						return nil
					}
				}
				if err := run(); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if err := run(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
