package main

import (
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/scopes"
)

// forwardHead is a valid file before its forward_auth section.
const forwardHead = `mode: dual
jwt:
  issuers:
    - issuer: https://auth.example.com
      jwks_url: https://auth.example.com/jwks.json
      audiences: [api]
credentials:
  clients_file: clients.yaml
  client_id_header: X-Client-Id
  trusted_proxies: [10.0.0.0/8]
`

// TestForwardAuthSample: the sample file of testdata/forwardauth reads
// into the Config the example describes.
func TestForwardAuthSample(t *testing.T) {
	f, err := config.Read("../../testdata/forwardauth/keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := forwardAuthConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	want := []forwardauth.Route{
		{Pattern: "GET /v1/bookings", Require: scopes.All("bookings:read")},
		{Pattern: "POST /v1/bookings", Require: scopes.All("bookings:create")},
		{Pattern: "GET /v1/search", Require: scopes.Any("bookings:read", "reports:read")},
		{Pattern: "GET /v1/whoami"},
		{Pattern: "/public/", Public: true},
	}
	if len(cfg.Routes) != len(want) {
		t.Fatalf("routes %+v", cfg.Routes)
	}
	for i, r := range cfg.Routes {
		w := want[i]
		if r.Pattern != w.Pattern || r.Public != w.Public || r.Require.String() != w.Require.String() || r.Require.OneOf() != w.Require.OneOf() {
			t.Errorf("routes[%d] = %+v; want %+v", i, r, w)
		}
	}
	if cfg.Unmatched != forwardauth.UnmatchedDeny || cfg.IdentityHeaders.ClientID != "X-Auth-Client-Id" ||
		!slices.Equal(cfg.TrustedProxies, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}) {
		t.Errorf("config %+v", cfg)
	}
}

// TestForwardAuthFromTheFile: what of the rest of the file forward auth
// takes: the credential header names, and credentials.trusted_proxies as
// the proxies in front.
func TestForwardAuthFromTheFile(t *testing.T) {
	f, err := config.Parse([]byte(forwardHead + "forward_auth:\n  unmatched: authenticate\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := forwardAuthConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ClientIDHeader != "X-Client-Id" || cfg.ClientSecretHeader != "" || len(cfg.Routes) != 0 || cfg.PassCORSPreflight ||
		!slices.Equal(cfg.AddressProxies, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}) || cfg.TrustedProxies != nil {
		t.Errorf("config %+v", cfg)
	}
}

// TestForwardAuthPreflight: forward_auth.cors_preflight decides whether
// keyward serve lets CORS preflights through unauthenticated (issue 14
// item 5: by default it does not), whatever the middleware's top-level
// cors_preflight says.
func TestForwardAuthPreflight(t *testing.T) {
	for _, tt := range []struct {
		top, section string
		pass         bool
	}{
		{"", "", false},
		{"", "  cors_preflight: authenticate\n", false},
		{"", "  cors_preflight: pass\n", true},
		{"cors_preflight: pass\n", "", false},
		{"cors_preflight: authenticate\n", "  cors_preflight: pass\n", true},
	} {
		f, err := config.Parse([]byte(tt.top + forwardHead + "forward_auth:\n  unmatched: authenticate\n" + tt.section))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := forwardAuthConfig(f)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.PassCORSPreflight != tt.pass {
			t.Errorf("top-level %q, section %q: PassCORSPreflight %v; want %v", tt.top, tt.section, cfg.PassCORSPreflight, tt.pass)
		}
	}
}

// TestForwardAuthErrors: every problem of the section is reported with the
// line and key to fix, like the rest of the file.
func TestForwardAuthErrors(t *testing.T) {
	tests := []struct {
		name    string
		section string // after forwardHead, whose last line is 10
		parse   string // an error of Parse, if it is the one to fail
		want    string // an error of Parse, else of forwardAuthConfig
	}{
		{"no section", "", "", "config: forward_auth: is required by keyward serve"},
		{"unknown key", "forward_auth:\n  routes:\n    - match: /a\n      scope: {all: [x]}\n",
			`line 14: unknown key "scope" in forward_auth.routes[0]; did you mean "scopes"?`, ""},
		{"unknown section key", "forward_auth:\n  route: []\n", `line 12: unknown key "route" in forward_auth; did you mean "routes"?`, ""},
		{"scopes not a mapping", "forward_auth:\n  routes:\n    - match: /a\n      scopes: [x]\n", "line 14: forward_auth.routes[0].scopes: must be a mapping", ""},
		{"quoted boolean", "forward_auth:\n  routes:\n    - match: /a\n      public: \"true\"\n", `line 14: forward_auth.routes[0].public: "true" is not true or false`, ""},
		{"bad pattern", "forward_auth:\n  routes:\n    - match: /a\n    - match: \"GET /b/{id\"\n",
			"", `config: line 14: forward_auth.routes[1].match: "GET /b/{id" is not a valid ServeMux pattern: at offset 7: bad wildcard segment (must end with '}')`},
		{"duplicate route", "forward_auth:\n  routes:\n    - match: \"GET /a\"\n      scopes: {all: [x]}\n    - match: /b\n    - match: \"GET /a\"\n",
			"", `config: line 16: forward_auth.routes[2].match: duplicates the route at line 13 ("GET /a")`},
		{"shadowed route", "forward_auth:\n  routes:\n    - match: /v1/\n    - match: \"GET /v1/bookings\"\n",
			"", `line 14: forward_auth.routes[1].match: is never reached: the route at line 13 ("/v1/"), listed first, matches every request it matches`},
		{"no match", "forward_auth:\n  routes:\n    - public: true\n", "", "line 13: forward_auth.routes[0].match: is required"},
		{"all and any", "forward_auth:\n  routes:\n    - match: /a\n      scopes: {all: [x], any: [y]}\n", "", "line 14: forward_auth.routes[0].scopes: sets all and any"},
		{"empty scopes", "forward_auth:\n  routes:\n    - match: /a\n      scopes: {}\n", "", "line 14: forward_auth.routes[0].scopes: lists no scopes"},
		{"empty all", "forward_auth:\n  routes:\n    - match: /a\n      scopes: {all: []}\n", "", "line 14: forward_auth.routes[0].scopes: lists no scopes"},
		{"bad scope", "forward_auth:\n  routes:\n    - match: /a\n      scopes:\n        any: [ok, \"a b\"]\n", "", `line 15: forward_auth.routes[0].scopes.any[1]: "a b" is not a scope`},
		{"public with scopes", "forward_auth:\n  routes:\n    - match: /a\n      public: true\n      scopes: {all: [x]}\n", "", "line 14: forward_auth.routes[0].public: a public route"},
		{"no routes, deny", "forward_auth:\n  unmatched: deny\n", "", "line 11: forward_auth.routes: no routes, and unmatched requests are denied"},
		{"bad unmatched", "forward_auth:\n  unmatched: allow\n  routes: [{match: /}]\n", "", `line 12: forward_auth.unmatched: "allow" is neither deny nor authenticate`},
		{"bad proxy", "forward_auth:\n  routes: [{match: /}]\n  trusted_proxies: [127.0.0.1, nginx]\n", "", `line 13: forward_auth.trusted_proxies[1]: "nginx" is not an IP address or a CIDR range`},
		{"no proxies", "forward_auth:\n  routes: [{match: /}]\n  trusted_proxies: []\n", "", "line 13: forward_auth.trusted_proxies: is empty"},
		{"bad cors_preflight", "forward_auth:\n  routes: [{match: /}]\n  cors_preflight: allow\n", "", `line 13: forward_auth.cors_preflight: "allow" is neither authenticate nor pass`},
		{"empty identity header", "forward_auth:\n  routes: [{match: /}]\n  identity_headers: {subject: \"\"}\n", "", "line 13: forward_auth.identity_headers.subject: may not be empty; omit it for the default name"},
		{"bad identity header", "forward_auth:\n  routes: [{match: /}]\n  identity_headers:\n    scopes: X Scopes\n", "", `line 14: forward_auth.identity_headers.scopes: "X Scopes" is not a valid HTTP header name`},
		{"identity header is the client id header", "forward_auth:\n  routes: [{match: /}]\n  identity_headers:\n    client_id: x-client-id\n", "", `line 14: forward_auth.identity_headers.client_id: "x-client-id" is a client credential header`},
		{"identity header is the client id header with _ for -", "forward_auth:\n  routes: [{match: /}]\n  identity_headers:\n    client_id: X_Client_Id\n", "", `line 14: forward_auth.identity_headers.client_id: "X_Client_Id" is a client credential header`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := config.Parse([]byte(forwardHead + tt.section))
			if tt.parse != "" {
				if err == nil || !strings.Contains(err.Error(), tt.parse) {
					t.Fatalf("Parse = %v; want an error with %q", err, tt.parse)
				}
				return
			}
			if err == nil {
				// Parse checks the section's own keys; what makes a
				// forwardauth.Config fail is found when keyward serve
				// starts, at the same line and key.
				_, err = forwardAuthConfig(f)
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse, forwardAuthConfig = %v; want an error with %q", err, tt.want)
			}
		})
	}
}

// TestForwardAuthErrorsNameTheFile: read from a file, the errors name it.
func TestForwardAuthErrorsNameTheFile(t *testing.T) {
	path := t.TempDir() + "/keyward.yaml"
	if err := os.WriteFile(path, []byte(forwardHead+"forward_auth:\n  routes:\n    - match: \"get /a\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = forwardAuthConfig(f)
	want := "config: " + path + `: line 13: forward_auth.routes[0].match: the method "get" would never match: methods are case-sensitive (write GET)`
	if err == nil || err.Error() != want {
		t.Fatalf("forwardAuthConfig = %v;\nwant %s", err, want)
	}
}
