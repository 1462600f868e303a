package forwardauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
)

// middlewareAPI is the API of issueRoutes protected by the net/http
// middleware: what forward auth must answer like.
func middlewareAPI(authn *dualauth.Authenticator) http.Handler {
	kw := middleware.New(authn, middleware.Options{})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	mux := http.NewServeMux()
	for _, rt := range issueRoutes {
		switch {
		case rt.Public:
			mux.Handle(rt.Pattern, ok)
		case rt.Require.IsZero():
			mux.Handle(rt.Pattern, kw.Authenticate(ok))
		default:
			mux.Handle(rt.Pattern, kw.Require(rt.Require)(ok))
		}
	}
	return mux
}

// TestSameAnswersAsMiddleware sends the same requests to the middleware and,
// described in each proxy's convention, to forward auth: the status,
// challenges, Retry-After and body must be the same.
func TestSameAnswersAsMiddleware(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	read := iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	tests := []struct {
		name         string
		method, path string
		header       http.Header
		status       int
	}{
		{"good token", "GET", "/v1/bookings?page=2", hdr("Authorization", "Bearer "+read), 200},
		{"good client headers", "GET", "/v1/bookings", hdr("Client_id", "acme", "Client_secret", "acme-secret"), 200},
		{"HEAD is GET", "HEAD", "/v1/bookings", hdr("Authorization", "Bearer "+read), 200},
		{"any of", "GET", "/v1/search", hdr("Client_id", "acme", "Client_secret", "acme-secret"), 200},
		{"public", "GET", "/public/x", nil, 200},
		{"no credentials", "GET", "/v1/whoami", nil, 401},
		{"forged token", "GET", "/v1/bookings", hdr("Authorization", "Bearer "+iss.ForgedToken(t, nil)), 401},
		{"expired token", "GET", "/v1/bookings", hdr("Authorization", "Bearer "+iss.ExpiredToken(t, nil)), 401},
		{"not a JWT", "GET", "/v1/bookings", hdr("Authorization", "Bearer abc"), 401},
		{"missing scope", "POST", "/v1/bookings", hdr("Authorization", "Bearer "+read), 403},
		{"none of the scopes", "GET", "/v1/search", hdr("Authorization", "Bearer "+iss.Token(t, jwt.MapClaims{"scope": "x"})), 403},
		{"client lacks scope", "POST", "/v1/bookings", hdr("Client_id", "acme", "Client_secret", "acme-secret"), 403},
		{"wrong secret", "GET", "/v1/bookings", hdr("Client_id", "globex", "Client_secret", "nope"), 401},
		{"two kinds of credentials", "GET", "/v1/bookings", hdr("Authorization", "Bearer "+read, "Client_id", "acme", "Client_secret", "acme-secret"), 400},
		{"half a pair", "GET", "/v1/bookings", hdr("Client_id", "acme"), 400},
		{"two Authorization headers", "GET", "/v1/bookings", hdr("Authorization", "Bearer "+read, "Authorization", "Bearer "+read), 400},
		{"access_token in the query", "GET", "/v1/bookings?access_token=" + read, nil, 400},
		{"HEAD refused", "HEAD", "/v1/bookings", nil, 401},
	}
	type answer struct {
		status     int
		challenges string
		retry      string
		body       string
	}
	answerOf := func(w *httptest.ResponseRecorder) answer {
		return answer{w.Code, strings.Join(w.Header().Values("WWW-Authenticate"), ", "), w.Header().Get("Retry-After"), w.Body.String()}
	}
	api := middlewareAPI(dualAuthenticator(t, iss, nil))
	h := newHandler(t, dualAuthenticator(t, iss, nil), forwardauth.Config{Routes: issueRoutes})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.path, nil)
			for k, v := range tt.header {
				r.Header[k] = v
			}
			mw := httptest.NewRecorder()
			api.ServeHTTP(mw, r)
			want := answerOf(mw)
			if want.status != tt.status {
				t.Fatalf("the middleware answered %d; the test expects %d", want.status, tt.status)
			}
			for _, proxy := range []struct {
				name            string
				method, target  string
				describe        http.Header
				joinsChallenges bool
			}{
				{"traefik", "GET", "/auth", hdr("X-Forwarded-Method", tt.method, "X-Forwarded-Uri", tt.path, "X-Forwarded-Host", "api.example"), false},
				{"nginx", "GET", "/auth", hdr("X-Original-Method", tt.method, "X-Original-Uri", tt.path), true},
				{"envoy", tt.method, "/ext_authz" + tt.path, nil, false},
			} {
				header := tt.header.Clone()
				if header == nil {
					header = http.Header{}
				}
				for k, v := range proxy.describe {
					header[k] = v
				}
				w := ask(h, proxy.method, proxy.target, header)
				got := answerOf(w)
				if tt.method == "HEAD" {
					// The middleware sends no body; forward auth does when
					// the auth request is a GET, for the proxy to pass on.
					got.body, want.body = "", ""
				}
				if got != want {
					t.Errorf("%s: got %+v; want %+v", proxy.name, got, want)
				}
				if n := len(w.Header().Values("WWW-Authenticate")); proxy.joinsChallenges && n > 1 {
					t.Errorf("%s: %d WWW-Authenticate headers; want them joined in one", proxy.name, n)
				}
				if b := w.Header().Get(forwardauth.HeaderBody); proxy.name == "nginx" && tt.status != 200 && b != mw.Body.String() && tt.method != "HEAD" {
					t.Errorf("%s: %s %q; want the body %q", proxy.name, forwardauth.HeaderBody, b, mw.Body.String())
				} else if proxy.name != "nginx" && b != "" {
					t.Errorf("%s: %s set", proxy.name, forwardauth.HeaderBody)
				}
				if got.status != 200 && w.Header().Get("Content-Length") != strconv.Itoa(len(mw.Body.String())) && tt.method != "HEAD" {
					t.Errorf("%s: Content-Length %q for a body of %d bytes", proxy.name, w.Header().Get("Content-Length"), mw.Body.Len())
				}
			}
		})
	}
}

// TestIdentityHeaders: an allowed answer carries every identity header,
// empty where the caller has nothing (and all empty on public routes), so
// that a proxy copying them overwrites what the client sent.
func TestIdentityHeaders(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	authn := dualAuthenticator(t, iss, nil)
	custom := forwardauth.IdentityHeaders{Subject: "X-User", ClientID: "X-Client", Scopes: "X-Scopes", Method: "X-How", Issuer: "X-Iss"}
	tests := []struct {
		name    string
		headers forwardauth.IdentityHeaders
		uri     string
		header  http.Header
		want    map[string]string
	}{
		{"token", forwardauth.IdentityHeaders{}, "/v1/whoami",
			hdr("Authorization", "Bearer "+iss.Token(t, jwt.MapClaims{"sub": "alice", "client_id": "web", "scope": "reports:read bookings:read"})),
			map[string]string{"X-Auth-Subject": "alice", "X-Auth-Client-Id": "web", "X-Auth-Scopes": "bookings:read reports:read", "X-Auth-Method": "jwt", "X-Auth-Issuer": iss.URL}},
		{"client credentials", forwardauth.IdentityHeaders{}, "/v1/whoami", hdr("Client_id", "globex", "Client_secret", "globex-secret"),
			map[string]string{"X-Auth-Subject": "globex", "X-Auth-Client-Id": "globex", "X-Auth-Scopes": "bookings:create bookings:read", "X-Auth-Method": "credentials", "X-Auth-Issuer": ""}},
		{"token without scopes or client id", custom, "/v1/whoami",
			hdr("Authorization", "Bearer "+iss.Token(t, jwt.MapClaims{"sub": "bob", "client_id": nil})),
			map[string]string{"X-User": "bob", "X-Client": "", "X-Scopes": "", "X-How": "jwt", "X-Iss": iss.URL}},
		{"public", custom, "/public/a", hdr("Authorization", "Bearer whatever"),
			map[string]string{"X-User": "", "X-Client": "", "X-Scopes": "", "X-How": "", "X-Iss": ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHandler(t, authn, forwardauth.Config{Routes: issueRoutes, IdentityHeaders: tt.headers})
			header := tt.header.Clone()
			header.Set("X-Forwarded-Method", "GET")
			header.Set("X-Forwarded-Uri", tt.uri)
			w := ask(h, "GET", "/auth", header)
			if w.Code != 200 || w.Body.Len() != 0 {
				t.Fatalf("%d %q; want 200 and no body", w.Code, w.Body.String())
			}
			for name, want := range tt.want {
				if v := w.Header().Values(name); len(v) != 1 || v[0] != want {
					t.Errorf("%s = %q; want exactly %q", name, v, want)
				}
			}
		})
	}
}

// TestDescriptions: how the proxy describes the original request, and
// what happens when it does so wrong.
func TestDescriptions(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	token := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	h := newHandler(t, dualAuthenticator(t, iss, nil), forwardauth.Config{Routes: append([]forwardauth.Route{
		{Pattern: "GET admin.example/v1/bookings", Require: scopes.All("admin")},
	}, issueRoutes...)})
	tests := []struct {
		name     string
		method   string
		target   string
		remote   string
		header   http.Header
		status   int
		code     string
		describe string // part of the description
	}{
		{"traefik", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "Authorization", token), 200, "", ""},
		{"nginx", "GET", "/auth", "", hdr("X-Original-Method", "GET", "X-Original-Uri", "/v1/bookings", "Authorization", token), 200, "", ""},
		{"auth request by POST", "POST", "/auth?x=1", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "Authorization", token), 200, "", ""},
		{"envoy, with a query", "GET", "/ext_authz/v1/bookings?page=1", "", hdr("Authorization", token), 200, "", ""},
		{"envoy, method is the request's", "POST", "/ext_authz/v1/bookings", "", hdr("Authorization", token), 403, "insufficient_scope", ""},
		{"host from X-Forwarded-Host", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "admin.example", "Authorization", token), 403, "insufficient_scope", ""},
		{"host with a port", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "admin.example:8443", "Authorization", token), 403, "insufficient_scope", ""},
		{"host of an absolute URI", "GET", "/auth", "", hdr("X-Original-Method", "GET", "X-Original-Uri", "http://admin.example/v1/bookings", "Authorization", token), 403, "insufficient_scope", ""},
		{"envoy host", "GET", "http://admin.example/ext_authz/v1/bookings", "", hdr("Authorization", token), 403, "insufficient_scope", ""},
		{"both conventions", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/", "X-Original-Method", "GET", "X-Original-Uri", "/v1/bookings"), 400, "invalid_request", "both"},
		{"half a convention", "GET", "/auth", "", hdr("X-Forwarded-Uri", "/public/"), 400, "invalid_request", "X-Forwarded-Method"},
		{"two URIs", "GET", "/auth", "", hdr("X-Original-Method", "GET", "X-Original-Uri", "/public/", "X-Original-Uri", "/v1/bookings"), 400, "invalid_request", "X-Original-URI"},
		{"two hosts", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/", "X-Forwarded-Host", "a, b"), 400, "invalid_request", "X-Forwarded-Host"},
		{"host with userinfo", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "alice@admin.example", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"host with a path", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "admin.example/x", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"percent-encoded host", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "%61dmin.example", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"port above 65535", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "admin.example:65536", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"port not a number", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "admin.example:https", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"empty port", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "admin.example:", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"IPv6 zone", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "[fe80::1%25eth0]:443", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"IPv6 unbracketed with a port", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "2001:db8::1:443", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"absolute URI, port above 65535", "GET", "/auth", "", hdr("X-Original-Method", "GET", "X-Original-Uri", "http://admin.example:99999/v1/bookings", "Authorization", token), 400, "invalid_request", "host is malformed"},
		{"envoy host, port above 65535", "GET", "http://admin.example:99999/ext_authz/v1/bookings", "", hdr("Authorization", token), 400, "invalid_request", "host is malformed"},
		{"IPv6 host with a port", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "[2001:db8::1]:8443", "Authorization", token), 200, "", ""},
		{"host with a trailing dot", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "X-Forwarded-Host", "admin.example.", "Authorization", token), 403, "insufficient_scope", ""},
		{"bad method", "GET", "/auth", "", hdr("X-Forwarded-Method", "G(T", "X-Forwarded-Uri", "/public/"), 400, "invalid_request", "method"},
		{"relative URI", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "public/"), 400, "invalid_request", "URI"},
		{"authority-looking path", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "//evil.example/public/"), 400, "invalid_request", "canonical"},
		{"asterisk", "GET", "/auth", "", hdr("X-Forwarded-Method", "OPTIONS", "X-Forwarded-Uri", "*"), 400, "invalid_request", ""},
		{"fragment", "GET", "/auth", "", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/#x"), 400, "invalid_request", "URI"},
		{"no description", "GET", "/auth", "", hdr("Authorization", token), 500, "server_error", "did not say"},
		{"untrusted peer", "GET", "/auth", "192.0.2.1:4000", hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/"), 403, "access_denied", "trusted proxy"},
		{"untrusted peer, envoy", "GET", "/ext_authz/public/", "[2001:db8::1]:4000", nil, 403, "access_denied", "trusted proxy"},
		{"IPv6 loopback peer", "GET", "/ext_authz/public/", "[::1]:4000", nil, 200, "", ""},
		{"IPv4-mapped loopback peer", "GET", "/ext_authz/public/", "[::ffff:127.0.0.1]:4000", nil, 200, "", ""},
		{"unmatched", "GET", "/ext_authz/v2/x", "", hdr("Authorization", token), 403, "access_denied", "no route"},
		{"method not routed", "DELETE", "/ext_authz/v1/bookings", "", hdr("Authorization", token), 403, "access_denied", "no route"},
		{"trailing slash is another path", "GET", "/ext_authz/public", "", nil, 403, "access_denied", "no route"},
		{"envoy prefix alone", "GET", "/ext_authz", "", nil, 404, "", ""},
		{"another path", "GET", "/other", "", nil, 404, "", ""},
		{"metrics without a hook", "GET", "/metrics", "", nil, 404, "", ""},
		{"health by POST", "POST", "/healthz", "", nil, 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, tt.target, nil)
			r.RemoteAddr = "127.0.0.1:50000"
			if tt.remote != "" {
				r.RemoteAddr = tt.remote
			}
			for k, v := range tt.header {
				r.Header[k] = v
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("%d %s; want %d", w.Code, w.Body.String(), tt.status)
			}
			if tt.code == "" {
				return
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", w.Body.String(), err)
			}
			if body["error"] != tt.code || !strings.Contains(body["error_description"], tt.describe) {
				t.Errorf("body %v; want error %q with %q", body, tt.code, tt.describe)
			}
			if (tt.code == "access_denied" || tt.code == "server_error") && w.Header().Get("WWW-Authenticate") != "" {
				t.Errorf("WWW-Authenticate %q; want none: no credentials change this answer", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
}

// TestCanonicalPaths: a path that the routes and the upstream could read
// differently is refused, whatever route it seems to match.
func TestCanonicalPaths(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	h := newHandler(t, dualAuthenticator(t, iss, nil), forwardauth.Config{Routes: issueRoutes})
	for path, ok := range map[string]bool{
		"/public/":                true,
		"/public/a/b.png?x=../..": true,  // the query is no path
		"/public/a%2Fb":           false, // one segment to ServeMux, two to servers that decode first
		"/public/%7Euser":         true,
		"/public/a;v=1":           false, // path parameters: Java servers strip them before routing
		"/admin%2Fusers":          false,
		"/admin%2fusers":          false,
		"/admin%5Cusers":          false,
		"/admin;x/users":          false,
		"/public/..":              false,
		"/public/../v1/bookings":  false,
		"/public/./x":             false,
		"/public/%2e%2e/x":        false,
		"/public/%2E%2E/x":        false,
		"/public/.%2e/x":          false,
		"/public/%2e/x":           false,
		"/public/..;/x":           false,
		"/public/.;x=1/x":         false,
		"/public//x":              false,
		"/public/%2F/x":           false,
		"/public/a%2F..%2Fx":      false,
		"/public/a\\..\\x":        false,
		"/public/a%5c..%5cx":      false,
		"/public/a%00":            false,
		"/public/a%0d%0a":         false,
		"/public/a%09":            false,
	} {
		for _, describe := range []http.Header{
			hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", path),
			hdr("X-Original-Method", "GET", "X-Original-Uri", path),
		} {
			w := ask(h, "GET", "/auth", describe)
			if got := w.Code == 200; got != ok {
				t.Errorf("%s (%v): %d %s; want allowed %v", path, describe, w.Code, w.Body.String(), ok)
			}
		}
	}
}

// TestFirstMatchWins: routes are tried in order.
func TestFirstMatchWins(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	authn := dualAuthenticator(t, iss, nil)
	h := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "GET /v1/items/secret", Require: scopes.All("admin")},
		{Pattern: "GET /v1/items/{id}", Public: true},
		{Pattern: "/v1/items/{id}", Require: scopes.All("items:write")},
		{Pattern: "GET /v1/items/{id}/history"},
	}, Unmatched: forwardauth.UnmatchedAuthenticate})
	token := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "items:write"})
	for _, tt := range []struct {
		method, path, auth string
		status             int
	}{
		{"GET", "/v1/items/secret", token, 403},
		{"GET", "/v1/items/7", "", 200},
		{"HEAD", "/v1/items/7", "", 200},
		{"PUT", "/v1/items/7", "", 401},
		{"PUT", "/v1/items/7", token, 200},
		{"GET", "/v1/items/7/history", "", 401},
		{"GET", "/v1/items/7/history", token, 200},
		{"GET", "/elsewhere", "", 401}, // unmatched: authenticate
		{"GET", "/elsewhere", token, 200},
	} {
		header := hdr("X-Forwarded-Method", tt.method, "X-Forwarded-Uri", tt.path)
		if tt.auth != "" {
			header.Set("Authorization", tt.auth)
		}
		if w := ask(h, "GET", "/auth", header); w.Code != tt.status {
			t.Errorf("%s %s (auth %v): %d %s; want %d", tt.method, tt.path, tt.auth != "", w.Code, w.Body.String(), tt.status)
		}
	}
}

// TestUnsafeClaims: a subject that cannot be a header value is refused
// rather than forwarded.
func TestUnsafeClaims(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	h := newHandler(t, dualAuthenticator(t, iss, nil), forwardauth.Config{Routes: []forwardauth.Route{{Pattern: "/v1/"}}})
	for _, sub := range []string{"alice\r\nX-Auth-Scopes: admin", "a\x00b", "a\x7fb"} {
		header := hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/x", "Authorization", "Bearer "+iss.Token(t, jwt.MapClaims{"sub": sub}))
		w := ask(h, "GET", "/auth", header)
		if w.Code != 401 || !strings.Contains(w.Body.String(), "invalid_token") {
			t.Errorf("subject %q: %d %s; want 401 invalid_token", sub, w.Code, w.Body.String())
		}
	}
	header := hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/x", "Authorization", "Bearer "+iss.Token(t, jwt.MapClaims{"sub": "zoë\tx"}))
	if w := ask(h, "GET", "/auth", header); w.Code != 200 || w.Header().Get("X-Auth-Subject") != "zoë\tx" {
		t.Errorf("UTF-8 subject: %d %q", w.Code, w.Header().Get("X-Auth-Subject"))
	}
}

// TestThrottleCountsTheForwardedClient: failures count against the client
// address the trusted proxy forwards, not against the proxy.
func TestThrottleCountsTheForwardedClient(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	h := newHandler(t, dualAuthenticator(t, iss, nil), forwardauth.Config{Routes: issueRoutes})
	guess := func(xff ...string) int {
		header := hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/v1/bookings", "Client_id", "acme", "Client_secret", "guess")
		for _, v := range xff {
			header.Add("X-Forwarded-For", v)
		}
		return ask(h, "GET", "/auth", header).Code
	}
	for i := range 3 {
		if code := guess("192.0.2.7"); code != 401 {
			t.Fatalf("guess %d: %d; want 401", i+1, code)
		}
	}
	for name, xff := range map[string][]string{
		"the guesser":                           {"192.0.2.7"},
		"the guesser, inventing a hop":          {"203.0.113.9, 192.0.2.7"},
		"the guesser, a hop in another header":  {"203.0.113.9", "192.0.2.7"},
		"the guesser behind a trusted proxy":    {"192.0.2.7, 127.0.0.5"},
		"the guesser as an IPv4-mapped address": {"::ffff:192.0.2.7"},
	} {
		if code := guess(xff...); code != 429 {
			t.Errorf("%s: %d; want 429", name, code)
		}
	}
	for name, xff := range map[string][]string{
		"another client":                      {"192.0.2.8"},
		"another client naming the guesser":   {"192.0.2.7, 192.0.2.9"},
		"no X-Forwarded-For: the proxy's own": nil,
	} {
		if code := guess(xff...); code != 401 {
			t.Errorf("%s: %d; want 401", name, code)
		}
	}
}

// TestHealthAndMetrics: /healthz reports the key sets; /metrics serves
// the hook.
func TestHealthAndMetrics(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	h, err := forwardauth.New(dualAuthenticator(t, iss, nil), forwardauth.Config{Routes: issueRoutes}, forwardauth.Options{
		Metrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("kw_requests 1\n")) }),
	})
	if err != nil {
		t.Fatal(err)
	}
	w := ask(h, "GET", "/healthz", nil)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"status":"ok"`) || !strings.Contains(w.Body.String(), `"healthy":true`) {
		t.Errorf("/healthz: %d %s", w.Code, w.Body.String())
	}
	if w := ask(h, "GET", "/metrics", nil); w.Code != 200 || w.Body.String() != "kw_requests 1\n" {
		t.Errorf("/metrics: %d %q", w.Code, w.Body.String())
	}

	// An issuer whose key server is down holds no keys: 503.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	keys, err := jwks.NewRemote(ctx, dead.URL+"/jwks.json", jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	authn, err := keywardtest.Config{JWT: jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: "https://down.example", Audiences: []string{"a"}, Keys: keys}}}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	w = ask(newHandler(t, authn, forwardauth.Config{Routes: issueRoutes}), "GET", "/healthz", nil)
	if w.Code != 503 || !strings.Contains(w.Body.String(), `"no_keys"`) || strings.Contains(w.Body.String(), "127.0.0.1") {
		t.Errorf("/healthz with no keys: %d %s; want 503 no_keys without the key source", w.Code, w.Body.String())
	}
}

// TestUpstreamReadings: the review's bypasses. With a read-only token, a
// request the upstream would serve as the create, admin or host-scoped route
// is never let through by a looser route: loose spellings of the path
// (case, trailing slash, suffix), a lower-case method, a method-override
// header, an upper-case or dotted host. Canonical requests still pass.
func TestUpstreamReadings(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	routes := []forwardauth.Route{
		{Pattern: "admin.example.com/", Require: scopes.All("admin")},
		{Pattern: "/admin/", Require: scopes.All("admin")},
		{Pattern: "POST /v1/bookings", Require: scopes.All("bookings:create")},
		{Pattern: "/v1/", Require: scopes.All("bookings:read")},
		{Pattern: "/public/", Public: true},
	}
	h := newHandler(t, dualAuthenticator(t, iss, nil), forwardauth.Config{Routes: routes, Unmatched: forwardauth.UnmatchedAuthenticate})
	reader := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	for _, tc := range []struct {
		method, uri, host string
		extra             []string
		want              int
	}{
		{"GET", "/v1/reports", "api.example.com", nil, 200},
		// "/v1/" names no method: a server routing without it would serve
		// GET /v1/bookings as POST /v1/bookings (see TestMethodBlindReadings).
		{"GET", "/v1/bookings", "api.example.com", nil, 400},
		{"GET", "/v1/Bookings/ABC", "api.example.com", nil, 200},
		{"POST", "/v1/bookings", "api.example.com", nil, 403},
		{"POST", "/v1/Bookings", "api.example.com", nil, 400},
		{"POST", "/v1/bookings/", "api.example.com", nil, 400},
		{"POST", "/v1/bookings.json", "api.example.com", nil, 400},
		{"GET", "/ADMIN/users", "api.example.com", nil, 400},
		{"GET", "/public/", "api.example.com", nil, 200},
		{"post", "/v1/bookings", "api.example.com", nil, 400},
		{"POST", "/v1/bookings/1", "api.example.com", []string{"X-Http-Method-Override", "DELETE"}, 400},
		{"GET", "/x", "ADMIN.example.com", nil, 403},
		{"GET", "/x", "admin.example.com.", nil, 403},
		{"GET", "/x", "admin.example.com.:443", nil, 403},
	} {
		header := hdr(append([]string{"X-Forwarded-Method", tc.method, "X-Forwarded-Uri", tc.uri, "X-Forwarded-Host", tc.host, "Authorization", reader}, tc.extra...)...)
		if w := ask(h, "GET", "/auth", header); w.Code != tc.want {
			t.Errorf("%s %s (host %s, %v): %d %s; want %d", tc.method, tc.uri, tc.host, tc.extra, w.Code, w.Body.String(), tc.want)
		}
	}
}
