package forwardauth_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/keywardtest"
)

// TestForgedHeaders: issue 14 items 2 and 3. WSGI, CGI, PHP and Rails read
// "_" and "-" alike in header names, and frameworks honour method-override
// headers and a _method parameter, so a request carrying a header that an
// upstream would take for an identity header or a method override — in any
// case, with "_" for "-" anywhere — or a _method query parameter in any
// spelling a framework decodes to it, is refused with 400 invalid_request,
// on public routes too and whatever its credentials; headers and
// parameters that only look alike pass.
func TestForgedHeaders(t *testing.T) {
	t.Parallel()
	iss := keywardtest.NewIssuer(t)
	authn := dualAuthenticator(t, iss, nil)
	h := newHandler(t, authn, forwardauth.Config{Routes: issueRoutes})
	custom := newHandler(t, authn, forwardauth.Config{Routes: issueRoutes,
		IdentityHeaders: forwardauth.IdentityHeaders{Subject: "X-User", Scopes: "Remote_Scopes"}})
	token := "Bearer " + iss.Token(t, jwt.MapClaims{"scope": "bookings:read bookings:create"})
	tests := []struct {
		name    string
		h       *forwardauth.Handler
		method  string
		uri     string
		header  []string // name, value pairs, names as spelled
		allowed bool
		desc    string // refused: part of error_description
	}{
		// Item 2: the issue's forgeries, on public and authenticated routes.
		{"scopes, one underscore, public route", h, "GET", "/public/x", []string{"X-Auth_Scopes", "admin"}, false, "X-Auth-Scopes"},
		{"subject, one underscore, public route", h, "GET", "/public/x", []string{"X_Auth-Subject", "root"}, false, "X-Auth-Subject"},
		{"client id, appended to the real one", h, "GET", "/v1/bookings", []string{"Authorization", token, "X-Auth-Client_Id", "evil"}, false, "X-Auth-Client-Id"},
		{"all underscores", h, "GET", "/v1/bookings", []string{"Authorization", token, "X_AUTH_METHOD", "jwt"}, false, "X-Auth-Method"},
		{"the exact spelling", h, "GET", "/v1/bookings", []string{"Authorization", token, "X-Auth-Subject", "root"}, false, "X-Auth-Subject"},
		{"lower case", h, "GET", "/public/x", []string{"x-auth-issuer", "https://evil.example"}, false, "X-Auth-Issuer"},
		{"empty value", h, "GET", "/public/x", []string{"X-Auth-Scopes", ""}, false, "X-Auth-Scopes"},
		{"custom names", custom, "GET", "/public/x", []string{"x_user", "root"}, false, "X-User"},
		{"custom name with an underscore", custom, "GET", "/public/x", []string{"Remote-Scopes", "admin"}, false, "Remote_Scopes"},
		{"a default name no longer configured", custom, "GET", "/public/x", []string{"X-Auth-Subject", "root"}, true, ""},
		{"a longer name", h, "GET", "/public/x", []string{"X-Auth-Subjects", "x"}, true, ""},
		{"a shorter name", h, "GET", "/public/x", []string{"X-Auth", "x"}, true, ""},
		{"another header", h, "GET", "/v1/bookings", []string{"Authorization", token, "X-Request-Id", "1"}, true, ""},

		// Item 3: method-override headers in every spelling.
		{"override, the issue's spelling", h, "POST", "/v1/bookings", []string{"Authorization", token, "X_HTTP_METHOD_OVERRIDE", "DELETE"}, false, "X-HTTP-Method-Override"},
		{"override, mixed", h, "POST", "/v1/bookings", []string{"Authorization", token, "x-http-method_override", "DELETE"}, false, "X-HTTP-Method-Override"},
		{"override, canonical", h, "POST", "/v1/bookings", []string{"Authorization", token, "X-Http-Method-Override", "DELETE"}, false, "X-HTTP-Method-Override"},
		{"X-HTTP-Method", h, "POST", "/v1/bookings", []string{"Authorization", token, "X_Http_Method", "DELETE"}, false, "X-HTTP-Method"},
		{"X-Method-Override", h, "POST", "/v1/bookings", []string{"Authorization", token, "X-Method_Override", "DELETE"}, false, "X-Method-Override"},
		{"override on a public route", h, "GET", "/public/x", []string{"X-HTTP-Method-Override", "DELETE"}, false, "X-HTTP-Method-Override"},
		// URL overrides (older Symfony, Zend, Laminas: CVE-2018-14773).
		{"X-Original-URL on a public route", h, "GET", "/public/x", []string{"X-Original-URL", "/v1/bookings"}, false, "X-Original-URL"},
		{"X-Rewrite-URL", h, "GET", "/public/x", []string{"X-Rewrite-Url", "/v1/bookings"}, false, "X-Rewrite-URL"},
		{"X-Original-URL, underscores", h, "GET", "/public/x", []string{"x_original_url", "/v1/bookings"}, false, "X-Original-URL"},
		{"X-Rewrite-URL, mixed", h, "GET", "/v1/bookings", []string{"Authorization", token, "X-REWRITE_URL", "/admin"}, false, "X-Rewrite-URL"},
		{"the nginx description spelled with _", h, "GET", "/public/x", []string{"X_Original_URI", "/admin"}, false, "X-Original-Uri"},
		{"the Traefik description spelled with _", h, "GET", "/public/x", []string{"X-Forwarded_Uri", "/admin"}, false, "X-Forwarded-Uri"},
		{"a header that is no override", h, "POST", "/v1/bookings", []string{"Authorization", token, "X-HTTP-Method-Overrides", "DELETE"}, true, ""},

		// Item 3: a _method query parameter as frameworks decode it.
		{"_method", h, "POST", "/v1/bookings?_method=DELETE", []string{"Authorization", token}, false, "_method"},
		{"encoded underscore", h, "POST", "/v1/bookings?%5Fmethod=DELETE", []string{"Authorization", token}, false, "_method"},
		{"encoded underscore, lower-case hex", h, "POST", "/v1/bookings?%5fmethod=DELETE", []string{"Authorization", token}, false, "_method"},
		{"encoded letters", h, "POST", "/v1/bookings?_%6Dethod=DELETE", []string{"Authorization", token}, false, "_method"},
		{"upper case", h, "POST", "/v1/bookings?_METHOD=DELETE", []string{"Authorization", token}, false, "_method"},
		{"after another parameter", h, "POST", "/v1/bookings?a=1&_method=DELETE", []string{"Authorization", token}, false, "_method"},
		{"after a semicolon", h, "POST", "/v1/bookings?a=1;_method=DELETE", []string{"Authorization", token}, false, "_method"},
		{"no value", h, "POST", "/v1/bookings?_method", []string{"Authorization", token}, false, "_method"},
		{"array", h, "POST", "/v1/bookings?_method[]=DELETE", []string{"Authorization", token}, false, "_method"},
		{"PHP reads a dot as _", h, "POST", "/v1/bookings?.method=DELETE", []string{"Authorization", token}, false, "_method"},
		{"PHP drops leading spaces", h, "POST", "/v1/bookings?%20_method=DELETE", []string{"Authorization", token}, false, "_method"},
		{"PHP drops leading spaces, then reads a dot as _", h, "POST", "/v1/bookings?++.method=DELETE", []string{"Authorization", token}, false, "_method"},
		{"an unclosed bracket", h, "POST", "/v1/bookings?_method[=DELETE", []string{"Authorization", token}, false, "_method"},
		{"PHP cuts a name at a NUL", h, "POST", "/v1/bookings?_method%00x=DELETE", []string{"Authorization", token}, false, "_method"},
		{"a NUL ending the name", h, "POST", "/v1/bookings?_method%00=DELETE", []string{"Authorization", token}, false, "_method"},
		{"a NUL after an encoded underscore", h, "POST", "/v1/bookings?%5Fmethod%00%5B%5D=DELETE", []string{"Authorization", token}, false, "_method"},
		{"a NUL in another name", h, "POST", "/v1/bookings?_meth%00od=DELETE", []string{"Authorization", token}, true, ""},
		{"a leading space is no underscore to PHP", h, "POST", "/v1/bookings?+method=DELETE", []string{"Authorization", token}, true, ""},
		{"on a public route", h, "GET", "/public/x?_method=DELETE", nil, false, "_method"},
		{"_method as a value", h, "POST", "/v1/bookings?x=_method", []string{"Authorization", token}, true, ""},
		{"a longer name", h, "POST", "/v1/bookings?_methods=1", []string{"Authorization", token}, true, ""},
		{"a name ending in it", h, "POST", "/v1/bookings?my_method=1", []string{"Authorization", token}, true, ""},
		{"an ordinary query", h, "POST", "/v1/bookings?page=2", []string{"Authorization", token}, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, proxy := range []struct {
				name           string
				method, target string
				describe       []string
			}{
				{"traefik", "GET", "/auth", []string{"X-Forwarded-Method", tt.method, "X-Forwarded-Uri", tt.uri}},
				{"nginx", "GET", "/auth", []string{"X-Original-Method", tt.method, "X-Original-Uri", tt.uri}},
				{"envoy", tt.method, "/ext_authz" + tt.uri, nil},
			} {
				w := ask(tt.h, proxy.method, proxy.target, hdr(append(proxy.describe, tt.header...)...))
				if tt.allowed {
					if w.Code != http.StatusOK {
						t.Errorf("%s: %d %s; want 200", proxy.name, w.Code, w.Body.String())
					}
					continue
				}
				var body map[string]string
				_ = json.Unmarshal(w.Body.Bytes(), &body)
				if w.Code != http.StatusBadRequest || body["error"] != "invalid_request" || !strings.Contains(body["error_description"], tt.desc) {
					t.Errorf("%s: %d %s; want 400 invalid_request naming %s", proxy.name, w.Code, w.Body.String(), tt.desc)
				}
				if proxy.name == "nginx" && w.Header().Get(forwardauth.HeaderBody) != w.Body.String() {
					t.Errorf("nginx: %s %q; want the body", forwardauth.HeaderBody, w.Header().Get(forwardauth.HeaderBody))
				}
				for _, v := range tt.header {
					if v != "" && !strings.HasPrefix(v, "Bearer ") && strings.Contains(w.Body.String(), v) && v != tt.desc {
						t.Errorf("%s: the refusal echoes the client's %q", proxy.name, v)
					}
				}
			}
		})
	}
}
