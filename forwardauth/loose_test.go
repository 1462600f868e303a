package forwardauth_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

// TestLooseReadingsAskNoLess: issue 14 item 1. An upstream may serve a
// path as another spelling of it (case-blind, with or without a trailing
// slash, without a suffix, any of these at once); when such a reading
// falls to a route that asks more than the route of the path as sent —
// authentication at all, or more scopes — the request is refused (400),
// whatever credentials it carries. Spellings that cannot be read two ways
// pass as before.
func TestLooseReadingsAskNoLess(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	authn := dualAuthenticator(t, iss, nil)
	none := ""
	reader := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	billing := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "billing:read"})
	admin := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "admin"})
	both := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "admin bookings:read"})

	// The first example: an "any caller" route and a scoped one
	// under a public catch-all.
	account := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "GET /v1/account"},
		{Pattern: "GET /v1/invoices", Require: scopes.All("billing:read")},
		{Pattern: "GET /v1/keys"},
		{Pattern: "GET api.example.com/v1/profile"},
		{Pattern: "/", Public: true},
	}})
	// The second: a scoped subtree under an "any caller" catch-all.
	adminTree := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "/admin/", Require: scopes.All("admin")},
		{Pattern: "GET /healthz", Public: true},
		{Pattern: "/"},
	}})
	// Public subtrees under an authenticating default: a subtree's root
	// without its slash is the subtree (a ServeMux redirects it there).
	publicTree := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "/public/", Public: true},
		{Pattern: "GET /v1/Users/{id}", Require: scopes.All("admin")},
		{Pattern: "/v1/", Require: scopes.All("bookings:read")},
	}, Unmatched: forwardauth.UnmatchedAuthenticate})

	// Case mappings beyond simple folding: Java's equalsIgnoreCase (ı and
	// İ are i), and upper-casing whole strings (ß is SS, ﬁ is FI).
	unicodeCase := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "/admin/", Require: scopes.All("admin")},
		{Pattern: "GET /v1/invoices", Require: scopes.All("billing:read")},
		{Pattern: "/files/", Require: scopes.All("admin")},
		{Pattern: "GET /stra\u00dfe", Require: scopes.All("admin")},
		{Pattern: "/men\u00fc/", Require: scopes.All("admin")},
		{Pattern: "/", Public: true},
	}})
	tests := []struct {
		name   string
		h      *forwardauth.Handler
		method string
		uri    string
		host   string
		auth   string
		want   int
	}{
		// The issue: 401 for the canonical path, never 200 for a loose one.
		{"canonical any-caller path", account, "GET", "/v1/account", "", none, 401},
		{"canonical, with a token", account, "GET", "/v1/account", "", reader, 200},
		{"mixed case", account, "GET", "/v1/Account", "", none, 400},
		{"upper case", account, "GET", "/V1/ACCOUNT", "", none, 400},
		{"trailing slash", account, "GET", "/v1/account/", "", none, 400},
		{"suffix", account, "GET", "/v1/account.json", "", none, 400},
		{"scoped route, mixed case", account, "GET", "/v1/Invoices", "", none, 400},
		{"scoped route, mixed case, with its scope", account, "GET", "/v1/Invoices", "", billing, 400},
		{"loose spelling, with a token", account, "GET", "/v1/Account", "", reader, 400},
		// Combinations, and what an attacker would try next.
		{"upper case, suffix and slash", account, "GET", "/V1/ACCOUNT.JSON/", "", none, 400},
		{"mixed-case suffix", account, "GET", "/v1/account.Json", "", none, 400},
		{"two suffixes", account, "GET", "/v1/account.tar.gz", "", none, 400},
		{"an empty suffix", account, "GET", "/v1/account.", "", none, 400},
		{"percent-encoded letter", account, "GET", "/v1/%41ccount", "", none, 400},
		{"percent-encoded lower-case letter", account, "GET", "/v1/%61ccount", "", none, 401},
		{"percent-encoded dot of a suffix", account, "GET", "/v1/account%2ejson", "", none, 400},
		{"Kelvin sign, a k to case-blind servers", account, "GET", "/v1/%E2%84%AAeys", "", none, 400},
		{"long s, an s to case-blind servers", account, "GET", "/v1/invoice%C5%BF", "", none, 400},
		{"folds to no route", account, "GET", "/v1/%E2%84%AAey", "", none, 200},
		{"trailing space", account, "GET", "/v1/account%20", "", none, 400},
		{"spaces around a segment", account, "GET", "/v1/%20account%20/", "", none, 400},
		{"a space inside a segment", account, "GET", "/v1/acc%20ount", "", none, 200},
		{"HEAD as GET", account, "HEAD", "/v1/Account", "", none, 400},
		{"host route, mixed case", account, "GET", "/v1/Profile", "api.example.com", none, 400},
		{"host route, upper-case host", account, "GET", "/v1/profile/", "API.Example.COM", none, 400},
		{"host route on another host", account, "GET", "/v1/Profile", "www.example.com", none, 200},
		{"double slash", account, "GET", "/v1//account", "", none, 400},
		{"dot segment", account, "GET", "/v1/./account", "", none, 400},
		{"path parameter", account, "GET", "/v1/account;a=b", "", none, 400},
		{"public path", account, "GET", "/", "", none, 200},
		{"public page with a suffix", account, "GET", "/index.html", "", none, 200},
		{"public path elsewhere", account, "GET", "/v2/Account/", "", none, 200},
		{"public path under the route's name", account, "GET", "/v1/account/x", "", none, 200},

		// The second example, with a read-only token.
		{"admin without its slash", adminTree, "GET", "/admin", "", reader, 400},
		{"admin, mixed case", adminTree, "GET", "/Admin", "", reader, 400},
		{"admin with a suffix", adminTree, "GET", "/admin.json", "", reader, 400},
		{"admin subtree, upper case", adminTree, "GET", "/ADMIN/users", "", reader, 400},
		{"admin subtree, canonical", adminTree, "GET", "/admin/users", "", reader, 403},
		{"admin subtree, with the scope", adminTree, "GET", "/admin/users", "", admin, 200},
		{"admin root, with the scope", adminTree, "GET", "/admin/", "", admin, 200},
		{"another path", adminTree, "GET", "/reports", "", reader, 200},
		{"another path with a suffix", adminTree, "GET", "/reports.json", "", reader, 200},
		{"no caller", adminTree, "GET", "/Admin", "", none, 400},
		{"public route under the catch-all", adminTree, "GET", "/healthz", "", none, 200},
		{"its loose spelling falls to the catch-all", adminTree, "GET", "/Healthz/", "", none, 401},

		{"public subtree root", publicTree, "GET", "/public/", "", none, 200},
		{"public file with a suffix", publicTree, "GET", "/public/app.css", "", none, 200},
		{"public subtree root without its slash", publicTree, "GET", "/public", "", none, 401},
		{"public subtree, upper case", publicTree, "GET", "/PUBLIC/app.css", "", none, 401},
		{"scoped route in camel case", publicTree, "GET", "/v1/Users/7", "", both, 200},
		{"a broader route behind it asks for other scopes", publicTree, "GET", "/v1/Users/7", "", admin, 200},
		{"unlisted path read as a scoped subtree", publicTree, "GET", "/V1/bookings", "", reader, 400},
		{"scoped route, lower case", publicTree, "GET", "/v1/users/7", "", reader, 400},
		{"scoped route, upper case", publicTree, "GET", "/V1/USERS/7", "", reader, 400},
		{"subtree, canonical", publicTree, "GET", "/v1/bookings", "", reader, 200},
		{"subtree, with a suffix", publicTree, "GET", "/v1/bookings.json", "", reader, 200},

		{"dotless i, an i to Java", unicodeCase, "GET", "/adm%C4%B1n/secret", "", none, 400},
		{"non-ASCII route, its own spelling", unicodeCase, "GET", "/men%C3%BC/x", "", none, 401},
		{"non-ASCII route, capital escape", unicodeCase, "GET", "/MEN%C3%9C/x", "", none, 400},
		{"non-ASCII route, lower-case escape hex", unicodeCase, "GET", "/men%c3%bc/x", "", none, 401},
		{"dotted capital I, an i to Java", unicodeCase, "GET", "/ADM%C4%B0N/SECRET", "", none, 400},
		{"dotless i in a method route", unicodeCase, "GET", "/v1/%C4%B1nvoices", "", none, 400},
		{"dotless i, with a token", unicodeCase, "GET", "/adm%C4%B1n/secret", "", reader, 400},
		{"fi ligature, FI upper-cased", unicodeCase, "GET", "/%EF%AC%81les/report", "", none, 400},
		{"sharp s spelled SS", unicodeCase, "GET", "/STRASSE", "", none, 400},
		{"sharp s as the route has it", unicodeCase, "GET", "/stra%C3%9Fe", "", none, 401},
		{"capital sharp s", unicodeCase, "GET", "/stra%E1%BA%9Ee", "", none, 400},
		{"a letter no route has", unicodeCase, "GET", "/caf%C3%A9", "", none, 200},
		{"dotless i elsewhere", unicodeCase, "GET", "/l%C4%B1st", "", none, 200},
		{"canonical admin path", unicodeCase, "GET", "/admin/secret", "", none, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := hdr("X-Forwarded-Method", tt.method, "X-Forwarded-Uri", tt.uri)
			if tt.host != "" {
				header.Set("X-Forwarded-Host", tt.host)
			}
			if tt.auth != "" {
				header.Set("Authorization", tt.auth)
			}
			w := ask(tt.h, "GET", "/auth", header)
			if w.Code != tt.want {
				t.Fatalf("%s %s (host %q): %d %s; want %d", tt.method, tt.uri, tt.host, w.Code, w.Body.String(), tt.want)
			}
			// The same through Envoy's check.
			r := http.Header{}
			if tt.auth != "" {
				r.Set("Authorization", tt.auth)
			}
			target := "/ext_authz" + tt.uri
			if tt.host != "" {
				target = "http://" + tt.host + target
			}
			if w := ask(tt.h, tt.method, target, r); w.Code != tt.want {
				t.Errorf("envoy: %s %s: %d %s; want %d", tt.method, target, w.Code, w.Body.String(), tt.want)
			}
		})
	}
}

// TestMethodBlindReadings: servers that route without the method (Spring's
// @RequestMapping without one, Express's app.all, the JDK's HttpServer)
// serve a path alike under every method. Where the route that decides a
// request names no method, or none does (unmatched: authenticate), and the
// same path, or a loose spelling of it, under a method some route names
// falls to a route that asks more, the request is refused (400). Between
// routes that both name a method nothing changes.
func TestMethodBlindReadings(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	authn := dualAuthenticator(t, iss, nil)
	none := ""
	reader := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	creator := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:create"})
	account := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "GET /v1/account"}, // any caller
		{Pattern: "GET /v1/bookings", Require: scopes.All("bookings:read")},
		{Pattern: "POST /v1/bookings", Require: scopes.All("bookings:create")},
		{Pattern: "GET /v1/status", Public: true},
		{Pattern: "/", Public: true},
	}})
	unmatched := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "GET /v1/reports", Require: scopes.All("reports:read")},
		{Pattern: "GET /v1/whoami"},
	}, Unmatched: forwardauth.UnmatchedAuthenticate})
	preflightPass := newHandler(t, authn, forwardauth.Config{Routes: []forwardauth.Route{
		{Pattern: "GET /v1/account"},
		{Pattern: "/", Public: true},
	}, PassCORSPreflight: true})
	preflight := []string{"Origin", "https://app.example", "Access-Control-Request-Method", "GET"}
	tests := []struct {
		name   string
		h      *forwardauth.Handler
		method string
		uri    string
		auth   string
		header []string
		want   int
	}{
		{"the route's own method", account, "GET", "/v1/account", none, nil, 401},
		{"POST to a GET route's path", account, "POST", "/v1/account", none, nil, 400},
		{"PROPFIND", account, "PROPFIND", "/v1/account", none, nil, 400},
		{"preflight-shaped OPTIONS", account, "OPTIONS", "/v1/account", none, preflight, 400},
		{"DELETE, with a token", account, "DELETE", "/v1/account", reader, nil, 400},
		{"another method and a loose spelling", account, "POST", "/v1/Account.json", none, nil, 400},
		{"PUT to a scoped path", account, "PUT", "/v1/bookings", reader, nil, 400},
		{"two routes naming methods: GET", account, "GET", "/v1/bookings", reader, nil, 200},
		{"two routes naming methods: POST with a reader", account, "POST", "/v1/bookings", reader, nil, 403},
		{"two routes naming methods: POST with a creator", account, "POST", "/v1/bookings", creator, nil, 200},
		{"a path no method route has", account, "POST", "/v1/other", none, nil, 200},
		{"POST to a public GET route's path", account, "POST", "/v1/status", none, nil, 200},
		{"the public root", account, "POST", "/", none, nil, 200},

		{"unmatched: the route's method", unmatched, "GET", "/v1/reports", reader, nil, 403},
		{"unmatched: another method asks less", unmatched, "POST", "/v1/reports", reader, nil, 400},
		{"unmatched: another method asks as much", unmatched, "POST", "/v1/whoami", reader, nil, 200},
		{"unmatched: no route's path", unmatched, "POST", "/v1/other", reader, nil, 200},

		{"cors_preflight pass: the configuration's choice", preflightPass, "OPTIONS", "/v1/account", none, preflight, 200},
		{"cors_preflight pass: no preflight", preflightPass, "OPTIONS", "/v1/account", none, nil, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := hdr(append([]string{"X-Forwarded-Method", tt.method, "X-Forwarded-Uri", tt.uri}, tt.header...)...)
			if tt.auth != "" {
				header.Set("Authorization", tt.auth)
			}
			w := ask(tt.h, "GET", "/auth", header)
			if w.Code != tt.want {
				t.Fatalf("%s %s: %d %s; want %d", tt.method, tt.uri, w.Code, w.Body.String(), tt.want)
			}
			if tt.want == http.StatusBadRequest && !strings.Contains(w.Body.String(), "another route") {
				t.Errorf("body %s; want a description naming another route", w.Body.String())
			}
			// The same through Envoy's check.
			r := hdr(tt.header...)
			if tt.auth != "" {
				r.Set("Authorization", tt.auth)
			}
			if w := ask(tt.h, tt.method, "/ext_authz"+tt.uri, r); w.Code != tt.want {
				t.Errorf("envoy: %s %s: %d %s; want %d", tt.method, tt.uri, w.Code, w.Body.String(), tt.want)
			}
		})
	}
}
