package forwardauth_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	routes := func(patterns ...string) []forwardauth.Route {
		var out []forwardauth.Route
		for _, p := range patterns {
			out = append(out, forwardauth.Route{Pattern: p})
		}
		return out
	}
	tests := []struct {
		name   string
		cfg    forwardauth.Config
		field  string // "" = valid
		reason string
	}{
		{"the issue's routes", forwardauth.Config{Routes: issueRoutes}, "", ""},
		{"no routes, authenticate everything", forwardauth.Config{Unmatched: forwardauth.UnmatchedAuthenticate}, "", ""},
		{"specific before general", forwardauth.Config{Routes: routes("GET /v1/items/{$}", "GET /v1/items/special", "GET /v1/items/{id}", "/v1/", "/")}, "", ""},
		{"host before no host", forwardauth.Config{Routes: routes("admin.example/", "/")}, "", ""},
		{"partial overlap", forwardauth.Config{Routes: routes("GET /a/{x}/c", "GET /a/b/{y}")}, "", ""},
		{"HEAD before GET", forwardauth.Config{Routes: routes("HEAD /x", "GET /x")}, "", ""},
		{"custom method", forwardauth.Config{Routes: routes("PROPFIND /dav/")}, "", ""},
		{"escaped letter", forwardauth.Config{Routes: routes("/%61pi/", "/")}, "Routes[0].Pattern", "writes %61 as an escape; write the character itself"},
		{"escaped non-ASCII", forwardauth.Config{Routes: routes("GET /caf%C3%A9/")}, "Routes[0].Pattern", "writes %C3 as an escape"},
		{"escaped slash, percent and braces", forwardauth.Config{Routes: routes("GET /a%2Fb/100%25/%7Bx%7D")}, "", ""},
		{"the character itself", forwardauth.Config{Routes: routes("GET /café/")}, "", ""},
		{"no routes, deny", forwardauth.Config{}, "Routes", "every request would be refused"},
		{"bad unmatched", forwardauth.Config{Routes: issueRoutes, Unmatched: "allow"}, "Unmatched", "neither deny nor authenticate"},
		{"empty pattern", forwardauth.Config{Routes: routes("/a", "")}, "Routes[1].Pattern", "is required"},
		{"bad wildcard", forwardauth.Config{Routes: routes("GET /v1/{id")}, "Routes[0].Pattern", "bad wildcard segment"},
		{"no slash", forwardauth.Config{Routes: routes("bookings")}, "Routes[0].Pattern", "missing /"},
		{"path without its slash", forwardauth.Config{Routes: routes("GET v1/bookings")}, "Routes[0].Pattern", "did you mean /v1/bookings?"},
		{"hosts", forwardauth.Config{Routes: routes("localhost/x", "api.example/x")}, "", ""},
		{"host and port", forwardauth.Config{Routes: routes("api.example:8443/x")}, "Routes[0].Pattern", "without their port"},
		{"host in upper case", forwardauth.Config{Routes: routes("API.example/x")}, "Routes[0].Pattern", "write it in lower case"},
		{"wildcards differing in case", forwardauth.Config{Routes: routes("GET /x/{a}/{A}", "/Y/{rest...}")}, "", ""},
		{"wildcard not at end", forwardauth.Config{Routes: routes("/x/{a...}/y")}, "Routes[0].Pattern", "not at end"},
		{"two spaces", forwardauth.Config{Routes: routes("GE T /x")}, "Routes[0].Pattern", "one space after the method"},
		{"leading space", forwardauth.Config{Routes: routes(" /x")}, "Routes[0].Pattern", "is not a pattern"},
		{"lowercase method", forwardauth.Config{Routes: routes("get /x")}, "Routes[0].Pattern", "write GET"},
		{"duplicate", forwardauth.Config{Routes: routes("GET /a", "/b", "GET /a")}, "Routes[2].Pattern", "duplicates Routes[0]"},
		{"duplicate with a tab", forwardauth.Config{Routes: routes("GET /a", "GET\t/a")}, "Routes[1].Pattern", "duplicates Routes[0]"},
		{"same requests", forwardauth.Config{Routes: routes("GET /a/{x}", "GET /a/{y}")}, "Routes[1].Pattern", "matches the same requests as Routes[0]"},
		{"shadowed by a prefix", forwardauth.Config{Routes: routes("/v1/", "GET /v1/bookings")}, "Routes[1].Pattern", "never reached: Routes[0]"},
		{"shadowed by no method", forwardauth.Config{Routes: routes("/x", "POST /x")}, "Routes[1].Pattern", "never reached"},
		{"HEAD shadowed by GET", forwardauth.Config{Routes: routes("GET /x", "HEAD /x")}, "Routes[1].Pattern", "never reached"},
		{"host shadowed", forwardauth.Config{Routes: routes("/", "admin.example/x")}, "Routes[1].Pattern", "never reached"},
		{"public with scopes", forwardauth.Config{Routes: []forwardauth.Route{{Pattern: "/p/", Public: true, Require: scopes.All("x")}}}, "Routes[0].Require", "public"},
		{"bad identity header", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Subject: "X Auth"}}, "IdentityHeaders.Subject", "not a valid HTTP header name"},
		{"reserved identity header", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Method: "authorization"}}, "IdentityHeaders.Method", "meaning of its own"},
		{"forwarded header as identity", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Issuer: "X-Forwarded-For"}}, "IdentityHeaders.Issuer", "meaning of its own"},
		{"identity header twice", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Scopes: "x-auth-subject"}}, "IdentityHeaders.Scopes", "also IdentityHeaders.Subject"},
		{"identity header is a credential header", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{ClientID: "Client_ID"}}, "IdentityHeaders.ClientID", "client credential header"},
		{"bad client header", forwardauth.Config{Routes: issueRoutes, ClientIDHeader: "client id"}, "ClientIDHeader", "not a valid"},
		{"identity header is a credential header with - for _", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{ClientID: "Client-Id"}}, "IdentityHeaders.ClientID", "client credential header"},
		{"URL-override header as identity", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Subject: "X_Original_URL"}}, "IdentityHeaders.Subject", "meaning of its own"},
		{"forwarded header with _ for -", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Subject: "x_forwarded_for"}}, "IdentityHeaders.Subject", "meaning of its own"},
		{"identity header twice, _ for -", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Issuer: "X-Auth_Scopes"}}, "IdentityHeaders.Issuer", "also IdentityHeaders.Scopes"},
		{"method override as identity", forwardauth.Config{Routes: issueRoutes, IdentityHeaders: forwardauth.IdentityHeaders{Method: "X-HTTP-Method"}}, "IdentityHeaders.Method", "method-override header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ce *dualauth.ConfigError
			if !errors.As(err, &ce) || ce.Package != "forwardauth" {
				t.Fatalf("Validate = %v; want a *dualauth.ConfigError of forwardauth", err)
			}
			if ce.Field != tt.field || !strings.Contains(ce.Reason, tt.reason) {
				t.Errorf("Validate = %q; want field %s and a reason with %q", err, tt.field, tt.reason)
			}
			if !strings.HasPrefix(err.Error(), "forwardauth: "+tt.field+": ") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

// TestTrustedProxies: an explicit list replaces loopback.
func TestTrustedProxies(t *testing.T) {
	t.Parallel()
	h := newHandler(t, dualAuthenticator(t, keywardtest.NewIssuer(t), nil), forwardauth.Config{
		Routes:         []forwardauth.Route{{Pattern: "/", Public: true}},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::ffff:192.0.2.0/120")},
	})
	for remote, status := range map[string]int{
		"10.1.2.3:80":             200,
		"192.0.2.9:80":            200,
		"[::ffff:10.0.0.1]:80":    200,
		"127.0.0.1:80":            403,
		"[::1]:80":                403,
		"not an address":          403,
		"[fe80::1%eth0]:80":       403,
		"[::ffff:198.51.100.1]:1": 403,
	} {
		r := hdr("X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/")
		w := askFrom(h, remote, r)
		if w.Code != status {
			t.Errorf("from %s: %d; want %d", remote, w.Code, status)
		}
	}
}
