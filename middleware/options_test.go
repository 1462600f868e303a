package middleware_test

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/middleware/echokw"
	"github.com/keyward/keyward/scopes"
)

// TestErrorHandler: the hook replaces the default response on both
// frameworks, and gets the normalized *dualauth.Error.
func TestErrorHandler(t *testing.T) {
	f := newFixture(t, "ES256")
	reporter := f.iss.Token(t, jwt.MapClaims{"scope": "reports:read"})
	cases := []struct {
		name       string
		req        request
		wantStatus int
		wantCode   string
		wantScope  string
	}{
		{"no credentials", request{target: "/bookings"}, 401, "", ""},
		{"bad token", request{target: "/bookings", auth: []string{bearer("a.b.c")}}, 401, "invalid_token", ""},
		{"query token", request{target: "/bookings?access_token=abc"}, 400, "invalid_request", ""},
		{"missing scope", request{target: "/bookings", auth: []string{bearer(reporter)}}, 403, "insufficient_scope", "bookings:read"},
	}
	for _, fw := range frameworks {
		t.Run(fw.name, func(t *testing.T) {
			var got atomic.Pointer[dualauth.Error]
			m := middleware.New(f.auth, middleware.Options{
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err *dualauth.Error) {
					got.Store(err)
					w.Header().Set("Content-Type", "text/plain")
					w.WriteHeader(http.StatusTeapot)
					fmt.Fprintf(w, "custom %d %s", err.Status, err.Code)
				},
			})
			c := newTCPClient(t, fw.app(m))
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					got.Store(nil)
					res := c.do(t, tc.req)
					if res.status != http.StatusTeapot {
						t.Fatalf("status = %d, want the hook's 418", res.status)
					}
					if want := fmt.Sprintf("custom %d %s", tc.wantStatus, tc.wantCode); string(res.body) != want {
						t.Errorf("body = %q, want %q", res.body, want)
					}
					if h := res.header.Get("WWW-Authenticate"); h != "" {
						t.Errorf("WWW-Authenticate = %q, want the hook's response only", h)
					}
					e := got.Load()
					if e == nil {
						t.Fatal("hook not called")
					}
					if e.Status != tc.wantStatus || e.Code != tc.wantCode || e.Scope != tc.wantScope || e.Description == "" {
						t.Errorf("hook got %+v", *e)
					}
				})
			}
		})
	}
}

// TestLogger: refusals are logged with what and why, never the credentials;
// the cause appears only at debug.
func TestLogger(t *testing.T) {
	f := newFixture(t, "RS256")
	past := time.Now().Add(-2 * time.Hour)
	expired := f.iss.Token(t, jwt.MapClaims{"scope": "bookings:read", "iat": past.Unix(), "nbf": past.Unix(), "exp": past.Add(time.Hour).Unix()})
	valid := f.iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	cases := []struct {
		name   string
		req    request
		secret string // must not appear in the log
		status float64
		code   string
		cause  bool // a cause is logged at debug
	}{
		{"expired token", request{target: "/bookings", auth: []string{bearer(expired)}}, expired, 401, "invalid_token", true},
		{"malformed token", request{target: "/bookings", auth: []string{bearer("not-a-jwt-at-all")}}, "not-a-jwt-at-all", 401, "invalid_token", true},
		{"token with a stray byte", request{target: "/bookings", auth: []string{bearer("stray,byte-in-token")}}, "stray,byte-in-token", 400, "invalid_request", true},
		{"token in the query", request{target: "/bookings?access_token=" + valid}, valid, 400, "invalid_request", false},
		{"Basic password", request{target: "/bookings", auth: []string{"Basic dXNlcjpodW50ZXIy"}}, "dXNlcjpodW50ZXIy", 401, "unauthorized", false},
		{"two headers", request{target: "/whoami", auth: []string{bearer(valid), bearer(expired)}}, valid, 400, "invalid_request", false},
	}
	for _, fw := range frameworks {
		for _, level := range []slog.Level{slog.LevelDebug, slog.LevelInfo} {
			t.Run(fw.name+"/"+level.String(), func(t *testing.T) {
				var buf syncBuffer
				logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: level}))
				c := recorderClient{h: fw.app(middleware.New(f.auth, middleware.Options{Logger: logger}))}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						before := len(buf.records(t))
						res := c.do(t, tc.req)
						if res.status != int(tc.status) {
							t.Fatalf("status = %d, want %v", res.status, tc.status)
						}
						recs := buf.records(t)[before:]
						if len(recs) != 1 {
							t.Fatalf("%d log records, want 1: %s", len(recs), buf.String())
						}
						rec := recs[0]
						path, _, _ := strings.Cut(tc.req.target, "?")
						want := map[string]any{
							"level": "INFO", "msg": "keyward: request refused", "status": tc.status, "code": tc.code,
							"method": "GET", "path": path, "remote_addr": "192.0.2.1:1234",
						}
						for k, v := range want {
							if rec[k] != v {
								t.Errorf("log %s = %v, want %v", k, rec[k], v)
							}
						}
						if d, _ := rec["description"].(string); d == "" {
							t.Errorf("log has no description: %v", rec)
						}
						_, hasCause := rec["cause"]
						if wantCause := tc.cause && level == slog.LevelDebug; hasCause != wantCause {
							t.Errorf("cause logged = %v, want %v: %v", hasCause, wantCause, rec)
						}
						if strings.Contains(buf.String(), tc.secret) {
							t.Errorf("log contains the credentials: %s", buf.String())
						}
						quotesAuthorization := false
						for _, v := range tc.req.auth {
							quotesAuthorization = quotesAuthorization || strings.Contains(buf.String(), v)
						}
						// "Bearer " alone is in a description ("the Bearer token has…").
						if quotesAuthorization || strings.Contains(buf.String(), "Basic ") || strings.Contains(buf.String(), "access_token=") {
							t.Errorf("log quotes the Authorization header or the query: %s", buf.String())
						}
					})
				}
				// Successes are not refusals.
				before := len(buf.records(t))
				if res := c.do(t, request{target: "/bookings", auth: []string{bearer(valid)}}); res.status != 200 {
					t.Fatalf("valid token: status %d", res.status)
				}
				if n := len(buf.records(t)) - before; n != 0 {
					t.Errorf("a success logged %d records", n)
				}
			})
		}
	}
}

// TestEchoSkipper: skipped requests pass unauthenticated, others do not.
func TestEchoSkipper(t *testing.T) {
	f := newFixture(t, "EdDSA")
	m := echokw.New(middleware.New(f.auth, middleware.Options{}), echokw.Options{
		Skipper: func(c echo.Context) bool { return c.Path() == "/healthz" },
	})
	e := echo.New()
	e.Use(m.Authenticate())
	health := func(c echo.Context) error {
		if _, ok := echokw.Principal(c); ok {
			return c.String(http.StatusInternalServerError, "skipped request has a principal")
		}
		return c.String(http.StatusOK, "ok")
	}
	e.GET("/healthz", health)
	e.GET("/healthz/scoped", health, m.Require(needBookings)) // not skipped: different path
	e.GET("/bookings", echoWhoami, m.Require(needBookings))
	c := newTCPClient(t, e)
	valid := f.iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})

	cases := []struct {
		name   string
		req    request
		status int
		body   string
	}{
		{"healthz without credentials", request{target: "/healthz"}, 200, "ok"},
		{"healthz with a garbage token", request{target: "/healthz", auth: []string{bearer("garbage")}}, 200, "ok"},
		{"not skipped", request{target: "/healthz/scoped"}, 401, ""},
		{"protected route", request{target: "/bookings"}, 401, ""},
		{"protected route with a token", request{target: "/bookings", auth: []string{bearer(valid)}}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := c.do(t, tc.req)
			if res.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", res.status, tc.status, res.body)
			}
			if tc.body != "" && string(res.body) != tc.body {
				t.Errorf("body = %q, want %q", res.body, tc.body)
			}
			if tc.status == 401 && res.header.Get("WWW-Authenticate") != bareChallenge {
				t.Errorf("WWW-Authenticate = %q", res.header.Get("WWW-Authenticate"))
			}
		})
	}

	// The skipper also applies to EchoRequire used on its own.
	e2 := echo.New()
	e2.Use(m.Require(needBookings))
	e2.GET("/healthz", health)
	if res := (recorderClient{h: e2}).do(t, request{target: "/healthz"}); res.status != 200 {
		t.Errorf("EchoRequire with skipper: status %d", res.status)
	}
}

// TestEchoHandlerErrorsUntouched: after authentication, the handler chain's
// errors go to Echo's HTTPErrorHandler as they are; the middleware's own
// refusals never do.
func TestEchoHandlerErrorsUntouched(t *testing.T) {
	f := newFixture(t, "ES384")
	m := middleware.New(f.auth, middleware.Options{})
	e := echo.New()
	var handled atomic.Int64
	var handledErr atomic.Value
	defaultHandler := e.HTTPErrorHandler
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		handled.Add(1)
		handledErr.Store(err)
		defaultHandler(err, c)
	}
	teapot := echo.NewHTTPError(http.StatusTeapot, "short and stout")
	e.GET("/teapot", func(echo.Context) error { return teapot }, ek(m).Authenticate(), ek(m).Require(needBookings))
	c := newTCPClient(t, e)
	valid := f.iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})

	res := c.do(t, request{target: "/teapot", auth: []string{bearer(valid)}})
	if res.status != http.StatusTeapot || strings.TrimSpace(string(res.body)) != `{"message":"short and stout"}` {
		t.Errorf("handler error: %d %q, want Echo's own 418 rendering", res.status, res.body)
	}
	if res.header.Get("WWW-Authenticate") != "" {
		t.Errorf("handler error got a challenge")
	}
	if handled.Load() != 1 || handledErr.Load() != error(teapot) {
		t.Errorf("HTTPErrorHandler calls = %d, err %v; want 1 with the handler's own error", handled.Load(), handledErr.Load())
	}

	for _, req := range []request{
		{target: "/teapot"},
		{target: "/teapot", auth: []string{bearer("garbage")}},
		{target: "/teapot", auth: []string{bearer(f.iss.Token(t, jwt.MapClaims{"scope": "other"}))}},
	} {
		handled.Store(0)
		res := c.do(t, req)
		if res.status != 401 && res.status != 403 {
			t.Errorf("%v: status %d", req, res.status)
		}
		if handled.Load() != 0 {
			t.Errorf("%v: the refusal went through Echo's HTTPErrorHandler", req)
		}
		if code, _ := decodeError(t, res.body); code == "" {
			t.Errorf("%v: no error code", req)
		}
	}
}

// TestComposition: Require behind Authenticate (chi style) and EchoRequire
// behind Echo verify each request once, and Require alone verifies too.
func TestComposition(t *testing.T) {
	f := newFixture(t, "PS256")
	// Every request carries a token not seen before: a token seen before is
	// answered by the verified-token cache without a signature check.
	reader := func() string { return f.iss.Token(t, jwt.MapClaims{"sub": "user-42", "scope": "bookings:read"}) }
	reporter := func() string { return f.iss.Token(t, jwt.MapClaims{"scope": "reports:read"}) }
	m := middleware.New(f.auth, middleware.Options{})

	// chi style: r.Use(m.Authenticate); r.With(m.Require(...)).Get(...).
	var handlerCalls atomic.Int64
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handlerCalls.Add(1)
		whoami(w, r)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /chi", chain(counted, m.Authenticate, m.Require(scopes.All("bookings:read")), m.Require(scopes.Any("bookings:read", "x"))))
	mux.Handle("GET /alone", m.Require(scopes.All("bookings:read"))(counted))
	e := echo.New()
	g := e.Group("/api", ek(m).Authenticate())
	g.GET("/echo", func(c echo.Context) error { handlerCalls.Add(1); return echoWhoami(c) }, ek(m).Require(scopes.All("bookings:read")))

	apps := map[string]http.Handler{"/chi": mux, "/alone": mux, "/api/echo": e}
	for path, app := range apps {
		for _, tc := range []struct {
			token  func() string
			status int
		}{{reader, 200}, {reporter, 403}} {
			t.Run(fmt.Sprintf("%s/%d", path, tc.status), func(t *testing.T) {
				c := newTCPClient(t, app)
				verifications, calls := f.keys.verifications.Load(), handlerCalls.Load()
				res := c.do(t, request{target: path, auth: []string{bearer(tc.token())}})
				if res.status != tc.status {
					t.Fatalf("status = %d, want %d: %s", res.status, tc.status, res.body)
				}
				if n := f.keys.verifications.Load() - verifications; n != 1 {
					t.Errorf("token verified %d times, want 1", n)
				}
				wantCalls := int64(0)
				if tc.status == 200 {
					wantCalls = 1
				}
				if n := handlerCalls.Load() - calls; n != wantCalls {
					t.Errorf("handler called %d times, want %d", n, wantCalls)
				}
			})
		}
	}
}

// TestWriteError: any error renders, fails closed, escapes and redacts.
func TestWriteError(t *testing.T) {
	f := newFixture(t, "RS256")
	m := middleware.New(f.auth, middleware.Options{})
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
	cases := []struct {
		name      string
		method    string
		err       error
		status    int
		challenge string
		code      string
		desc      string
	}{
		{
			name: "plain error fails closed", err: errors.New("db: password=hunter2"),
			status: 401, challenge: challenge("invalid_token", "the request could not be authenticated"),
			code: "invalid_token", desc: "the request could not be authenticated",
		},
		{
			name: "nil error fails closed", err: nil,
			status: 401, challenge: challenge("invalid_token", "the request could not be authenticated"),
			code: "invalid_token", desc: "the request could not be authenticated",
		},
		{
			name: "wrapped dualauth error", err: fmt.Errorf("route: %w", &dualauth.Error{Status: 403, Code: "insufficient_scope", Description: "need more", Scope: "a:b c:d"}),
			status: 403, challenge: challenge("insufficient_scope", "need more") + `, scope="a:b c:d"`,
			code: "insufficient_scope", desc: "need more",
		},
		{
			name: "status 500 is never sent", err: &dualauth.Error{Status: 500, Code: "invalid_token", Description: "oops"},
			status: 401, challenge: challenge("invalid_token", "oops"), code: "invalid_token", desc: "oops",
		},
		{
			name: "zero status takes the code's", err: &dualauth.Error{Code: "invalid_request"},
			status: 400, challenge: challenge("invalid_request", "the request is malformed"), code: "invalid_request", desc: "the request is malformed",
		},
		{
			name: "no code is a bare challenge", err: &dualauth.Error{Status: 403, Description: "who are you", Scope: "x"},
			status: 401, challenge: bareChallenge, code: "unauthorized", desc: "who are you",
		},
		{
			name: "quotes, backslashes and line breaks are escaped", err: &dualauth.Error{Status: 401, Code: "invalid_token", Description: "bad \"quote\" \\ here\r\nX-Evil: 1 é"},
			status: 401, challenge: challenge("invalid_token", `bad \"quote\" \\ here??X-Evil: 1 ?`),
			code: "invalid_token", desc: "bad \"quote\" \\ here\r\nX-Evil: 1 é",
		},
		{
			name: "a description quoting the token is replaced", err: &dualauth.Error{Status: 401, Code: "invalid_token", Description: "token " + token + " is bad"},
			status: 401, challenge: challenge("invalid_token", "the request could not be authenticated"),
			code: "invalid_token", desc: "the request could not be authenticated",
		},
		{
			name: "HEAD", method: http.MethodHead, err: dualauthNoCredentials(t, f),
			status: 401, challenge: bareChallenge,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(cmp(tc.method, http.MethodGet), "/x", nil)
			r.Header.Set("Authorization", bearer(token))
			rec := httptest.NewRecorder()
			m.WriteError(rec, r, tc.err)
			res := rec.Result()
			if res.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tc.status)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate = %q,\n                    want %q", got, tc.challenge)
			}
			if ct, cc := res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"); ct != "application/json" || cc != "no-store" {
				t.Errorf("Content-Type %q, Cache-Control %q", ct, cc)
			}
			if tc.method == http.MethodHead {
				if rec.Body.Len() != 0 {
					t.Errorf("HEAD body %q", rec.Body)
				}
				return
			}
			code, desc := decodeError(t, rec.Body.Bytes())
			if code != tc.code || desc != tc.desc {
				t.Errorf("body = {%q, %q}, want {%q, %q}", code, desc, tc.code, tc.desc)
			}
			if strings.Contains(rec.Body.String(), "hunter2") || strings.Contains(rec.Body.String(), token) {
				t.Errorf("body leaks: %s", rec.Body)
			}
		})
	}
	// The caller's error is not modified.
	orig := &dualauth.Error{Status: 500, Code: "invalid_token"}
	m.WriteError(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil), orig)
	if orig.Status != 500 || orig.Description != "" {
		t.Errorf("WriteError changed its argument: %+v", *orig)
	}
}

// dualauthNoCredentials gets a real no-credentials error from the Authenticator.
func dualauthNoCredentials(t *testing.T, f *fixture) error {
	_, err := f.auth.Authenticate(httptest.NewRequest(http.MethodGet, "/", nil))
	if e, ok := err.(*dualauth.Error); !ok || e.Code != "" || e.Status != 401 {
		t.Fatalf("Authenticate without credentials: %v", err)
	}
	return err
}

// TestNewNil: a nil Authenticator is a set-up error, found at once.
func TestNewNil(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New(nil) did not panic")
		}
	}()
	middleware.New(nil, middleware.Options{})
}

// TestPreflightAndSkip: CORS preflights and Options.Skip pass without
// authentication and without a Principal on both frameworks; a plain
// OPTIONS, or a preflight when the config authenticates preflights, does
// not.
func TestPreflightAndSkip(t *testing.T) {
	f := newFixture(t, "ES256")
	strict, err := keywardtest.Config{
		Config: dualauth.Config{Realm: realm, AuthenticatePreflight: true},
		JWT:    jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: f.iss.URL, Audiences: []string{f.iss.Audience}, Keys: f.keys}}},
	}.Build()
	if err != nil {
		t.Fatal(err)
	}
	skip := func(r *http.Request) bool { return r.URL.Path == "/healthz" }
	passed := func(w http.ResponseWriter, r *http.Request) {
		if _, ok := dualauth.FromContext(r.Context()); ok {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
	apps := func(a *dualauth.Authenticator) map[string]http.Handler {
		m := middleware.New(a, middleware.Options{Skip: skip})
		mux := http.NewServeMux()
		mux.Handle("/", m.Require(needBookings)(http.HandlerFunc(passed)))
		e := echo.New()
		e.Any("/*", func(c echo.Context) error { passed(c.Response(), c.Request()); return nil }, ek(m).Require(needBookings))
		return map[string]http.Handler{"net/http": mux, "echo": e}
	}
	preflight := func(r *http.Request) {
		r.Header.Set("Origin", "https://app.example")
		r.Header.Set("Access-Control-Request-Method", "POST")
	}
	for _, tc := range []struct {
		name   string
		a      *dualauth.Authenticator
		method string
		path   string
		edit   func(*http.Request)
		status int
	}{
		{"preflight passes", f.auth, http.MethodOptions, "/bookings", preflight, http.StatusNoContent},
		{"plain OPTIONS is authenticated", f.auth, http.MethodOptions, "/bookings", nil, http.StatusUnauthorized},
		{"preflight headers on GET are authenticated", f.auth, http.MethodGet, "/bookings", preflight, http.StatusUnauthorized},
		{"preflight authenticated when configured", strict, http.MethodOptions, "/bookings", preflight, http.StatusUnauthorized},
		{"Skip passes", f.auth, http.MethodGet, "/healthz", nil, http.StatusNoContent},
		{"Skip passes with a strict config too", strict, http.MethodGet, "/healthz", nil, http.StatusNoContent},
	} {
		for fw, h := range apps(tc.a) {
			t.Run(tc.name+"/"+fw, func(t *testing.T) {
				r := httptest.NewRequest(tc.method, tc.path, nil)
				if tc.edit != nil {
					tc.edit(r)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
			})
		}
	}
}
