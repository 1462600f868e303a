package middleware_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/internal/syncbuf"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/middleware/echokw"
	"github.com/keyward/keyward/scopes"
)

const realm = "bookings-api"

// challenge strings as the middleware must render them.
const bareChallenge = `Bearer realm="bookings-api"`

func challenge(code, description string) string {
	return bareChallenge + `, error="` + code + `", error_description="` + description + `"`
}

// countingSet is the issuer's real jwks.Remote, counting how often a token's
// signature is checked against it (dualauth asks for one Keyfunc per Verify).
type countingSet struct {
	jwks.Set
	verifications atomic.Int64
}

func (s *countingSet) Keyfunc(ctx context.Context) jwt.Keyfunc {
	s.verifications.Add(1)
	return s.Set.Keyfunc(ctx)
}

// fixture is a real test issuer on 127.0.0.1, a real jwks.Remote fetching
// its JWKS, and an Authenticator trusting it.
type fixture struct {
	iss  *keywardtest.Issuer
	keys *countingSet
	auth *dualauth.Authenticator
}

func newFixture(tb testing.TB, algs ...string) *fixture {
	tb.Helper()
	iss := keywardtest.NewIssuer(tb, algs...)
	remote, err := jwks.NewRemote(tb.Context(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(remote.Close)
	if st := remote.Status(); st.Keys == 0 {
		tb.Fatalf("jwks.Remote loaded no keys: %+v", st)
	}
	keys := &countingSet{Set: remote}
	a, err := keywardtest.Config{
		Config: dualauth.Config{Realm: realm},
		JWT:    jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys}}},
	}.Build()
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{iss: iss, keys: keys, auth: a}
}

// who is what a protected handler reports about its caller.
type who struct {
	Subject  string   `json:"subject"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes"`
	Method   string   `json:"method"`
}

func whoOf(p *dualauth.Principal) who {
	return who{Subject: p.Subject, ClientID: p.ClientID, Scopes: slices.Clone(p.Scopes), Method: string(p.Method)}
}

// whoami is the protected net/http handler: it answers with the Principal
// the middleware stored, or 500 if there is none.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := dualauth.FromContext(r.Context())
	if !ok {
		http.Error(w, "no principal in the request context", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(whoOf(p))
})

// echoWhoami is the protected Echo handler: it insists that the Principal is
// in both places the middleware stores it, and that they agree.
func echoWhoami(c echo.Context) error {
	fromEcho, ok1 := echokw.Principal(c)
	fromKey, ok2 := c.Get(echokw.ContextKey).(*dualauth.Principal)
	fromCtx, ok3 := dualauth.FromContext(c.Request().Context())
	if !ok1 || !ok2 || !ok3 || fromEcho != fromKey || fromKey != fromCtx {
		return c.String(http.StatusInternalServerError, "principal missing or inconsistent")
	}
	return c.JSON(http.StatusOK, whoOf(fromEcho))
}

// Route requirements shared by both frameworks.
var (
	needBookings = scopes.All("bookings:read")
	needBoth     = scopes.All("reports:read", "bookings:read")
	needEither   = scopes.Any("reports:read", "bookings:read")
)

// netHTTPApp is a Go 1.22 ServeMux with the test routes. /composed is the
// chi-style composition: Authenticate in front, Require behind it.
func netHTTPApp(m *middleware.Middleware) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /whoami", m.Authenticate(whoami))
	mux.Handle("GET /bookings", m.Require(needBookings)(whoami))
	mux.Handle("GET /reports", m.Require(needBoth)(whoami))
	mux.Handle("GET /either", m.Require(needEither)(whoami))
	mux.Handle("GET /composed", chain(whoami, m.Authenticate, m.Require(needBookings)))
	return mux
}

// chain applies middlewares as chi's Use and With do: the first is outermost.
func chain(h http.Handler, mws ...func(http.Handler) http.Handler) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// echoApp is a real Echo instance with the same routes.
func echoApp(m *middleware.Middleware) *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	get := []string{http.MethodGet, http.MethodHead}
	e.Match(get, "/whoami", echoWhoami, ek(m).Authenticate())
	e.Match(get, "/bookings", echoWhoami, ek(m).Require(needBookings))
	e.Match(get, "/reports", echoWhoami, ek(m).Require(needBoth))
	e.Match(get, "/either", echoWhoami, ek(m).Require(needEither))
	e.Match(get, "/composed", echoWhoami, ek(m).Authenticate(), ek(m).Require(needBookings))
	return e
}

// request describes one request of a table.
type request struct {
	method string   // "" means GET
	target string   // path and query
	auth   []string // Authorization header values, each sent as its own header line
}

// response is what came back.
type response struct {
	status int
	header http.Header
	body   []byte
}

// client sends requests to a handler either over real TCP (httptest.Server
// and http.Client) or in process (httptest.NewRecorder).
type client interface {
	do(t *testing.T, req request) response
}

type tcpClient struct{ srv *httptest.Server }

func newTCPClient(t *testing.T, h http.Handler) tcpClient {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return tcpClient{srv: srv}
}

func (c tcpClient) do(t *testing.T, req request) response {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), cmp(req.method, http.MethodGet), c.srv.URL+req.target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range req.auth {
		r.Header.Add("Authorization", v)
	}
	res, err := c.srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: body}
}

type recorderClient struct{ h http.Handler }

func (c recorderClient) do(t *testing.T, req request) response {
	t.Helper()
	r := httptest.NewRequestWithContext(t.Context(), cmp(req.method, http.MethodGet), req.target, nil)
	for _, v := range req.auth {
		r.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	c.h.ServeHTTP(rec, r)
	res := rec.Result()
	body, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func cmp(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// bearer returns an Authorization header value.
func bearer(token string) string { return "Bearer " + token }

// decodeError decodes an error body strictly: exactly the two members.
func decodeError(t *testing.T, body []byte) (code, description string) {
	t.Helper()
	var b struct {
		Error       *string `json:"error"`
		Description *string `json:"error_description"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if b.Error == nil || b.Description == nil {
		t.Fatalf("error body %q lacks error or error_description", body)
	}
	return *b.Error, *b.Description
}

// syncBuffer collects JSON log records written from server goroutines.
type syncBuffer struct{ syncbuf.Buffer }

// records returns the JSON log records written so far.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

// ek adapts m to Echo.
func ek(m *middleware.Middleware) *echokw.Middleware { return echokw.New(m, echokw.Options{}) }
