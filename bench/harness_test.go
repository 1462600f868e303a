package bench_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/bench/internal/suite"
	"github.com/keyward/keyward/clients"
)

var poolSize = flag.Int("pool", 3000, "distinct fresh tokens minted per algorithm, once per process; "+
	"a fresh benchmark fails if b.N exceeds it, so run fresh benchmarks with -benchtime=3000x")

// env is the one issuer of the process: a JWKS server on 127.0.0.1 with a
// key per algorithm in suite.Algs.
var env *suite.Env

func TestMain(m *testing.M) {
	flag.Parse()
	var err error
	env, err = suite.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: starting the test issuer:", err)
		os.Exit(1)
	}
	code := m.Run()
	env.Close()
	os.Exit(code)
}

// statusWriter is the benchmarks' ResponseWriter: it keeps the status and
// nothing else, so the harness costs next to nothing and allocates nothing
// (reset clears the header map in place).
type statusWriter struct {
	header http.Header
	code   int
}

func newStatusWriter() *statusWriter { return &statusWriter{header: make(http.Header, 4)} }

func (w *statusWriter) Header() http.Header { return w.header }

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return len(p), nil
}

func (w *statusWriter) reset() {
	clear(w.header)
	w.code = 0
}

// serve sends r through h and returns the status.
func (w *statusWriter) serve(h http.Handler, r *http.Request) int {
	w.reset()
	h.ServeHTTP(w, r)
	return w.code
}

// bearer builds a GET request for the bookings route with a Bearer token.
func bearer(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, suite.BookingsRoute, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// clientPair builds a GET request for the bookings route with client
// credentials in the client_id and client_secret headers.
func clientPair(id, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, suite.BookingsRoute, nil)
	r.Header.Set("client_id", id)
	r.Header.Set("client_secret", secret)
	return r
}

// build builds impl for this benchmark or test invocation alone: a fresh
// Authenticator (and so an empty token cache) each time, outside the timer.
func build(tb testing.TB, impl, alg string, t suite.Trust) http.Handler {
	tb.Helper()
	s, err := suite.Build(context.Background(), impl, t, alg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Close)
	return s.Handler
}

// pools holds the fresh tokens, minted once per process and algorithm.
var pools sync.Map // alg -> func() ([]string, error)

func freshPool(tb testing.TB, alg string) []string {
	tb.Helper()
	f, _ := pools.LoadOrStore(alg, sync.OnceValues(func() ([]string, error) {
		return env.MintPool(alg, *poolSize)
	}))
	toks, err := f.(func() ([]string, error))()
	if err != nil {
		tb.Fatal(err)
	}
	return toks
}

// registry is the client registry of the credential benchmarks, with one
// bcrypt (cost 12) client, built once per process.
var registry = sync.OnceValues(func() (*clients.Registry, error) {
	data, err := suite.ClientsYAML()
	if err != nil {
		return nil, err
	}
	return clients.Parse(data)
})

func credentialsTrust(tb testing.TB, cacheTTL int) suite.Trust {
	tb.Helper()
	reg, err := registry()
	if err != nil {
		tb.Fatal(err)
	}
	t := env.Trust()
	t.Clients = reg
	if cacheTTL < 0 {
		t.CredentialsCacheTTL = -1
	}
	return t
}

// cpuMeter reports the CPU time the process spends per iteration, as the
// metric cpu-ns/op: unlike ns/op it hardly moves when other programs share
// the machine, since time spent descheduled is not counted. It counts
// every goroutine of the process (the garbage collector's included), so in
// a parallel run it is the CPU cost of a request, not its latency.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

// startCPU starts measuring; call it right after b.ResetTimer.
func startCPU() cpuMeter {
	t, ok := suite.ProcessCPU()
	return cpuMeter{start: t, ok: ok}
}

// report ends the measure and reports it; call it as the loop ends.
func (m cpuMeter) report(b *testing.B) {
	t, ok := suite.ProcessCPU()
	if !m.ok || !ok || b.N == 0 {
		return
	}
	b.ReportMetric(float64(t-m.start)/float64(b.N), "cpu-ns/op")
}

// failures collects the statuses of failed requests in parallel loops,
// where b.Fatal may not be called.
type failures struct {
	n    atomic.Int64
	code atomic.Int64
}

func (f *failures) add(code int) {
	f.n.Add(1)
	f.code.Store(int64(code))
}

func (f *failures) check(tb testing.TB) {
	if n := f.n.Load(); n > 0 {
		tb.Fatalf("%d requests failed (last status %d)", n, f.code.Load())
	}
}

// benchLoop reports allocations and the CPU meter around b.N calls of
// call, in this goroutine or, when parallel, over b.RunParallel's
// goroutines (i counts each goroutine's calls). A parallel run, where
// b.Fatal may not be called, fails after the loop if a call failed.
func benchLoop(b *testing.B, parallel bool, call func(i int) error) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	if !parallel {
		for i := range b.N {
			if err := call(i); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
		return
	}
	var (
		failed atomic.Int64
		last   atomic.Pointer[error]
	)
	b.RunParallel(func(pb *testing.PB) {
		for i := 0; pb.Next(); i++ {
			if err := call(i); err != nil {
				failed.Add(1)
				failure := err // on the heap only when a call fails
				last.Store(&failure)
			}
		}
	})
	cpu.report(b)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d calls failed, the last: %v", n, *last.Load())
	}
}
