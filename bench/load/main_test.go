package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/bench/internal/suite"
)

func TestParseFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"-target", "http://10.0.0.1:8080", "-mint-key", "k.pem", "-iss", "x"},
		{"-target", "http://example.com", "-mint-key", "k.pem", "-iss", "x"},
		{"-target", "http://127.0.0.1:8080"}, // no key to sign with
		{"-target", "http://127.0.0.1:8080", "-mint-key", "k.pem", "-iss", "x", "-compare"},
		{"-target", "nginx"},
		{"-d", "11m"},
		{"-n", "0"},
		{"-c", "0"},
		{"-tokens", "cookies"},
		{"-alg", "HS256"},
		{"-compare", "-target", "anchor"},
		{"-pool", "-1"},
		{"-memory"}, // reused tokens fill no cache
		{"-memory", "-tokens", "fresh", "-inprocess"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
	o, err := parseFlags([]string{"-compare", "-target", "anchor,keyward-echo", "-target", "auth0,keyward-nethttp"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.targets, ","); got != suite.ImplAuth0+","+suite.ImplKeywardNetHTTP {
		t.Errorf("targets %s", got)
	}
	if _, err := parseFlags([]string{"-target", "http://127.0.0.1:8080", "-mint-key", "k.pem", "-iss", "x"}); err != nil {
		t.Errorf("a loopback URL target: %v", err)
	}
}

// TestDrive drives each built-in target in this process, briefly, with each
// kind of credential it takes, and checks that every request was let in and
// that the run stopped by itself at its bound.
func TestDrive(t *testing.T) {
	env, err := suite.Start("ES256")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	yaml, err := suite.ClientsYAML()
	if err != nil {
		t.Fatal(err)
	}
	tr := env.Trust()
	fresh, err := env.MintPool("ES256", 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range suite.Impls {
		s, err := startInProcess(serveConfig{Impl: impl, Issuer: tr.Issuer, JWKSURL: tr.JWKSURL, Audience: tr.Audience, Alg: "ES256", ClientsYAML: yaml})
		if err != nil {
			t.Fatal(err)
		}
		sources := map[string]requestSource{
			"reused": bearerSource(suite.BookingsRoute, s.Addr, "", env.Reused("ES256"), nil),
			"fresh":  bearerSource(suite.BookingsRoute, s.Addr, "", "", fresh),
		}
		if strings.HasPrefix(impl, "keyward-") {
			sources["credentials"] = credentialsSource(suite.BookingsRoute, s.Addr, "", suite.ClientID, suite.ClientSecret)
		}
		for name, src := range sources {
			start := time.Now()
			r := drive(s.Addr, 4, 5*time.Second, 40, src)
			if time.Since(start) > 4*time.Second {
				t.Errorf("%s/%s: 40 requests took %v", impl, name, time.Since(start))
			}
			if r.Requests != 40 || r.OK != 40 || r.Errors != 0 {
				t.Errorf("%s/%s: %d requests, %d OK, %d errors, statuses %v", impl, name, r.Requests, r.OK, r.Errors, r.Statuses)
			}
			if r.Percentile(0.5) <= 0 || r.Max() < r.Percentile(0.99) {
				t.Errorf("%s/%s: latencies p50 %v p99 %v max %v", impl, name, r.Percentile(0.5), r.Percentile(0.99), r.Max())
			}
		}
		// A wrong token is refused, and counted as such.
		bad := drive(s.Addr, 1, 5*time.Second, 3, bearerSource(suite.BookingsRoute, s.Addr, "", "not.a.token", nil))
		if bad.OK != 0 || bad.Requests != 3 || bad.Statuses[http.StatusOK] != 0 {
			t.Errorf("%s: a bad token: %d OK of %d, statuses %v", impl, bad.OK, bad.Requests, bad.Statuses)
		}
		s.Close()
	}
}

// TestMain makes the test binary a server child when startChild runs it.
func TestMain(m *testing.M) {
	if js, ok := os.LookupEnv(serveEnv); ok {
		if err := childMain(js); err != nil {
			fmt.Fprintln(os.Stderr, "load (server):", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// recorder is a loopback server that answers 200 to everything and counts
// the Authorization headers it was sent.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen map[string]int
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{seen: map[string]int{}}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.seen[r.Header.Get("Authorization")]++
		rec.mu.Unlock()
	}))
	t.Cleanup(rec.Close)
	return rec
}

// writeEd25519Key writes a new Ed25519 private key in PEM to a temporary
// file, for -mint-key.
func writeEd25519Key(t *testing.T) string {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestFreshTokensNeverRepeat runs the program against two recording
// servers for several rounds with -tokens fresh and checks that, apart from
// the warm-up's reused token, no token reached a server twice, or two
// servers: a token sent again is answered from a cache and measures it.
func TestFreshTokensNeverRepeat(t *testing.T) {
	key := writeEd25519Key(t)
	for _, tc := range []struct {
		name           string
		rounds, pool   int
		targets        int
		warmup         string
		wantWarmTokens int // tokens sent more than once: the warm-up's
	}{
		{name: "two targets, three rounds", rounds: 3, pool: 30, targets: 2, warmup: "100ms", wantWarmTokens: 1},
		{name: "one target, two rounds, no warm-up", rounds: 2, pool: 25, targets: 1, warmup: "0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []*recorder
			var urls []string
			for range tc.targets {
				rec := newRecorder(t)
				recs = append(recs, rec)
				urls = append(urls, rec.URL)
			}
			o, err := parseFlags([]string{"-target", strings.Join(urls, ","), "-tokens", "fresh",
				"-rounds", strconv.Itoa(tc.rounds), "-pool", strconv.Itoa(tc.pool), "-c", "3", "-d", "1m",
				"-warmup", tc.warmup, "-mint-key", key, "-iss", "https://issuer.test"})
			if err != nil {
				t.Fatal(err)
			}
			if err := run(o); err != nil {
				t.Fatal(err)
			}
			all := map[string]int{}
			for _, rec := range recs {
				rec.mu.Lock()
				for tok, n := range rec.seen {
					all[tok] += n
				}
				rec.mu.Unlock()
			}
			once, again := 0, 0
			for _, n := range all {
				if n == 1 {
					once++
				} else {
					again++
				}
			}
			if want := tc.rounds * tc.targets * tc.pool; once != want || again != tc.wantWarmTokens {
				t.Errorf("%d tokens sent once (want %d), %d sent more than once (want %d: the warm-up's)", once, want, again, tc.wantWarmTokens)
			}
		})
	}
}

// TestWarmupNotCounted checks that a measured fresh run counts only its own
// requests, not the warm-up's with the reused token, although the server
// saw both.
func TestWarmupNotCounted(t *testing.T) {
	rec := newRecorder(t)
	o, err := parseFlags([]string{"-target", rec.URL, "-tokens", "fresh", "-pool", "40", "-c", "2", "-d", "1m",
		"-warmup", "100ms", "-mint-key", writeEd25519Key(t), "-iss", "https://issuer.test"})
	if err != nil {
		t.Fatal(err)
	}
	var toks tokenSet
	if err := mintForURL(o, &toks); err != nil {
		t.Fatal(err)
	}
	r, err := driveTarget(o, rec.URL, serveConfig{}, toks)
	if err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	warm := rec.seen["Bearer "+toks.reused]
	rec.mu.Unlock()
	if r.Requests != 40 || r.OK != 40 || r.Pool != 40 || r.PoolRanOut || warm == 0 {
		t.Errorf("%d requests (%d OK) of a pool of %d (ran out early: %v, but -pool set it); the warm-up sent %d", r.Requests, r.OK, r.Pool, r.PoolRanOut, warm)
	}
}

func TestPoolSize(t *testing.T) {
	for _, tc := range []struct {
		name             string
		fixed            int
		max              int64
		warmRPS, fastest float64
		want             int
	}{
		{name: "fixed", fixed: 500, max: 1e6, warmRPS: 9000, want: 500},
		{name: "fixed, within -n", fixed: 500, max: 300, want: 300},
		{name: "from the warm-up", max: 1e6, warmRPS: 10_000, want: 30_000},
		{name: "from an earlier fresh run", max: 1e6, warmRPS: 30_000, fastest: 5_000, want: 13_000},
		{name: "the warm-up bounds tighter", max: 1e6, warmRPS: 4_000, fastest: 5_000, want: 12_000},
		{name: "no warm-up, an earlier run", max: 1e6, fastest: 5_000, want: 13_000},
		{name: "nothing to go by", max: 1e6, want: defaultPool},
		{name: "at least", max: 1e6, warmRPS: 10, want: minPool},
		{name: "within -n", max: 7_000, warmRPS: 10_000, want: 7_000},
	} {
		f := &freshTokens{fixed: tc.fixed, d: 2 * time.Second, max: tc.max, fastest: tc.fastest}
		if got := f.size(tc.warmRPS); got != tc.want {
			t.Errorf("%s: %d tokens, want %d", tc.name, got, tc.want)
		}
	}
}

// TestChildMemory starts server children and checks what -memory reads:
// the resident set (on Linux), the live heap, and Keyward's cache growing
// by one entry per fresh token.
func TestChildMemory(t *testing.T) {
	env, err := suite.Start("EdDSA")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	tr := env.Trust()
	const n = 300
	for _, tc := range []struct {
		impl      string
		wantCache bool
	}{
		{suite.ImplKeywardNetHTTP, true},
		{suite.ImplKeywardEcho, true},
		{suite.ImplAnchor, false},
	} {
		s, err := startChild(serveConfig{Impl: tc.impl, Issuer: tr.Issuer, JWKSURL: tr.JWKSURL, Audience: tr.Audience, Alg: "EdDSA"})
		if err != nil {
			t.Fatal(err)
		}
		pool, err := env.MintPool("EdDSA", n)
		if err != nil {
			t.Fatal(err)
		}
		before := s.Memory()
		r := drive(s.Addr, 4, time.Minute, n, bearerSource(suite.BookingsRoute, s.Addr, "", "", pool))
		after := s.Memory()
		s.Close()
		if r.OK != n {
			t.Errorf("%s: %d of %d requests OK", tc.impl, r.OK, n)
		}
		if before.LiveHeap <= 0 || after.LiveHeap <= 0 {
			t.Errorf("%s: live heap %d, %d", tc.impl, before.LiveHeap, after.LiveHeap)
		}
		if runtime.GOOS == "linux" && (before.RSS <= 0 || after.RSS < before.RSS/2) {
			t.Errorf("%s: resident %d, then %d", tc.impl, before.RSS, after.RSS)
		}
		if tc.wantCache {
			if before.Entries != 0 || after.Entries != n || after.Evictions != 0 {
				t.Errorf("%s: cache %d entries, then %d (%d evicted); want 0, then %d", tc.impl, before.Entries, after.Entries, after.Evictions, n)
			}
		} else if before.Entries != -1 || after.Entries != -1 {
			t.Errorf("%s: cache entries %d, %d; want none (-1)", tc.impl, before.Entries, after.Entries)
		}
	}
}

func TestResidentBytes(t *testing.T) {
	got := residentBytes(os.Getpid())
	if runtime.GOOS == "linux" && got <= 0 {
		t.Errorf("resident %d bytes on Linux", got)
	}
	if runtime.GOOS != "linux" && got != -1 {
		t.Errorf("resident %d bytes; want -1 (unknown) without /proc", got)
	}
	if got := residentBytes(-5); got != -1 {
		t.Errorf("no such process: %d, want -1", got)
	}
}
