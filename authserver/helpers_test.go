package authserver_test

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/internal/syncbuf"
)

// registryFile is the test-only client registry: acme, globex and initech
// (disabled) with testdata/clients/clients.yaml's secrets and scopes, all
// hashed with the cheapest Argon2id parameters a registry accepts, since
// under -race a bcrypt cost-10 check takes several times as long.
const registryFile = "../testdata/authserver/test-clients.yaml"

// clock is a fake clock for Config.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testServer is an authorization server behind httptest on 127.0.0.1.
type testServer struct {
	*authserver.Server
	URL   string
	Clock *clock
	Cfg   authserver.Config
	// JWKSFetches counts GET requests for the key set.
	JWKSFetches *atomic.Int64
	// Client makes the requests that name no client of their own;
	// http.DefaultClient when nil.
	Client *http.Client
}

// openRegistry opens a registry file, failing the test on error.
func openRegistry(t testing.TB, path string) *clients.Registry {
	t.Helper()
	reg, err := clients.Open(path, clients.Options{HashWait: -1}) // -race makes hashes slow: never 503 for a busy slot here
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// sharedRegistry is registryFile opened once for every test that only
// reads it (none reloads it): opening a registry times one check of its
// dummy hash, which under -race is a good part of a second per server.
var sharedRegistry = sync.OnceValues(func() (*clients.Registry, error) {
	return clients.Open(registryFile, clients.Options{HashWait: -1})
})

// testRegistry returns sharedRegistry, failing the test if it did not open.
func testRegistry(t testing.TB) *clients.Registry {
	t.Helper()
	reg, err := sharedRegistry()
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// start starts a server whose Issuer is its own URL, with the shared
// registryFile registry (testRegistry), audience bookings-api and a fake
// clock unless mutate changes them.
func start(t testing.TB, mutate func(*authserver.Config)) *testServer {
	t.Helper()
	return startWith(t, mutate, authserver.New)
}

// startWith is start with newServer in place of authserver.New.
func startWith(t testing.TB, mutate func(*authserver.Config), newServer func(authserver.Config) (*authserver.Server, error)) *testServer {
	t.Helper()
	return startOn(t, mutate, newServer, nil)
}

// startOn is startWith served over TLS with tlsConfig, and an https
// issuer, unless tlsConfig is nil.
func startOn(t testing.TB, mutate func(*authserver.Config), newServer func(authserver.Config) (*authserver.Server, error), tlsConfig *tls.Config) *testServer {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	c := newClock()
	scheme := "http://"
	if tlsConfig != nil {
		scheme = "https://"
	}
	cfg := authserver.Config{
		Issuer:   scheme + hs.Listener.Addr().String(),
		Audience: "bookings-api",
		Clients:  testRegistry(t),
		Now:      c.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	srv, err := newServer(cfg)
	if err != nil {
		hs.Listener.Close()
		t.Fatal(err)
	}
	fetches := new(atomic.Int64)
	h := srv.Handler()
	hs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == authserver.PathJWKS {
			fetches.Add(1)
		}
		h.ServeHTTP(w, r)
	})
	if tlsConfig != nil {
		hs.TLS = tlsConfig
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
	return &testServer{Server: srv, URL: hs.URL, Clock: c, Cfg: cfg, JWKSFetches: fetches}
}

// request describes a token request.
type request struct {
	method      string // POST when empty
	path        string
	contentType string // from form or json when empty
	form        url.Values
	json        any    // marshalled unless a string, which is sent as is
	raw         string // body as is, with contentType
	basic       []string
	header      http.Header
	query       string
	client      *http.Client // testServer.Client when nil
}

func formOf(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// basicAuth is the Authorization value for id and secret encoded as RFC
// 6749 §2.3.1 says.
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// response is a decoded response.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (r response) str(name string) string {
	s, _ := r.body[name].(string)
	return s
}

func (ts *testServer) do(t testing.TB, req request) response {
	t.Helper()
	resp, err := ts.send(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// send makes the request; it may run on any goroutine.
func (ts *testServer) send(req request) (response, error) {
	var body io.Reader = http.NoBody
	ct := req.contentType
	switch {
	case req.form != nil:
		body = strings.NewReader(req.form.Encode())
		if ct == "" {
			ct = "application/x-www-form-urlencoded"
		}
	case req.json != nil:
		if s, ok := req.json.(string); ok {
			body = strings.NewReader(s)
		} else {
			b, err := json.Marshal(req.json)
			if err != nil {
				return response{}, err
			}
			body = bytes.NewReader(b)
		}
		if ct == "" {
			ct = "application/json"
		}
	case req.raw != "":
		body = strings.NewReader(req.raw)
	}
	method := req.method
	if method == "" {
		method = http.MethodPost
	}
	target := ts.URL + req.path
	if req.query != "" {
		target += "?" + req.query
	}
	hr, err := http.NewRequestWithContext(context.Background(), method, target, body)
	if err != nil {
		return response{}, err
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if req.basic != nil {
		hr.Header.Set("Authorization", basicAuth(req.basic[0], req.basic[1]))
	}
	for name, vs := range req.header {
		for _, v := range vs {
			hr.Header.Add(name, v)
		}
	}
	client := cmp.Or(req.client, ts.Client, http.DefaultClient)
	resp, err := client.Do(hr)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.body); err != nil {
			return response{}, fmt.Errorf("response body %q: %w", raw, err)
		}
	}
	return out, nil
}

// guess makes the requests, failed authentications from one address,
// throttle.MaxInFlight (4) at a time: the most one address may have in
// flight. (A failed check takes at least the registry's failure floor, the
// longest check it has seen, which is long under -race on a busy machine.)
// Each must be refused with 401 invalid_client.
func (ts *testServer) guess(t *testing.T, reqs ...request) {
	t.Helper()
	resps := make([]response, len(reqs))
	errs := make([]error, len(reqs))
	inFours(len(reqs), func(i int) { resps[i], errs[i] = ts.send(reqs[i]) })
	for i := range reqs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		checkError(t, resps[i], http.StatusUnauthorized, "invalid_client")
	}
}

// mustToken makes the request and fails the test unless it gets a token.
func (ts *testServer) mustToken(t testing.TB, req request) response {
	t.Helper()
	resp := ts.do(t, req)
	if resp.status != http.StatusOK || resp.str("access_token") == "" {
		t.Fatalf("%s: status %d, body %s", req.path, resp.status, resp.raw)
	}
	return resp
}

// globexToken gets a client_credentials token from /oauth/token for globex
// with Basic and extra form parameters.
func (ts *testServer) globexToken(t testing.TB, kv ...string) response {
	t.Helper()
	return ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
		form: formOf(append([]string{"grant_type", "client_credentials"}, kv...)...)})
}

// refresh redeems a refresh token as globex (or the client given).
func (ts *testServer) refresh(t testing.TB, token string, client ...string) response {
	t.Helper()
	if client == nil {
		client = []string{"globex", "globex-secret"}
	}
	return ts.do(t, request{path: authserver.PathToken, basic: client,
		form: formOf("grant_type", "refresh_token", "refresh_token", token)})
}

// refreshAlone redeems a refresh token with nothing else in the form, as
// seed 000 does: no client authentication, no client_id.
func (ts *testServer) refreshAlone(t testing.TB, token string) response {
	t.Helper()
	return ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", token)})
}

// jwks fetches the server's key set.
func (ts *testServer) jwks(t testing.TB) []byte {
	t.Helper()
	resp := ts.do(t, request{method: http.MethodGet, path: authserver.PathJWKS})
	if resp.status != http.StatusOK {
		t.Fatalf("jwks: status %d", resp.status)
	}
	return resp.raw
}

// kids returns the key ids of the published key set.
func (ts *testServer) kids(t testing.TB) []string {
	t.Helper()
	var set struct {
		Keys []struct {
			KID string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(ts.jwks(t), &set); err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, k := range set.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

// verify checks raw's signature against the published key set (at the fake
// clock's time) and returns its header and claims.
func (ts *testServer) verify(t testing.TB, raw string) (map[string]any, jwt.MapClaims) {
	t.Helper()
	kf, err := keyfunc.NewJWKSetJSON(ts.jwks(t))
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{}
	tok, err := jwt.ParseWithClaims(raw, claims, kf.Keyfunc,
		jwt.WithValidMethods([]string{"RS256", "ES256", "EdDSA"}),
		jwt.WithTimeFunc(ts.Clock.Now),
		jwt.WithIssuer(ts.Cfg.Issuer),
		jwt.WithAudience(ts.Cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithJSONNumber(),
	)
	if err != nil {
		t.Fatalf("verifying the access token: %v", err)
	}
	return tok.Header, claims
}

// claimInt returns a numeric claim.
func claimInt(t testing.TB, claims jwt.MapClaims, name string) int64 {
	t.Helper()
	n, ok := claims[name].(json.Number)
	if !ok {
		t.Fatalf("claim %s is %T, not a number", name, claims[name])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("claim %s: %v", name, err)
	}
	return v
}

// testClient is a client of a registry written by writeRegistry.
type testClient struct {
	id, secret string
	scopes     []string
}

// writeRegistry writes a registry file with the clients in a temporary
// directory, their secrets hashed with the minimum Argon2id parameters (the
// fastest a registry accepts), and opens it.
func writeRegistry(t testing.TB, cs ...testClient) *clients.Registry {
	t.Helper()
	return openRegistry(t, newWritableRegistry(t, cs...).write(t))
}

// secretHashes holds the hash of each secret newWritableRegistry has
// hashed, so that the tests hash each secret once, not once per registry:
// under -race an Argon2id hash is a good part of a second.
var secretHashes sync.Map // secret → func() (string, error)

// hashOnce returns secret hashed with the minimum Argon2id parameters (the
// fastest a registry accepts), hashing it only the first time it is asked.
func hashOnce(secret string) (string, error) {
	hash, _ := secretHashes.LoadOrStore(secret, sync.OnceValues(func() (string, error) {
		return clients.HashSecret(secret, clients.HashParams{Algorithm: clients.AlgArgon2id, Argon2: clients.Argon2Params{
			Memory: clients.MinArgon2Memory, Time: clients.MinArgon2Time, Threads: clients.MinArgon2Threads}})
	}))
	return hash.(func() (string, error))()
}

// writableRegistry is a registry file whose clients can be disabled and the
// file written again, for reloads.
type writableRegistry struct {
	path     string
	entries  []map[string]any
	disabled map[string]bool
}

// newWritableRegistry hashes the clients' secrets (minimum Argon2id
// parameters) for a file in a temporary directory; write writes it.
func newWritableRegistry(t testing.TB, cs ...testClient) *writableRegistry {
	t.Helper()
	f := &writableRegistry{path: filepath.Join(t.TempDir(), "clients.yaml"), disabled: map[string]bool{}}
	for _, c := range cs {
		hash, err := hashOnce(c.secret)
		if err != nil {
			t.Fatal(err)
		}
		f.entries = append(f.entries, map[string]any{"client_id": c.id, "secret_hash": hash, "scopes": c.scopes})
	}
	return f
}

// write writes the file, with the clients disabled that f.disabled says,
// and returns its path.
func (f *writableRegistry) write(t testing.TB) string {
	t.Helper()
	var entries []map[string]any
	for _, e := range f.entries {
		e = maps.Clone(e)
		if f.disabled[e["client_id"].(string)] {
			e["disabled"] = true
		}
		entries = append(entries, e)
	}
	data, err := json.Marshal(map[string]any{"clients": entries}) // JSON is YAML
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return f.path
}

// jsonNumber is n as the response decoder represents it.
func jsonNumber(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

// repeat returns n requests made by req.
func repeat(n int, req func(i int) request) []request {
	out := make([]request, n)
	for i := range out {
		out[i] = req(i)
	}
	return out
}

// inFours runs f(0) to f(n-1), four at a time: as many checks as one
// address may have in flight.
func inFours(n int, f func(i int)) {
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			f(i)
		})
	}
	wg.Wait()
}

// startLogged starts an ES256 server (see start) whose log, at debug level,
// is the buffer returned.
func startLogged(t testing.TB) (*testServer, *syncbuf.Buffer) {
	t.Helper()
	logs := &syncbuf.Buffer{}
	return start(t, func(c *authserver.Config) { c.Algorithm = "ES256"; c.Logger = debugLogger(logs) }), logs
}

// debugLogger logs everything to w as text.
func debugLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// checkLog checks that the log out holds none of absent (secrets, tokens)
// and every one of present.
func checkLog(t testing.TB, out string, absent, present []string) {
	t.Helper()
	for _, s := range absent {
		if strings.Contains(out, s) {
			t.Errorf("the log holds %q:\n%s", s, out)
		}
	}
	for _, want := range present {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}
