package exchange_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/exchange"
)

const (
	goodID     = "partner-1"
	goodSecret = "s3cr3t-Value-42"
)

// specialCredentials are ids and secrets with every character that an
// encoding could get wrong: Basic's colon, form encoding's + % & = and
// space, base64's / and =, and non-ASCII text.
var specialCredentials = []struct{ id, secret string }{
	{"partner:7", "p@ss w%rd+/="},
	{"a&b=c", "x:y:z & %2B + %"},
	{"клиент-ü", "sécret-密码-🔑"},
	{"id with space", `quote" back\slash`},
	{"100%", "+++===///"},
}

func TestStylesSucceed(t *testing.T) {
	for _, s := range seeds {
		t.Run(s.name, func(t *testing.T) {
			ts := newTokenServer(t, s, map[string]string{goodID: goodSecret}, "")
			tok, err := ts.client().Exchange(context.Background(), goodID, goodSecret)
			if err != nil {
				t.Fatalf("Exchange: %v", err)
			}
			if tok.AccessToken != accessTokenFor(goodID) {
				t.Errorf("AccessToken = %q, want %q", tok.AccessToken, accessTokenFor(goodID))
			}
			if tok.TokenType != "Bearer" {
				t.Errorf("TokenType = %q", tok.TokenType)
			}
			want := time.Duration(s.expiresIn.(int)) * time.Second
			if tok.ExpiresIn != want {
				t.Errorf("ExpiresIn = %v, want %v", tok.ExpiresIn, want)
			}
			if n := ts.requests.Load(); n != 1 {
				t.Errorf("endpoint saw %d requests, want 1", n)
			}
		})
	}
}

func TestSeedExpiry(t *testing.T) {
	// The seeds' documented lifetimes: one hour for 001 and 002, 30 days for 003.
	want := map[string]time.Duration{"001-basic": time.Hour, "002-json": time.Hour, "003-form": 30 * 24 * time.Hour}
	for _, s := range seeds {
		ts := newTokenServer(t, s, map[string]string{goodID: goodSecret}, "")
		tok, err := ts.client().Exchange(context.Background(), goodID, goodSecret)
		if err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if tok.ExpiresIn != want[s.name] {
			t.Errorf("%s: ExpiresIn = %v, want %v", s.name, tok.ExpiresIn, want[s.name])
		}
	}
}

func TestScopeIsSent(t *testing.T) {
	const scope = "bookings:read reports:read"
	for _, s := range seeds {
		t.Run(s.name, func(t *testing.T) {
			ts := newTokenServer(t, s, map[string]string{goodID: goodSecret}, scope)
			if _, err := ts.client().Exchange(context.Background(), goodID, goodSecret); err != nil {
				t.Fatalf("Exchange: %v", err)
			}
		})
	}
}

func TestParamsInJSONStyle(t *testing.T) {
	s := seeds[1]
	s.params = url.Values{"response_type": {"token"}, "audience": {"bookings-api"}}
	ts := newTokenServer(t, s, map[string]string{goodID: goodSecret}, "")
	if _, err := ts.client().Exchange(context.Background(), goodID, goodSecret); err != nil {
		t.Fatalf("Exchange: %v", err)
	}
}

func TestSpecialCharacters(t *testing.T) {
	clients := map[string]string{}
	for _, c := range specialCredentials {
		clients[c.id] = c.secret
	}
	for _, s := range seeds {
		ts := newTokenServer(t, s, clients, "")
		c := ts.client()
		for _, cred := range specialCredentials {
			t.Run(s.name+"/"+cred.id, func(t *testing.T) {
				tok, err := c.Exchange(context.Background(), cred.id, cred.secret)
				if err != nil {
					t.Fatalf("Exchange: %v", err)
				}
				if tok.AccessToken != accessTokenFor(cred.id) {
					t.Errorf("endpoint saw another client id: token %q", tok.AccessToken)
				}
				// A secret that differs in one character must not pass:
				// the endpoint really compares what it decoded.
				_, err = c.Exchange(context.Background(), cred.id, cred.secret+"x")
				if !errors.Is(err, exchange.ErrRejected) {
					t.Errorf("wrong secret: err = %v, want ErrRejected", err)
				}
				assertNoSecret(t, err, cred.secret, cred.secret+"x")
			})
		}
	}
}

func TestBasicHeaderIsFormEncoded(t *testing.T) {
	// RFC 6749 §2.3.1 and its errata: the form encoding comes before base64,
	// so a colon in the id cannot split the pair and spaces become '+'.
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "access_token": "t"})
	}))
	defer srv.Close()
	c := &exchange.Client{TokenURL: srv.URL}
	if _, err := c.Exchange(context.Background(), "partner:7", "p@ss w%rd+/="); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte("partner%3A7:p%40ss+w%25rd%2B%2F%3D"))
	if got != want {
		t.Errorf("Authorization = %q, want %q", got, want)
	}
}

func TestRejected(t *testing.T) {
	// The seed endpoints refusing wrong credentials.
	for _, s := range seeds {
		t.Run(s.name, func(t *testing.T) {
			ts := newTokenServer(t, s, map[string]string{goodID: goodSecret}, "")
			for _, cred := range []struct{ id, secret string }{{goodID, "wrong-" + goodSecret}, {"stranger", goodSecret}} {
				_, err := ts.client().Exchange(context.Background(), cred.id, cred.secret)
				if !errors.Is(err, exchange.ErrRejected) || errors.Is(err, exchange.ErrUnavailable) {
					t.Fatalf("err = %v, want ErrRejected only", err)
				}
				e := asError(t, err)
				if e.Code != "invalid_client" {
					t.Errorf("Code = %q, want invalid_client", e.Code)
				}
				if e.Status != http.StatusUnauthorized && e.Status != http.StatusBadRequest {
					t.Errorf("Status = %d", e.Status)
				}
				assertNoSecret(t, err, cred.secret)
			}
		})
	}

	cases := []struct {
		name       string
		status     int
		body       string
		wantCode   string
		wantStatus int
	}{
		{"400 invalid_client", 400, `{"error":"invalid_client","error_description":"bad client"}`, "invalid_client", 400},
		{"400 invalid_grant", 400, `{"error":"invalid_grant"}`, "invalid_grant", 400},
		{"400 unauthorized_client", 400, `{"error":"unauthorized_client"}`, "unauthorized_client", 400},
		{"401 invalid_client", 401, `{"error":"invalid_client"}`, "invalid_client", 401},
		{"401 no body", 401, ``, "", 401},
		{"401 html", 401, `<html>denied</html>`, "", 401},
		{"403 access_denied", 403, `{"error":"access_denied","error_description":"missing permissions"}`, "access_denied", 403},
		{"403 no body", 403, ``, "", 403},
		{"200 with invalid_client", 200, `{"error":"invalid_client"}`, "invalid_client", 200},
		{"401 oversized body", 401, `{"error":"invalid_client","pad":"` + strings.Repeat("x", 1<<20) + `"}`, "", 401},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			_, err := (&exchange.Client{TokenURL: srv.URL}).Exchange(context.Background(), goodID, goodSecret)
			if !errors.Is(err, exchange.ErrRejected) || errors.Is(err, exchange.ErrUnavailable) {
				t.Fatalf("err = %v, want ErrRejected only", err)
			}
			e := asError(t, err)
			if e.Code != tc.wantCode || e.Status != tc.wantStatus {
				t.Errorf("Status, Code = %d, %q; want %d, %q", e.Status, e.Code, tc.wantStatus, tc.wantCode)
			}
			if !strings.Contains(err.Error(), goodID) {
				t.Errorf("error %q does not name the client", err)
			}
			assertNoSecret(t, err, goodSecret)
		})
	}
}

func TestEmptyCredentialsAreNotSent(t *testing.T) {
	ts := newTokenServer(t, seeds[0], map[string]string{"": "", goodID: ""}, "")
	for _, cred := range []struct{ id, secret string }{{"", goodSecret}, {goodID, ""}, {"", ""}} {
		_, err := ts.client().Exchange(context.Background(), cred.id, cred.secret)
		if !errors.Is(err, exchange.ErrRejected) {
			t.Errorf("Exchange(%q, %q) = %v, want ErrRejected", cred.id, cred.secret, err)
		}
		assertNoSecret(t, err, cred.secret)
	}
	if n := ts.requests.Load(); n != 0 {
		t.Errorf("endpoint saw %d requests, want 0", n)
	}
}

// respond is a handler writing a fixed response.
func respond(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

const jsonType = "application/json"

// unavailableCases are endpoints that answer without proving anything.
func unavailableCases() []struct {
	name       string
	handler    http.Handler
	client     func(c *exchange.Client)
	wantStatus int
	wantCode   string
	wantCause  error
} {
	big := strings.Repeat("a", 64<<10+1)
	type tc = struct {
		name       string
		handler    http.Handler
		client     func(c *exchange.Client)
		wantStatus int
		wantCode   string
		wantCause  error
	}
	return []tc{
		{name: "500", handler: respond(500, jsonType, `{"error":"server_error"}`), wantStatus: 500, wantCode: "server_error"},
		{name: "502 html", handler: respond(502, "text/html", `<html>bad gateway</html>`), wantStatus: 502},
		{name: "503", handler: respond(503, "", ``), wantStatus: 503},
		{name: "429", handler: respond(429, jsonType, `{"error":"slow_down"}`), wantStatus: 429, wantCode: "slow_down"},
		{name: "404", handler: respond(404, "text/plain", `not found`), wantStatus: 404},
		{name: "400 invalid_request", handler: respond(400, jsonType, `{"error":"invalid_request"}`), wantStatus: 400, wantCode: "invalid_request"},
		{name: "400 unsupported_grant_type", handler: respond(400, jsonType, `{"error":"unsupported_grant_type"}`), wantStatus: 400, wantCode: "unsupported_grant_type"},
		{name: "400 no body", handler: respond(400, "", ``), wantStatus: 400},
		{name: "200 non-JSON", handler: respond(200, "text/html", `<html>login here</html>`), wantStatus: 200},
		{name: "200 form-encoded", handler: respond(200, "application/x-www-form-urlencoded", `access_token=t&token_type=bearer`), wantStatus: 200},
		{name: "200 empty", handler: respond(200, jsonType, ``), wantStatus: 200},
		{name: "200 JSON array", handler: respond(200, jsonType, `[{"access_token":"t","token_type":"Bearer"}]`), wantStatus: 200},
		{name: "200 truncated JSON", handler: respond(200, jsonType, `{"access_token":"t","token_type":"Bea`), wantStatus: 200},
		{name: "200 trailing garbage", handler: respond(200, jsonType, `{"access_token":"t","token_type":"Bearer"} x`), wantStatus: 200},
		{name: "200 without access_token", handler: respond(200, jsonType, `{"token_type":"Bearer","expires_in":3600}`), wantStatus: 200},
		{name: "200 empty access_token", handler: respond(200, jsonType, `{"access_token":"","token_type":"Bearer"}`), wantStatus: 200},
		{name: "200 numeric access_token", handler: respond(200, jsonType, `{"access_token":42,"token_type":"Bearer"}`), wantStatus: 200},
		{name: "200 token_type mac", handler: respond(200, jsonType, `{"access_token":"t","token_type":"mac"}`), wantStatus: 200},
		{name: "200 token_type DPoP", handler: respond(200, jsonType, `{"access_token":"t","token_type":"DPoP"}`), wantStatus: 200},
		{name: "200 no token_type", handler: respond(200, jsonType, `{"access_token":"t"}`), wantStatus: 200},
		{name: "200 expires_in negative", handler: respond(200, jsonType, `{"access_token":"t","token_type":"Bearer","expires_in":-1}`), wantStatus: 200},
		{name: "200 expires_in word", handler: respond(200, jsonType, `{"access_token":"t","token_type":"Bearer","expires_in":"soon"}`), wantStatus: 200},
		{name: "200 expires_in NaN", handler: respond(200, jsonType, `{"access_token":"t","token_type":"Bearer","expires_in":"NaN"}`), wantStatus: 200},
		{name: "200 expires_in huge", handler: respond(200, jsonType, `{"access_token":"t","token_type":"Bearer","expires_in":1e300}`), wantStatus: 200},
		{name: "200 scope object", handler: respond(200, jsonType, `{"access_token":"t","token_type":"Bearer","scope":{}}`), wantStatus: 200},
		{name: "200 error code", handler: respond(200, jsonType, `{"error":"temporarily_unavailable"}`), wantStatus: 200, wantCode: "temporarily_unavailable"},
		{name: "access_token over 64 KiB", handler: respond(200, jsonType, `{"access_token":"`+big+`","token_type":"Bearer"}`), wantStatus: 200},
		{
			name:       "oversized body with length",
			handler:    respond(200, jsonType, `{"access_token":"t","token_type":"Bearer","pad":"`+strings.Repeat("x", 2048)+`"}`),
			client:     func(c *exchange.Client) { c.MaxBytes = 1024 },
			wantStatus: 200,
		},
		{
			name: "oversized body chunked",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", jsonType)
				_, _ = w.Write([]byte(`{"access_token":"t","token_type":"Bearer","pad":"`))
				w.(http.Flusher).Flush() // no Content-Length from here on
				_, _ = w.Write([]byte(strings.Repeat("x", 2048) + `"}`))
			}),
			client:     func(c *exchange.Client) { c.MaxBytes = 1024 },
			wantStatus: 200,
		},
		{
			name:       "oversized 500 body",
			handler:    respond(500, jsonType, `{"error":"server_error","pad":"`+strings.Repeat("x", 2048)+`"}`),
			client:     func(c *exchange.Client) { c.MaxBytes = 1024 },
			wantStatus: 500,
		},
		{
			name: "timeout",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				blockUntilGone(r)
			}),
			client:    func(c *exchange.Client) { c.Timeout = 50 * time.Millisecond },
			wantCause: context.DeadlineExceeded,
		},
		{
			name: "timeout while reading the body",
			handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", jsonType)
				_, _ = w.Write([]byte(`{"access_token":"t",`))
				w.(http.Flusher).Flush()
				blockUntilGone(r)
			}),
			client:     func(c *exchange.Client) { c.Timeout = 50 * time.Millisecond },
			wantStatus: 200,
			wantCause:  context.DeadlineExceeded,
		},
	}
}

// blockUntilGone blocks until the client has gone. The body is read first:
// net/http notices a closed connection (and cancels r's context) only once
// the request body has been consumed.
func blockUntilGone(r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func TestUnavailable(t *testing.T) {
	for _, tc := range unavailableCases() {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c := &exchange.Client{TokenURL: srv.URL + "/token"}
			if tc.client != nil {
				tc.client(c)
			}
			tok, err := c.Exchange(context.Background(), goodID, goodSecret)
			checkUnavailable(t, tok, err, tc.wantStatus, tc.wantCode, tc.wantCause)
		})
	}
}

func checkUnavailable(t *testing.T, tok *exchange.Token, err error, wantStatus int, wantCode string, wantCause error) {
	t.Helper()
	if tok != nil {
		t.Errorf("got a token %+v with the error", tok)
	}
	if !errors.Is(err, exchange.ErrUnavailable) || errors.Is(err, exchange.ErrRejected) {
		t.Fatalf("err = %v, want ErrUnavailable only", err)
	}
	e := asError(t, err)
	if e.Status != wantStatus || e.Code != wantCode {
		t.Errorf("Status, Code = %d, %q; want %d, %q", e.Status, e.Code, wantStatus, wantCode)
	}
	if wantCause != nil && !errors.Is(err, wantCause) {
		t.Errorf("err = %v, want it to wrap %v", err, wantCause)
	}
	assertNoSecret(t, err, goodSecret)
}

func TestRedirectIsNotFollowed(t *testing.T) {
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			target := newTokenServer(t, seeds[0], map[string]string{goodID: goodSecret}, "")
			srv := httptest.NewServer(http.RedirectHandler(target.URL+seeds[0].path, status))
			defer srv.Close()
			// Even a caller's client that follows redirects must not.
			follows := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}
			c := &exchange.Client{TokenURL: srv.URL + "/token", HTTPClient: follows}
			tok, err := c.Exchange(context.Background(), goodID, goodSecret)
			checkUnavailable(t, tok, err, status, "", nil)
			if n := target.requests.Load(); n != 0 {
				t.Errorf("redirect target saw %d requests: credentials were forwarded", n)
			}
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := &exchange.Client{TokenURL: "http://" + addr + "/token"}
	tok, err := c.Exchange(context.Background(), goodID, goodSecret)
	checkUnavailable(t, tok, err, 0, "", nil)
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("err = %v, want a *net.OpError cause", err)
	}
}

func TestCallerContextCanceled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		blockUntilGone(r)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	tok, err := (&exchange.Client{TokenURL: srv.URL}).Exchange(ctx, goodID, goodSecret)
	checkUnavailable(t, tok, err, 0, "", context.Canceled)
}

func TestMisconfiguredClientIsUnavailable(t *testing.T) {
	c := &exchange.Client{TokenURL: "http://auth.example.com/token"}
	tok, err := c.Exchange(context.Background(), goodID, goodSecret)
	checkUnavailable(t, tok, err, 0, "", nil)
}

func TestSecretNeverInErrors(t *testing.T) {
	// Endpoints that echo what they received, in every form the secret was
	// sent in, into every piece of text an error keeps.
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			raw, _ := io.ReadAll(r.Body)
			said := fmt.Sprintf("got header %q body %s", r.Header.Get("Authorization"), raw)
			if auth, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Basic "); ok {
				b, _ := base64.StdEncoding.DecodeString(auth)
				_, s, _ := strings.Cut(string(b), ":")
				u, _ := url.QueryUnescape(s)
				said += " decoded " + string(b) + " unescaped " + u + " base64 " + auth
			}
			if form, err := url.ParseQuery(string(raw)); err == nil && form.Get("client_secret") != "" {
				said += " form " + form.Get("client_secret")
			}
			writeJSON(w, status, map[string]any{
				"error":             "bad_" + said,
				"error_description": said,
				"token_type":        said,
				"access_token":      "t",
			})
		}
	}
	creds := append([]struct{ id, secret string }{{goodID, goodSecret}}, specialCredentials...)
	for _, s := range seeds {
		for _, status := range []int{200, 400, 401, 403, 429, 500} {
			srv := httptest.NewServer(echo(status))
			for _, cred := range creds {
				c := &exchange.Client{TokenURL: srv.URL, Style: s.style, Params: s.params}
				tok, err := c.Exchange(context.Background(), cred.id, cred.secret)
				if err == nil {
					t.Fatalf("%s %d: no error, token %+v", s.name, status, tok)
				}
				assertNoSecret(t, err, cred.secret, url.QueryEscape(cred.secret))
				if status == 401 && !strings.Contains(err.Error(), "[redacted]") {
					t.Errorf("%s %d: %v: nothing was redacted", s.name, status, err)
				}
			}
			srv.Close()
		}
	}

	// A client id that holds the secret is scrubbed too.
	srv := httptest.NewServer(respond(401, jsonType, `{"error":"invalid_client"}`))
	defer srv.Close()
	_, err := (&exchange.Client{TokenURL: srv.URL}).Exchange(context.Background(), "id-"+goodSecret, goodSecret)
	assertNoSecret(t, err, goodSecret)

	// Every failure of the other tests, once more in one place.
	for _, tc := range unavailableCases() {
		srv := httptest.NewServer(tc.handler)
		c := &exchange.Client{TokenURL: srv.URL}
		if tc.client != nil {
			tc.client(c)
		}
		_, err := c.Exchange(context.Background(), goodID, goodSecret)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		assertNoSecret(t, err, goodSecret)
		srv.Close()
	}
}

func TestExpiresInForms(t *testing.T) {
	cases := []struct {
		raw  string
		want time.Duration
	}{
		{`3600`, time.Hour},
		{`"3600"`, time.Hour},
		{`2592000`, 30 * 24 * time.Hour},
		{`"2592000"`, 30 * 24 * time.Hour},
		{`3600.5`, time.Hour + 500*time.Millisecond},
		{`"899.5"`, 899*time.Second + 500*time.Millisecond},
		{`0`, 0},
		{`null`, 0},
		{`""`, 0},
		{``, 0}, // absent
	}
	for _, tc := range cases {
		t.Run(tc.raw, func(t *testing.T) {
			body := `{"access_token":"t","token_type":"Bearer"`
			if tc.raw != "" {
				body += `,"expires_in":` + tc.raw
			}
			body += `}`
			srv := httptest.NewServer(respond(200, jsonType, body))
			defer srv.Close()
			tok, err := (&exchange.Client{TokenURL: srv.URL}).Exchange(context.Background(), goodID, goodSecret)
			if err != nil {
				t.Fatal(err)
			}
			if tok.ExpiresIn != tc.want {
				t.Errorf("ExpiresIn = %v, want %v", tok.ExpiresIn, tc.want)
			}
		})
	}
}

func TestResponseVariants(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		want                    exchange.Token
	}{
		{"charset", "application/json; charset=utf-8", `{"access_token":"t","token_type":"Bearer"}`,
			exchange.Token{AccessToken: "t", TokenType: "Bearer"}},
		{"charset upper", "application/json;charset=UTF-8", `{"access_token":"t","token_type":"Bearer"}`,
			exchange.Token{AccessToken: "t", TokenType: "Bearer"}},
		{"lower-case bearer", jsonType, `{"access_token":"t","token_type":"bearer"}`,
			exchange.Token{AccessToken: "t", TokenType: "bearer"}},
		{"upper-case bearer", jsonType, `{"access_token":"t","token_type":"BEARER"}`,
			exchange.Token{AccessToken: "t", TokenType: "BEARER"}},
		{"all members", jsonType, `{"access_token":"t","token_type":"Bearer","expires_in":60,"scope":"a b","refresh_token":"r","id_token":"x"}`,
			exchange.Token{AccessToken: "t", TokenType: "Bearer", ExpiresIn: time.Minute, Scope: "a b", RefreshToken: "r"}},
		{"scope array", jsonType, `{"access_token":"t","token_type":"Bearer","scope":["a","b"]}`,
			exchange.Token{AccessToken: "t", TokenType: "Bearer", Scope: "a b"}},
		{"no content type", "", `{"access_token":"t","token_type":"Bearer"}`,
			exchange.Token{AccessToken: "t", TokenType: "Bearer"}},
		{"64 KiB token", jsonType, `{"access_token":"` + strings.Repeat("a", 64<<10) + `","token_type":"Bearer"}`,
			exchange.Token{AccessToken: strings.Repeat("a", 64<<10), TokenType: "Bearer"}},
		{"201 Created", jsonType, `{"access_token":"t","token_type":"Bearer"}`,
			exchange.Token{AccessToken: "t", TokenType: "Bearer"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status := 200
			if tc.name == "201 Created" {
				status = 201
			}
			srv := httptest.NewServer(respond(status, tc.contentType, tc.body))
			defer srv.Close()
			tok, err := (&exchange.Client{TokenURL: srv.URL}).Exchange(context.Background(), goodID, goodSecret)
			if err != nil {
				t.Fatal(err)
			}
			if *tok != tc.want {
				t.Errorf("token = %+v, want %+v", *tok, tc.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := []exchange.Client{
		{TokenURL: "https://auth.example.com/oauth/v2/token"},
		{TokenURL: "https://auth.example.com/token?api-version=2", Style: exchange.StyleJSON},
		{TokenURL: "http://127.0.0.1:8080/token", Style: exchange.StyleForm},
		{TokenURL: "http://127.1.2.3/token"},
		{TokenURL: "http://[::1]:9000/token"},
		{TokenURL: "http://localhost/token"},
		{TokenURL: "http://LocalHost:1234/token"},
		{TokenURL: "https://auth.example.com/t", Style: exchange.StyleBasic, Scope: "bookings:read reports:read"},
		{TokenURL: "https://auth.example.com/t", Style: exchange.StyleForm, Params: url.Values{"response_type": {"token"}, "resource": {"a", "b"}}},
		{TokenURL: "https://auth.example.com/t", Style: exchange.StyleJSON, Params: url.Values{"response_type": {"token"}}},
		{TokenURL: "https://auth.example.com/t", Timeout: time.Second, MaxBytes: 1},
	}
	for _, c := range good {
		if err := c.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", c, err)
		}
	}
	bad := []exchange.Client{
		{},
		{TokenURL: "auth.example.com/token"},
		{TokenURL: "/token"},
		{TokenURL: "https://"},
		{TokenURL: "http://auth.example.com/token"},
		{TokenURL: "http://10.0.0.1/token"},
		{TokenURL: "http://localhost.example.com/token"},
		{TokenURL: "http://128.0.0.1/token"},
		{TokenURL: "ftp://auth.example.com/token"},
		{TokenURL: "https://user:pass@auth.example.com/token"},
		{TokenURL: "https://user@auth.example.com/token"},
		{TokenURL: "https://auth.example.com/%zz"},
		{TokenURL: "https://auth.example.com/t", Style: "Basic"},
		{TokenURL: "https://auth.example.com/t", Style: "header"},
		{TokenURL: "https://auth.example.com/t", Timeout: -time.Second},
		{TokenURL: "https://auth.example.com/t", MaxBytes: -1},
		{TokenURL: "https://auth.example.com/t", Scope: "a\nb"},
		{TokenURL: "https://auth.example.com/t", Scope: `a"b`},
		{TokenURL: "https://auth.example.com/t", Params: url.Values{"grant_type": {"password"}}},
		{TokenURL: "https://auth.example.com/t", Params: url.Values{"client_secret": {"x"}}},
		{TokenURL: "https://auth.example.com/t", Params: url.Values{"client_id": {"x"}}},
		{TokenURL: "https://auth.example.com/t", Params: url.Values{"scope": {"x"}}},
		{TokenURL: "https://auth.example.com/t", Params: url.Values{"": {"x"}}},
		{TokenURL: "https://auth.example.com/t", Style: exchange.StyleJSON, Params: url.Values{"resource": {"a", "b"}}},
		{TokenURL: "https://auth.example.com/t", Style: exchange.StyleJSON, Params: url.Values{"resource": {}}},
	}
	for _, c := range bad {
		err := c.Validate()
		var ce *exchange.ConfigError
		if !errors.As(err, &ce) || ce.Field == "" || ce.Reason == "" {
			t.Errorf("Validate(%+v) = %v, want a *ConfigError naming a field", c, err)
		}
	}
	var nilClient *exchange.Client
	if err := nilClient.Validate(); err == nil {
		t.Error("Validate of a nil *Client = nil, want an error")
	}
}

func TestConcurrentExchanges(t *testing.T) {
	clients := map[string]string{}
	for i := range 8 {
		clients[fmt.Sprintf("client-%d", i)] = fmt.Sprintf("secret %d/+=", i)
	}
	var servers []*tokenServer
	for _, s := range seeds {
		servers = append(servers, newTokenServer(t, s, clients, ""))
	}
	// One *Client per server, shared by all goroutines on it, so that the
	// race detector sees concurrent use of one value.
	shared := make([]*exchange.Client, len(servers))
	for i, ts := range servers {
		shared[i] = ts.client()
	}
	var wg sync.WaitGroup
	for g := range 24 {
		wg.Go(func() {
			c := shared[g%len(shared)]
			for i := range 8 {
				id := fmt.Sprintf("client-%d", (g+i)%8)
				secret := clients[id]
				if i%3 == 0 {
					secret += "-wrong"
				}
				tok, err := c.Exchange(context.Background(), id, secret)
				switch {
				case i%3 == 0:
					if !errors.Is(err, exchange.ErrRejected) {
						t.Errorf("%s with a wrong secret: %v", id, err)
					}
					assertNoSecret(t, err, secret)
				case err != nil:
					t.Errorf("%s: %v", id, err)
				case tok.AccessToken != accessTokenFor(id):
					t.Errorf("%s got the token of another client: %q", id, tok.AccessToken)
				}
			}
		})
	}
	wg.Wait()
}

type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestHTTPClientTransportUsedJarIgnored(t *testing.T) {
	var sawCookie atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Cookies()) > 0 {
			sawCookie.Store(true)
		}
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "from-" + r.PostFormValue("grant_type")})
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "access_token": "t"})
	}))
	defer srv.Close()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	rt := &countingTransport{}
	c := &exchange.Client{TokenURL: srv.URL, HTTPClient: &http.Client{Transport: rt, Jar: jar}}
	for range 2 {
		if _, err := c.Exchange(context.Background(), goodID, goodSecret); err != nil {
			t.Fatal(err)
		}
	}
	if rt.n.Load() != 2 {
		t.Errorf("HTTPClient's transport carried %d requests, want 2", rt.n.Load())
	}
	if sawCookie.Load() {
		t.Error("a cookie from one exchange was sent with the next")
	}
}

// TestValidateNamesParamsSafely: a parameter name is named in the error's
// field only when it is plain; another is quoted, cut short, in the reason,
// so that a line break in it cannot forge a log line.
func TestValidateNamesParamsSafely(t *testing.T) {
	for _, tt := range []struct {
		name, field string
	}{
		{"resource", "Params.resource"},
		{"x\nlevel=ERROR msg=forged" + strings.Repeat("y", 300), "Params"},
	} {
		c := exchange.Client{TokenURL: "https://auth.example.com/t", Style: exchange.StyleJSON, Params: url.Values{tt.name: {"1", "2"}}}
		var ce *exchange.ConfigError
		if err := c.Validate(); !errors.As(err, &ce) || ce.Field != tt.field || strings.ContainsAny(ce.Error(), "\n") || len(ce.Error()) > 200 {
			t.Errorf("Validate with parameter %.20q = %v, want field %s, one short line", tt.name, err, tt.field)
		}
	}
}
