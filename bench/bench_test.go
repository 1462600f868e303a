package bench_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/bench/internal/suite"
)

// BenchmarkJWT runs one authorised request (a Bearer token with the route's
// scope, checked for signature, iss, aud, exp and the scope) per iteration
// through each implementation's router:
//
//	BenchmarkJWT/alg=RS256/token=reused/run=serial/impl=keyward-nethttp
//
// token=reused sends the same token every time (what a client does until
// its token expires); token=fresh sends a token the implementation has
// never seen, from a pool minted once per process (-pool, default 3000), so
// fresh benchmarks need -benchtime=3000x. run=parallel is b.RunParallel
// over GOMAXPROCS goroutines. Every implementation is built anew for each
// invocation, outside the timer.
func BenchmarkJWT(b *testing.B) {
	for _, alg := range suite.Algs {
		b.Run("alg="+alg, func(b *testing.B) {
			for _, token := range []string{"reused", "fresh"} {
				b.Run("token="+token, func(b *testing.B) {
					for _, run := range []string{"serial", "parallel"} {
						b.Run("run="+run, func(b *testing.B) {
							for _, impl := range suite.Impls {
								b.Run("impl="+impl, func(b *testing.B) {
									benchJWT(b, impl, alg, token == "fresh", run == "parallel")
								})
							}
						})
					}
				})
			}
		})
	}
}

func benchJWT(b *testing.B, impl, alg string, fresh, parallel bool) {
	h := build(b, impl, alg, env.Trust())
	reused := env.Reused(alg)
	// One request before the timer: it must pass, and it warms what a
	// running server has warm. The reused token is never in the fresh pool.
	if code := newStatusWriter().serve(h, bearer(reused)); code != http.StatusOK {
		b.Fatalf("%s refused a good %s token: status %d", impl, alg, code)
	}
	if !fresh {
		benchSame(b, h, func() *http.Request { return bearer(reused) }, parallel)
		return
	}
	pool := freshPool(b, alg)
	if b.N > len(pool) {
		b.Fatalf("b.N = %d but only %d fresh tokens were minted: run fresh benchmarks with -benchtime=3000x (or raise -pool)", b.N, len(pool))
	}
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		reqs[i] = bearer(pool[i])
	}
	benchEach(b, h, reqs, parallel)
}

// benchSame serves the same request b.N times (each goroutine of a
// parallel run has its own copy, since ServeMux writes to the request).
func benchSame(b *testing.B, h http.Handler, newReq func() *http.Request, parallel bool) {
	b.ReportAllocs()
	if !parallel {
		r, w := newReq(), newStatusWriter()
		b.ResetTimer()
		cpu := startCPU()
		for range b.N {
			if code := w.serve(h, r); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
		}
		cpu.report(b)
		return
	}
	var fail failures
	perG := make(chan *http.Request, 64)
	for range cap(perG) {
		perG <- newReq()
	}
	b.ResetTimer()
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		r, w := <-perG, newStatusWriter()
		for pb.Next() {
			if code := w.serve(h, r); code != http.StatusOK {
				fail.add(code)
			}
		}
	})
	cpu.report(b)
	b.StopTimer()
	fail.check(b)
}

// benchEach serves reqs[i] once each, b.N in all.
func benchEach(b *testing.B, h http.Handler, reqs []*http.Request, parallel bool) {
	b.ReportAllocs()
	if !parallel {
		w := newStatusWriter()
		b.ResetTimer()
		cpu := startCPU()
		for i := range b.N {
			if code := w.serve(h, reqs[i]); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
		}
		cpu.report(b)
		return
	}
	var (
		fail failures
		next atomic.Int64
	)
	b.ResetTimer()
	cpu := startCPU()
	b.RunParallel(func(pb *testing.PB) {
		w := newStatusWriter()
		for pb.Next() {
			i := next.Add(1) - 1
			if code := w.serve(h, reqs[i]); code != http.StatusOK {
				fail.add(code)
			}
		}
	})
	cpu.report(b)
	b.StopTimer()
	fail.check(b)
}

// BenchmarkCredentials runs one request with client credentials (the
// client_id and client_secret headers) per iteration through Keyward in
// mode dual, against a registry whose client's secret is a bcrypt hash at
// cost 12 (clients.HashSecret's default):
//
//	BenchmarkCredentials/cache=hit/run=serial/impl=keyward-nethttp
//
// cache=hit has the verified-pair cache on (the default) and warm;
// cache=miss turns it off (Credentials.CacheTTL < 0), so every request
// hashes. The peers have no client credentials.
func BenchmarkCredentials(b *testing.B) {
	for _, cache := range []string{"hit", "miss"} {
		b.Run("cache="+cache, func(b *testing.B) {
			runs := []string{"serial", "parallel"}
			if cache == "miss" {
				// Concurrent requests with the same pair share one check,
				// so a parallel run would measure that sharing.
				runs = runs[:1]
			}
			for _, run := range runs {
				b.Run("run="+run, func(b *testing.B) {
					for _, impl := range []string{suite.ImplKeywardNetHTTP, suite.ImplKeywardEcho} {
						b.Run("impl="+impl, func(b *testing.B) {
							ttl := 0
							if cache == "miss" {
								ttl = -1
							}
							h := build(b, impl, "", credentialsTrust(b, ttl))
							newReq := func() *http.Request { return clientPair(suite.ClientID, suite.ClientSecret) }
							if code := newStatusWriter().serve(h, newReq()); code != http.StatusOK {
								b.Fatalf("%s refused good client credentials: status %d", impl, code)
							}
							benchSame(b, h, newReq, run == "parallel")
						})
					}
				})
			}
		})
	}
}

// BenchmarkHarness is the floor under every other benchmark: the same
// request through the same routers and ResponseWriter, with no
// authentication at all.
func BenchmarkHarness(b *testing.B) {
	ctype, body := []string{"application/json"}, []byte(`{"bookings":[]}`)
	handler := func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = ctype
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+suite.BookingsRoute, handler)
	e := echo.New()
	e.GET(suite.BookingsRoute, func(c echo.Context) error {
		handler(c.Response(), c.Request())
		return nil
	})
	for _, router := range []struct {
		name string
		h    http.Handler
	}{{"nethttp", mux}, {"echo", e}} {
		b.Run("router="+router.name, func(b *testing.B) {
			benchSame(b, router.h, func() *http.Request { return bearer(env.Reused("ES256")) }, false)
		})
	}
}
