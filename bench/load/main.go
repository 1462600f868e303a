// Command load drives Keyward-protected servers, and the same routes on the
// anchor (Echo + echo-jwt v4 + keyfunc v3) and on go-jwt-middleware v2, over
// loopback with many concurrent keep-alive connections, for a bounded time
// and number of requests, and prints requests/s and p50/p99/max latency.
//
// By default it starts its own servers, each in a child process on
// 127.0.0.1, trusting a test issuer (keywardtest) that this process runs:
//
//	go run ./load                                  # keyward-nethttp, reused tokens
//	go run ./load -compare -tokens fresh           # the anchor, then keyward-nethttp, and the ratio
//	go run ./load -tokens fresh -alg ES256 -pool 100000 -memory   # memory per cached token
//	go run ./load -compare -target keyward-nethttp,keyward-echo -tokens reused
//	go run ./load -tokens credentials -target keyward-echo
//
// It can also drive a server already running on loopback, such as
// examples/nethttp, given a URL and the key its tokens are signed with:
//
//	go run ./load -target http://127.0.0.1:8080 -mint-key ../testdata/keys/quickstart_private.pem \
//	    -iss https://issuer.quickstart.test -aud bookings-api
//
// Run go run ./load -h for every flag.
package main

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/bench/internal/suite"
)

type options struct {
	targets  []string
	compare  bool
	rounds   int
	conns    int
	duration time.Duration
	max      int64
	tokens   string
	route    string
	alg      string
	pool     int
	warmup   time.Duration
	inproc   bool
	noCache  bool
	memory   bool

	// For a URL target.
	mintKey, iss, aud, scope, kid string
	clientID, clientSecret        string

	headers string // -H lines, each ending in CRLF
}

const (
	maxDuration = 10 * time.Minute
	maxRequests = 100_000_000
	maxPool     = 10_000_000
)

func main() {
	if js, ok := os.LookupEnv(serveEnv); ok {
		if err := childMain(js); err != nil {
			fmt.Fprintln(os.Stderr, "load (server):", err)
			os.Exit(1)
		}
		return
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*options, error) {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `Usage: go run ./load [flags]

Drives servers over loopback with -c concurrent keep-alive connections until
-d has passed or -n requests were sent (fresh tokens: or the pool ran out),
after -warmup, and prints requests/s and p50/p99/max latency.

With -tokens fresh, every measured run gets a pool of tokens minted for it
alone, after its warm-up and before it starts: no server of the run, in any
round, is sent a token sent before.

Targets (-target, comma-separated):
  keyward-nethttp   Keyward's net/http middleware on a ServeMux (mode dual)
  keyward-echo      Keyward's Echo adapter (mode dual)
  anchor            Echo + echo-jwt v4 + keyfunc v3 (also: %s)
  auth0             net/http + go-jwt-middleware v2 (also: %s)
  http://127.0.0.1:PORT
                    a server already running on loopback (see -mint-key)
Built-in targets are started in a child process each (-inprocess: in this
process) and trust a test issuer this program runs, with the same key.
Routes: %s (needs scope %s), %s (any caller).

Flags:
`, suite.ImplAnchor, suite.ImplAuth0, suite.BookingsRoute, suite.Scope, suite.WhoamiRoute)
		fs.PrintDefaults()
	}
	o := &options{}
	target := fs.String("target", suite.ImplKeywardNetHTTP, "what to drive: keyward-nethttp, keyward-echo, anchor, auth0, or a loopback URL; comma-separated for several")
	fs.BoolVar(&o.compare, "compare", false, "also drive the anchor (first), and print each target's requests/s as a ratio to the anchor's")
	fs.IntVar(&o.rounds, "rounds", 1, "with -compare, how many times to drive the anchor and the targets in turn (ratios use the median requests/s)")
	fs.IntVar(&o.conns, "c", 32, "concurrent keep-alive connections")
	fs.DurationVar(&o.duration, "d", 10*time.Second, "how long to drive each server (at most 10m)")
	fs.Int64Var(&o.max, "n", 2_000_000, "the most requests to send to each server (at most 100000000)")
	fs.StringVar(&o.tokens, "tokens", "reused", "reused: one token for every request; fresh: a token never sent before for each request; credentials: client_id and client_secret headers (Keyward only)")
	fs.StringVar(&o.route, "route", suite.BookingsRoute, "the route to request")
	fs.StringVar(&o.alg, "alg", "RS256", "the signing algorithm of the tokens: RS256, PS256, ES256 or EdDSA")
	fs.IntVar(&o.pool, "pool", 0, "fresh tokens to mint for each measured run (each target, each round), after its warm-up; a run stops when they run out. 0: enough for -d at the rate the warm-up and earlier runs showed (RSA: about 1 ms a token per core)")
	fs.DurationVar(&o.warmup, "warmup", time.Second, "drive each server this long with the reused token (or the credentials) before measuring")
	fs.BoolVar(&o.inproc, "inprocess", false, "serve built-in targets from this process instead of child processes")
	fs.BoolVar(&o.memory, "memory", false, "with -tokens fresh, report each server child's resident memory (VmRSS, Linux) and live heap (after a GC), and Keyward's token cache entries, before and after the measured run, and the bytes per cached token")
	fs.BoolVar(&o.noCache, "no-token-cache", false, "turn Keyward's verified-token cache off (jwtauth.Config.TokenCache.Disabled), to see what it saves or costs")
	fs.StringVar(&o.mintKey, "mint-key", "", "URL target: PEM private key (RSA, P-256 or Ed25519) to sign tokens with")
	fs.StringVar(&o.iss, "iss", "", "URL target: iss of minted tokens")
	fs.StringVar(&o.aud, "aud", suite.Audience, "URL target: aud of minted tokens")
	fs.StringVar(&o.scope, "scope", suite.Scope, "URL target: scope of minted tokens")
	fs.StringVar(&o.kid, "kid", "", "URL target: kid header of minted tokens (none if empty)")
	fs.StringVar(&o.clientID, "client-id", "", "URL target, -tokens credentials: the client id")
	fs.StringVar(&o.clientSecret, "client-secret", "", "URL target, -tokens credentials: the client secret")
	fs.Func("H", "an extra request header, `Name: value` (repeatable), e.g. for keyward serve's /auth: -H 'X-Forwarded-Method: GET' -H 'X-Forwarded-Uri: /v1/bookings'", func(v string) error {
		name, value, ok := strings.Cut(v, ":")
		if !ok || strings.TrimSpace(name) == "" || strings.ContainsAny(v, "\r\n") {
			return fmt.Errorf("want Name: value, not %q", v)
		}
		o.headers += strings.TrimSpace(name) + ": " + strings.TrimSpace(value) + "\r\n"
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, t := range strings.Split(*target, ",") {
		switch t = strings.TrimSpace(t); t {
		case "anchor":
			t = suite.ImplAnchor
		case "auth0":
			t = suite.ImplAuth0
		}
		if t != "" {
			o.targets = append(o.targets, t)
		}
	}
	switch {
	case len(o.targets) == 0:
		return nil, errors.New("-target: nothing to drive")
	case o.conns < 1 || o.conns > 10_000:
		return nil, errors.New("-c: between 1 and 10000")
	case o.duration <= 0 || o.duration > maxDuration:
		return nil, fmt.Errorf("-d: above 0, at most %v", maxDuration)
	case o.max < 1 || o.max > maxRequests:
		return nil, fmt.Errorf("-n: between 1 and %d", maxRequests)
	case o.warmup < 0 || o.warmup > time.Minute:
		return nil, errors.New("-warmup: at most 1m")
	case o.rounds < 1 || o.rounds > 20:
		return nil, errors.New("-rounds: between 1 and 20")
	case !slices.Contains(suite.Algs, o.alg):
		return nil, fmt.Errorf("-alg: one of %s", strings.Join(suite.Algs, ", "))
	case o.tokens != "reused" && o.tokens != "fresh" && o.tokens != "credentials":
		return nil, errors.New("-tokens: reused, fresh or credentials")
	case o.pool < 0 || o.pool > maxPool:
		return nil, fmt.Errorf("-pool: between 0 and %d", maxPool)
	case o.memory && o.tokens != "fresh":
		return nil, errors.New("-memory: with -tokens fresh (a reused token fills no cache)")
	case o.memory && o.inproc:
		return nil, errors.New("-memory: the servers need processes of their own (no -inprocess)")
	case !strings.HasPrefix(o.route, "/"):
		return nil, errors.New("-route: a path starting with /")
	}
	for _, t := range o.targets {
		if isURL(t) {
			u, err := url.Parse(t)
			if err != nil || u.Scheme != "http" || u.Host == "" {
				return nil, fmt.Errorf("-target %q: want http://HOST:PORT", t)
			}
			if err := isLoopbackHost(u.Host); err != nil {
				return nil, fmt.Errorf("-target %q: %w", t, err)
			}
			if o.compare {
				return nil, errors.New("-compare needs built-in targets: the anchor trusts this program's issuer, not the URL's")
			}
			if o.tokens == "credentials" && (o.clientID == "" || o.clientSecret == "") {
				return nil, errors.New("a URL target with -tokens credentials needs -client-id and -client-secret")
			}
			if o.tokens != "credentials" && (o.mintKey == "" || o.iss == "") {
				return nil, errors.New("a URL target needs -mint-key and -iss to sign its tokens")
			}
		} else if !slices.Contains(suite.Impls, t) {
			return nil, fmt.Errorf("-target %q: keyward-nethttp, keyward-echo, anchor, auth0 or a loopback URL", t)
		}
	}
	if o.compare {
		o.targets = slices.DeleteFunc(o.targets, func(t string) bool { return t == suite.ImplAnchor })
		if len(o.targets) == 0 {
			return nil, errors.New("-compare: name a target other than the anchor")
		}
	}
	return o, nil
}

func isURL(t string) bool { return strings.Contains(t, "://") }

// tokenSet is what requests carry: a reused token, fresh ones minted for
// each measured run, or client credentials.
type tokenSet struct {
	reused       string
	fresh        *freshTokens // with -tokens fresh
	clientID     string
	clientSecret string
}

func run(o *options) error {
	fmt.Printf("load: %d cores (GOMAXPROCS %d), %s, -c %d -d %v -n %d -tokens %s -route %s -alg %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), o.conns, o.duration, o.max, o.tokens, o.route, o.alg)
	var (
		env  *suite.Env
		cfg  serveConfig
		toks tokenSet
		err  error
	)
	if !isURL(o.targets[0]) {
		env, err = suite.Start(o.alg)
		if err != nil {
			return err
		}
		defer env.Close()
		t := env.Trust()
		cfg = serveConfig{Issuer: t.Issuer, JWKSURL: t.JWKSURL, Audience: t.Audience, Alg: o.alg, NoTokenCache: o.noCache}
		fmt.Print("load: hashing the client secret (bcrypt, cost 12)… ")
		if cfg.ClientsYAML, err = suite.ClientsYAML(); err != nil {
			return err
		}
		fmt.Println("done")
		toks.reused = env.Reused(o.alg)
		toks.clientID, toks.clientSecret = suite.ClientID, suite.ClientSecret
		if o.tokens == "fresh" {
			toks.fresh = newFreshTokens(o, func() (string, error) { return env.Mint(o.alg, nil) })
		}
	} else if err := mintForURL(o, &toks); err != nil {
		return err
	}
	if toks.fresh != nil {
		if o.pool > 0 {
			fmt.Printf("load: %d fresh tokens minted for each measured run\n", o.pool)
		} else {
			fmt.Printf("load: fresh tokens minted for each measured run, enough for -d at the rate its warm-up and earlier runs showed\n")
		}
	}

	var order []string
	for range o.rounds {
		if o.compare {
			order = append(order, suite.ImplAnchor)
		}
		order = append(order, o.targets...)
	}
	results := map[string][]*result{}
	for _, target := range order {
		if o.tokens == "credentials" && (target == suite.ImplAnchor || target == suite.ImplAuth0) {
			fmt.Printf("\n%s: no client credentials; skipped\n", target)
			continue
		}
		r, err := driveTarget(o, target, cfg, toks)
		if err != nil {
			return err
		}
		results[target] = append(results[target], r)
		report(r)
	}
	if o.compare {
		summary(o, results)
	}
	if toks.fresh != nil {
		fmt.Printf("\nload: %d fresh tokens minted in all, each sent once\n", toks.fresh.minted)
	}
	return nil
}

// driveTarget starts target (unless it is a URL), warms it up with the
// reused token (or the credentials), mints its fresh tokens if it needs
// them, and drives it. Only the last drive is measured.
func driveTarget(o *options, target string, cfg serveConfig, toks tokenSet) (*result, error) {
	addr, host := "", ""
	s := &server{stop: func() {}}
	if isURL(target) {
		u, _ := url.Parse(target)
		addr, host = u.Host, u.Host
		if h, p, err := net.SplitHostPort(u.Host); err == nil && h == "localhost" {
			addr = "127.0.0.1:" + p
		}
	} else {
		cfg.Impl = target
		start := startChild
		if o.inproc {
			start = startInProcess
		}
		var err error
		if s, err = start(cfg); err != nil {
			return nil, err
		}
		addr, host = s.Addr, s.Addr
	}
	defer s.Close()
	warm := bearerSource(o.route, host, o.headers, toks.reused, nil)
	src := warm
	if o.tokens == "credentials" {
		warm = credentialsSource(o.route, host, o.headers, toks.clientID, toks.clientSecret)
		src = warm
	}
	var warmRPS float64
	if o.warmup > 0 {
		w := drive(addr, o.conns, o.warmup, o.max, warm)
		if w.OK == 0 {
			return nil, fmt.Errorf("%s: no request succeeded during the warm-up (statuses %v, %d errors)", target, w.Statuses, w.Errors)
		}
		warmRPS = w.RPS()
	}
	var pool []string
	if o.tokens == "fresh" {
		var err error
		if pool, err = toks.fresh.next(warmRPS); err != nil {
			return nil, err
		}
		src = bearerSource(o.route, host, o.headers, "", pool)
	}
	var mem0 memStats
	if o.memory {
		mem0 = s.Memory()
	}
	cpu0, ok0 := s.CPU()
	r := drive(addr, o.conns, o.duration, o.max, src)
	r.Name = target
	if cpu1, ok1 := s.CPU(); ok0 && ok1 {
		r.ServerCPU = cpu1 - cpu0
	}
	if pool != nil {
		toks.fresh.observe(r)
		r.Pool = len(pool)
		r.PoolRanOut = o.pool == 0 && r.Requests >= int64(len(pool)) && r.Elapsed < o.duration
	}
	if o.memory {
		r.Memory = &[2]memStats{mem0, s.Memory()}
	}
	return r, nil
}

func report(r *result) {
	fmt.Printf("\n%s\n", r.Name)
	fmt.Printf("  %d requests in %v: %.0f requests/s\n", r.Requests, r.Elapsed.Round(time.Millisecond), r.RPS())
	fmt.Printf("  latency p50 %v  p99 %v  max %v\n", round(r.Percentile(0.50)), round(r.Percentile(0.99)), round(r.Max()))
	if c := r.CPUPerRequest(); c > 0 {
		fmt.Printf("  server CPU %v per request (%v in all)\n", round(c), r.ServerCPU.Round(time.Millisecond))
	}
	if r.OK != r.Requests || r.Errors > 0 {
		fmt.Printf("  statuses %v, %d connection errors\n", r.Statuses, r.Errors)
	}
	if r.PoolRanOut {
		fmt.Printf("  its %d fresh tokens ran out before -d: a short run\n", r.Pool)
	}
	if r.Memory != nil {
		reportMemory(r)
	}
}

// summary prints each target's median requests/s and server CPU per
// request as ratios to the anchor's. The CPU ratio hardly moves when other
// programs share the machine; requests/s does.
func summary(o *options, results map[string][]*result) {
	anchorRPS := median(results[suite.ImplAnchor], (*result).RPS)
	anchorCPU := median(results[suite.ImplAnchor], func(r *result) float64 { return float64(r.CPUPerRequest()) })
	fmt.Printf("\nrelative to the anchor (%s, %s tokens, medians of %d):\n", suite.ImplAnchor, o.tokens, o.rounds)
	for _, t := range o.targets {
		rs := results[t]
		if len(rs) == 0 {
			continue
		}
		rps := median(rs, (*result).RPS)
		cpu := median(rs, func(r *result) float64 { return float64(r.CPUPerRequest()) })
		line := fmt.Sprintf("  %-16s %8.0f req/s", t, rps)
		if anchorRPS > 0 {
			line += fmt.Sprintf("  %.2fx the anchor's %.0f", rps/anchorRPS, anchorRPS)
		}
		if cpu > 0 && anchorCPU > 0 {
			line += fmt.Sprintf("; server CPU %v/request (anchor %v: %.2fx)",
				round(time.Duration(cpu)), round(time.Duration(anchorCPU)), anchorCPU/cpu)
		}
		fmt.Println(line)
	}
	if o.memory {
		fmt.Println("memory per cached token (medians; runs of different lengths cache different numbers):")
		for _, t := range o.targets {
			if rs := results[t]; len(rs) > 0 && rs[0].Memory != nil && rs[0].Memory[1].Entries >= 0 {
				fmt.Printf("  %-16s %s of live heap, %s resident\n", t, bytesOrNA(median(rs, liveHeapPerToken)), bytesOrNA(median(rs, residentPerToken)))
			}
		}
	}
	if o.rounds > 1 {
		fmt.Println("each round (requests/s, and the ratio to the anchor's run of the same round):")
		for _, t := range append([]string{suite.ImplAnchor}, o.targets...) {
			line := fmt.Sprintf("  %-16s", t)
			for i, r := range results[t] {
				line += fmt.Sprintf(" %8.0f", r.RPS())
				if a := results[suite.ImplAnchor]; t != suite.ImplAnchor && i < len(a) && a[i].RPS() > 0 {
					line += fmt.Sprintf(" (%.2fx)", r.RPS()/a[i].RPS())
				}
			}
			fmt.Println(line)
		}
	}
}

// median is the median of f over rs (0 for none).
func median(rs []*result, f func(*result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Millisecond:
		return d.Round(100 * time.Microsecond)
	case d > 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// mintForURL signs the tokens for a server this program did not start.
func mintForURL(o *options, toks *tokenSet) error {
	toks.clientID, toks.clientSecret = o.clientID, o.clientSecret
	if o.tokens == "credentials" {
		// The warm-up sends the credentials too; no token is needed.
		return nil
	}
	pemBytes, err := os.ReadFile(o.mintKey)
	if err != nil {
		return err
	}
	var (
		key    crypto.Signer
		method jwt.SigningMethod
	)
	if k, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes); err == nil {
		key, method = k, jwt.SigningMethodRS256
	} else if k, err := jwt.ParseECPrivateKeyFromPEM(pemBytes); err == nil && k.Curve.Params().BitSize == 256 {
		key, method = k, jwt.SigningMethodES256
	} else if k, err := jwt.ParseEdPrivateKeyFromPEM(pemBytes); err == nil {
		key, method = k.(ed25519.PrivateKey), jwt.SigningMethodEdDSA
	} else {
		return fmt.Errorf("-mint-key %s: not an RSA, P-256 or Ed25519 private key in PEM", o.mintKey)
	}
	mint := func() (string, error) {
		now := time.Now()
		tok := jwt.NewWithClaims(method, jwt.MapClaims{
			"iss": o.iss, "aud": o.aud, "sub": "load", "client_id": "load", "scope": o.scope,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": rand.Text(),
		})
		tok.Header["typ"] = "at+jwt"
		if o.kid != "" {
			tok.Header["kid"] = o.kid
		}
		return tok.SignedString(key)
	}
	if toks.reused, err = mint(); err != nil {
		return err
	}
	if o.tokens == "fresh" {
		toks.fresh = newFreshTokens(o, mint)
	}
	return nil
}
