package forwardauth_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/keywardtest"
)

// BenchmarkHandler is the cost of one /auth answer in the process, without
// the network.
func BenchmarkHandler(b *testing.B) {
	iss := keywardtest.NewIssuer(b, "ES256")
	h := newHandler(b, dualAuthenticator(b, iss, nil), forwardauth.Config{Routes: issueRoutes})
	token := "Bearer " + iss.Token(b, jwt.MapClaims{"scope": "bookings:read"})
	for _, bc := range []struct {
		name   string
		header http.Header
	}{
		{"cached-token", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/search?q=x", "Authorization", token)},
		{"cached-credentials", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/search?q=x", "Client_id", "acme", "Client_secret", "acme-secret")},
		{"public", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/logo.png")},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/auth", nil)
			r.RemoteAddr = "127.0.0.1:50000"
			r.Header = bc.header
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
			}
		})
	}
}

// BenchmarkLoopback drives a real server on loopback with 32 concurrent
// keep-alive connections: five rounds of one second each for /healthz and
// for /auth with a cached token and with cached client credentials, in
// turn, so that all three see the same load from whatever else the machine
// runs, then /auth with fresh tokens (one never seen before per request,
// ES256; last, since they fill the token cache). It reports each one's
// median requests/s over the rounds, its p50 and p99 latency, and the
// ratios to /healthz, whose goal is ≥ 0.85:
//
//	go test -run '^$' -bench Loopback -benchtime 1x ./forwardauth/
func BenchmarkLoopback(b *testing.B) {
	iss := keywardtest.NewIssuer(b, "ES256")
	h := newHandler(b, dualAuthenticator(b, iss, nil), forwardauth.Config{Routes: issueRoutes})
	srv := httptest.NewServer(h)
	b.Cleanup(srv.Close)
	const conns = 32
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	b.Cleanup(client.CloseIdleConnections)
	token := "Bearer " + iss.Token(b, jwt.MapClaims{"scope": "bookings:read"})
	// The requests of a case share one read-only header map, built once:
	// the load generator shares the CPUs with the server, and what it
	// spends on building headers would count against /auth.
	auth := func(set func(http.Header)) func(int, *http.Request) {
		shared := http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/v1/bookings"}}
		set(shared)
		return func(_ int, req *http.Request) { req.Header = shared }
	}
	type result struct {
		rps       []float64
		latencies []time.Duration
	}
	drive := func(b *testing.B, path string, set func(int, *http.Request), d time.Duration, res *result) {
		var next atomic.Int64
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		deadline := start.Add(d)
		for range conns {
			wg.Go(func() {
				var mine []time.Duration
				for time.Now().Before(deadline) {
					req, _ := http.NewRequest("GET", srv.URL+path, nil)
					set(int(next.Add(1)-1), req)
					t0 := time.Now()
					r, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, r.Body)
					r.Body.Close()
					mine = append(mine, time.Since(t0))
					if r.StatusCode != 200 {
						b.Errorf("%s: status %d", path, r.StatusCode)
						return
					}
				}
				mu.Lock()
				res.latencies = append(res.latencies, mine...)
				mu.Unlock()
			})
		}
		wg.Wait()
		res.rps = append(res.rps, float64(next.Load())/time.Since(start).Seconds())
	}
	cases := []struct {
		name string
		path string
		set  func(int, *http.Request)
	}{
		{"healthz", "/healthz", func(int, *http.Request) {}},
		{"cached-token", "/auth", auth(func(h http.Header) { h.Set("Authorization", token) })},
		{"cached-credentials", "/auth", auth(func(h http.Header) {
			h["Client_id"], h["Client_secret"] = []string{"acme"}, []string{"acme-secret"}
		})},
	}
	const rounds, round = 5, time.Second
	results := make([]result, len(cases))
	pool := make([]string, 40_000) // more than a second of fresh tokens
	for i := range pool {
		pool[i] = "Bearer " + iss.Token(b, jwt.MapClaims{"scope": "bookings:read"})
	}
	for b.Loop() {
		for i, c := range cases { // warm up: connections, caches
			drive(b, c.path, c.set, 200*time.Millisecond, &results[i])
			results[i] = result{}
		}
		for range rounds {
			for i, c := range cases {
				drive(b, c.path, c.set, round, &results[i])
			}
		}
	}
	var fresh result
	var used atomic.Int64
	drive(b, "/auth", func(i int, req *http.Request) {
		if i >= len(pool) {
			i = len(pool) - 1 // out of fresh tokens: the run is too fast for the pool
		}
		used.Store(int64(i))
		req.Header = http.Header{"X-Forwarded-Method": {"GET"}, "X-Forwarded-Uri": {"/v1/bookings"}, "Authorization": {pool[i]}}
	}, round, &fresh)

	report := func(name string, r result) float64 {
		slices.Sort(r.rps)
		slices.Sort(r.latencies)
		median := r.rps[len(r.rps)/2]
		p50, p99 := r.latencies[len(r.latencies)/2], r.latencies[len(r.latencies)*99/100]
		b.ReportMetric(median, name+"-req/s")
		b.ReportMetric(float64(p50.Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(p99.Microseconds()), name+"-p99-µs")
		b.Logf("%-20s %8.0f req/s (median of %d)  p50 %v  p99 %v", name, median, len(r.rps), p50, p99)
		return median
	}
	health := report(cases[0].name, results[0])
	for i, c := range cases[1:] {
		rps := report(c.name, results[i+1])
		b.ReportMetric(rps/health, c.name+"-ratio")
		b.Logf("%-20s %.2fx /healthz", c.name, rps/health)
	}
	report("fresh-token", fresh)
	if int(used.Load()) >= len(pool)-1 {
		b.Logf("fresh tokens ran out: the fresh-token figures include reused ones")
	}
}
