package config

import (
	"fmt"
	"regexp"

	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/excerpt"
)

// ForwardAuth is the forward_auth section: what `keyward serve` (package
// forwardauth) allows, for reverse proxies that delegate authentication to
// it. The middleware ignores it.
//
//	forward_auth:
//	  routes:                       # first match wins; net/http.ServeMux patterns
//	    - match: "GET /v1/bookings"
//	      scopes: {all: [bookings:read]}
//	    - match: "GET /v1/search"
//	      scopes: {any: [bookings:read, reports:read]}
//	    - match: "GET /v1/whoami"   # any authenticated caller
//	    - match: "/public/"
//	      public: true
//	  unmatched: deny               # deny (403, the default) | authenticate
//	  identity_headers: {subject: X-Auth-Subject, client_id: X-Auth-Client-Id, scopes: X-Auth-Scopes, method: X-Auth-Method, issuer: X-Auth-Issuer}
//	  trusted_proxies: [127.0.0.1]  # who may ask; default loopback
//	  cors_preflight: authenticate  # authenticate (the default) | pass
type ForwardAuth struct {
	// Routes are matched in order against the original request; the first
	// that matches decides.
	Routes []ForwardRoute `yaml:"routes,omitempty"`
	// Unmatched is what happens to a request no route matches: "deny" (the
	// default: 403) or "authenticate" (any authenticated caller).
	Unmatched string `yaml:"unmatched,omitempty"`
	// IdentityHeaders name the headers that carry the verified caller to
	// the proxy; omitted names are the defaults (X-Auth-Subject, ...).
	IdentityHeaders IdentityHeaders `yaml:"identity_headers,omitempty"`
	// TrustedProxies are the peers (addresses or CIDR ranges) allowed to
	// ask, whose X-Forwarded-* and X-Original-* headers are believed;
	// omitted means loopback (127.0.0.0/8, ::1).
	TrustedProxies []string `yaml:"trusted_proxies,omitempty"`
	// CORSPreflight is "authenticate" (the default: CORS preflight
	// requests are authenticated like any other) or "pass" (they pass
	// unauthenticated where a route serves the method they ask about). The
	// file's top-level cors_preflight is the middleware's and plays no part
	// here.
	CORSPreflight string `yaml:"cors_preflight,omitempty"`
}

// ForwardRoute is one entry of forward_auth.routes.
type ForwardRoute struct {
	// Match is a net/http.ServeMux pattern (Go 1.22): [METHOD ][HOST]/PATH.
	Match string `yaml:"match"`
	// Scopes is what the caller's scopes must meet; omitted, any
	// authenticated caller passes.
	Scopes *RouteScopes `yaml:"scopes,omitempty"`
	// Public lets the matching requests through without authentication.
	Public bool `yaml:"public,omitempty"`
}

// IdentityHeaders is forward_auth.identity_headers: the names of the
// headers of an allowed answer; an omitted one is the default.
type IdentityHeaders struct {
	Subject  string `yaml:"subject,omitempty"`
	ClientID string `yaml:"client_id,omitempty"`
	Scopes   string `yaml:"scopes,omitempty"`
	Method   string `yaml:"method,omitempty"`
	Issuer   string `yaml:"issuer,omitempty"`
}

// ForwardAuthSection returns the forward_auth section, which Parse and Read
// have checked for the rules of its own keys. It fails when the file has
// none. keyward serve makes a forwardauth.Config of it, with the client
// credential headers and credentials.trusted_proxies (proxies in front of
// the trusted ones, for the client address) of the credentials section, and
// reports what forwardauth.Config.Validate refuses through ForwardAuthError.
// (The file format does not import the server: a middleware program linking
// config links no forwardauth.)
func (f *File) ForwardAuthSection() (*ForwardAuth, error) {
	if f.ForwardAuth == nil {
		return nil, f.errorAt(0, "forward_auth", "is required by keyward serve: add a forward_auth section with the routes to allow")
	}
	return f.ForwardAuth, nil
}

// checkForwardAuth checks the rules of the section's own keys; the rules of
// the forwardauth.Config made of it (patterns, duplicates, header names) are
// forwardauth's, checked when keyward serve starts.
func (f *File) checkForwardAuth() error {
	fa := f.ForwardAuth
	switch fa.Unmatched {
	case "", "deny", "authenticate":
	default:
		return f.errorf("forward_auth.unmatched", "%s is neither deny nor authenticate", excerpt.Quote(fa.Unmatched))
	}
	switch fa.CORSPreflight {
	case "", "authenticate", "pass":
	default:
		return f.errorf("forward_auth.cors_preflight", "%s is neither authenticate nor pass", excerpt.Quote(fa.CORSPreflight))
	}
	if len(fa.TrustedProxies) == 0 && f.has("forward_auth.trusted_proxies") {
		return f.errorf("forward_auth.trusted_proxies", "is empty, so no proxy could ask; omit it for loopback, or list the proxies")
	}
	for i, p := range fa.TrustedProxies {
		if _, err := clientaddr.Parse([]string{p}); err != nil {
			return f.errorf(fmt.Sprintf("forward_auth.trusted_proxies[%d]", i), "%s is not an IP address or a CIDR range such as 10.0.0.0/8", excerpt.Quote(p))
		}
	}
	h := fa.IdentityHeaders
	for _, n := range []struct{ key, name string }{
		{"subject", h.Subject}, {"client_id", h.ClientID}, {"scopes", h.Scopes},
		{"method", h.Method}, {"issuer", h.Issuer},
	} {
		key := "forward_auth.identity_headers." + n.key
		if n.name == "" && f.has(key) {
			return f.errorf(key, "may not be empty; omit it for the default name")
		}
	}
	for i, r := range fa.Routes {
		if err := f.checkRule(&forwardSection, i, r.Match, r.Scopes, r.Public, `a ServeMux pattern such as "GET /v1/bookings" or "/public/"`); err != nil {
			return err
		}
	}
	return nil
}

// forwardFields are the keys of the file that forwardauth.Config fields
// come from, by field path without indices.
var forwardFields = map[string]string{
	"Routes":                   "forward_auth.routes",
	"Routes.Pattern":           "forward_auth.routes.match",
	"Routes.Require":           "forward_auth.routes.scopes",
	"Routes.Public":            "forward_auth.routes.public",
	"Unmatched":                "forward_auth.unmatched",
	"IdentityHeaders.Subject":  "forward_auth.identity_headers.subject",
	"IdentityHeaders.ClientID": "forward_auth.identity_headers.client_id",
	"IdentityHeaders.Scopes":   "forward_auth.identity_headers.scopes",
	"IdentityHeaders.Method":   "forward_auth.identity_headers.method",
	"IdentityHeaders.Issuer":   "forward_auth.identity_headers.issuer",
	"TrustedProxies":           "forward_auth.trusted_proxies",
	"PassCORSPreflight":        "forward_auth.cors_preflight",
	"ClientIDHeader":           "credentials.client_id_header",
	"ClientSecretHeader":       "credentials.client_secret_header",
}

// forwardSection is how errors of forwardauth.Config.Validate map to the
// forward_auth section.
var forwardSection = ruleSection{
	pkg: "forwardauth", key: "forward_auth", list: "Routes", entry: "route",
	fields: forwardFields, ref: regexp.MustCompile(`\bRoutes\[(\d+)\]`),
}

// ForwardAuthError reports an error of forwardauth.Config.Validate, for the
// Config made of the forward_auth section (see ForwardAuthSection), at the
// key and line of the file it comes from; the routes its reason names
// become the lines they are on. Another error is reported as the file's.
func (f *File) ForwardAuthError(err error) error {
	return f.ruleSectionError(err, &forwardSection)
}
