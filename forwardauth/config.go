package forwardauth

import (
	"cmp"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"

	"golang.org/x/net/http/httpguts"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/scopes"

	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/excerpt"
)

// Unmatched says what happens to a request no route matches.
type Unmatched string

// What Config.Unmatched may be.
const (
	// UnmatchedDeny refuses the request with 403, whatever its
	// credentials: a path nobody listed is not served.
	UnmatchedDeny Unmatched = "deny"
	// UnmatchedAuthenticate lets any authenticated caller through, as a
	// route without scopes would.
	UnmatchedAuthenticate Unmatched = "authenticate"
)

// Route is one entry of Config.Routes.
type Route struct {
	// Pattern is a net/http.ServeMux pattern (Go 1.22 syntax: an optional
	// method, an optional host, a path with {wildcards}), such as
	// "GET /v1/bookings/{id}" or "/public/".
	Pattern string
	// Require is what the caller's scopes must meet; the zero Requirement
	// lets any authenticated caller through.
	Require scopes.Requirement
	// Public lets every request the pattern matches through without
	// authentication (and without identity headers). Require must then be
	// zero.
	Public bool
}

// IdentityHeaders name the response headers that carry the verified caller
// to the proxy, which copies them onto the request it sends upstream. An
// empty name means the default.
type IdentityHeaders struct {
	// Subject carries Principal.Subject; default X-Auth-Subject.
	Subject string
	// ClientID carries Principal.ClientID; default X-Auth-Client-Id.
	ClientID string
	// Scopes carries Principal.Scopes, space-separated; default X-Auth-Scopes.
	Scopes string
	// Method carries Principal.Method (jwt or credentials); default X-Auth-Method.
	Method string
	// Issuer carries Principal.Issuer; default X-Auth-Issuer.
	Issuer string
}

// The default identity header names.
const (
	DefaultSubjectHeader  = "X-Auth-Subject"
	DefaultClientIDHeader = "X-Auth-Client-Id"
	DefaultScopesHeader   = "X-Auth-Scopes"
	DefaultMethodHeader   = "X-Auth-Method"
	DefaultIssuerHeader   = "X-Auth-Issuer"
)

// withDefaults returns h with the default names where it has none.
func (h IdentityHeaders) withDefaults() IdentityHeaders {
	return IdentityHeaders{
		Subject:  cmp.Or(h.Subject, DefaultSubjectHeader),
		ClientID: cmp.Or(h.ClientID, DefaultClientIDHeader),
		Scopes:   cmp.Or(h.Scopes, DefaultScopesHeader),
		Method:   cmp.Or(h.Method, DefaultMethodHeader),
		Issuer:   cmp.Or(h.Issuer, DefaultIssuerHeader),
	}
}

// fields lists the headers with the Config field each comes from.
func (h IdentityHeaders) fields() []struct{ field, name string } {
	return []struct{ field, name string }{
		{"IdentityHeaders.Subject", h.Subject},
		{"IdentityHeaders.ClientID", h.ClientID},
		{"IdentityHeaders.Scopes", h.Scopes},
		{"IdentityHeaders.Method", h.Method},
		{"IdentityHeaders.Issuer", h.Issuer},
	}
}

// DefaultTrustedProxies are the peers trusted to describe the original
// request when Config.TrustedProxies is empty: loopback, where
// `keyward serve` listens by default.
var DefaultTrustedProxies = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("::1/128"),
}

// Config configures a Handler. The zero value refuses every request (no
// routes, unmatched requests denied); a useful one lists Routes.
type Config struct {
	// Routes are matched in order against the original request; the first
	// that matches decides. Patterns are those of net/http.ServeMux.
	Routes []Route
	// Unmatched is what happens to a request no route matches; "" means
	// UnmatchedDeny.
	Unmatched Unmatched
	// IdentityHeaders name the headers of an allowed answer.
	IdentityHeaders IdentityHeaders
	// TrustedProxies are the peers whose X-Forwarded-* and X-Original-*
	// headers describe the original request (and whose X-Forwarded-For
	// names the client); empty means DefaultTrustedProxies. A request from
	// any other peer is refused: what it asks about cannot be believed.
	TrustedProxies []netip.Prefix
	// AddressProxies are further proxies in front of the trusted ones (load
	// balancers, as credentials.trusted_proxies lists them): the client
	// address, which failed credential checks are counted against, is the
	// right-most X-Forwarded-For address in neither list.
	AddressProxies []netip.Prefix
	// PassCORSPreflight lets CORS preflight requests (OPTIONS with Origin
	// and Access-Control-Request-Method) through without authentication
	// where a route serves the method they ask about, since browsers send
	// them without credentials. By default they are authenticated like any
	// request: an upstream that serves OPTIONS as it serves GET would
	// otherwise answer anyone. (dualauth.Config.AuthenticatePreflight, the
	// middleware's setting, plays no part here.)
	PassCORSPreflight bool
	// ClientIDHeader and ClientSecretHeader name the client credential
	// headers copied into the request authenticated, as
	// dualauth.Config names them; "" means dualauth.DefaultClientIDHeader
	// and dualauth.DefaultClientSecretHeader.
	ClientIDHeader     string
	ClientSecretHeader string
}

// configErr returns the *dualauth.ConfigError of a Config field.
func configErr(field, format string, args ...any) *dualauth.ConfigError {
	return &dualauth.ConfigError{Package: "forwardauth", Field: field, Reason: fmt.Sprintf(format, args...)}
}

// reservedHeaders may not carry the caller: the proxy or HTTP itself gives
// them another meaning.
var reservedHeaders = []string{
	"Authorization", "Proxy-Authorization", "WWW-Authenticate", "Proxy-Authenticate",
	"Host", "Connection", "Keep-Alive", "Transfer-Encoding", "Content-Length", "Content-Type",
	"Te", "Trailer", "Upgrade", "Cookie", "Set-Cookie", "Location", "Retry-After", "Cache-Control",
	"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Method", "X-Forwarded-Proto",
	"X-Forwarded-Uri", "X-Original-Method", "X-Original-Uri", "X-Real-Ip", "X-Original-Url", "X-Rewrite-Url",
}

// Validate checks c as New does. Every error is a *dualauth.ConfigError
// whose Package is "forwardauth".
func (c Config) Validate() error {
	_, err := c.compile()
	return err
}

// compiled is a checked Config, ready to serve.
type compiled struct {
	routes        []*route
	passPreflight bool
	// folded are the routes with their paths case-folded, in the same
	// order, for the case-blind readings of request paths.
	folded []*route
	// methods are the methods that routes name, each once, for reading a
	// request under another method (see looseReadingAsksMore).
	methods      []string
	unmatched    Unmatched
	headers      IdentityHeaders
	trusted      clientaddr.Proxies // may describe the original request
	forwarders   clientaddr.Proxies // trusted and AddressProxies: their X-Forwarded-For entries are believed
	idHeader     string
	secretHeader string
	// credentialHeaders are the canonical names of the headers copied into
	// the request authenticated.
	credentialHeaders [4]string
	// identityNames are the identity header names as configured, for
	// refusing requests that carry one (see forgedHeader).
	identityNames [5]string
}

// compile checks c and builds its routes.
func (c Config) compile() (*compiled, error) {
	out := &compiled{
		passPreflight: c.PassCORSPreflight,
		unmatched:     cmp.Or(c.Unmatched, UnmatchedDeny),
		headers:       c.IdentityHeaders.withDefaults(),
		trusted:       clientaddr.Normalize(c.TrustedProxies),
		idHeader:      cmp.Or(c.ClientIDHeader, dualauth.DefaultClientIDHeader),
		secretHeader:  cmp.Or(c.ClientSecretHeader, dualauth.DefaultClientSecretHeader),
	}
	if len(out.trusted) == 0 {
		out.trusted = slices.Clone(DefaultTrustedProxies)
	}
	out.forwarders = append(slices.Clone(out.trusted), clientaddr.Normalize(c.AddressProxies)...)
	switch out.unmatched {
	case UnmatchedDeny, UnmatchedAuthenticate:
	default:
		return nil, configErr("Unmatched", "%s is neither deny nor authenticate", excerpt.Quote(string(c.Unmatched)))
	}
	if len(c.Routes) == 0 && out.unmatched == UnmatchedDeny {
		return nil, configErr("Routes", "no routes, and unmatched requests are denied: every request would be refused; list routes, or set unmatched to authenticate")
	}
	for _, h := range []struct{ field, name string }{
		{"ClientIDHeader", out.idHeader},
		{"ClientSecretHeader", out.secretHeader},
	} {
		if !httpguts.ValidHeaderFieldName(h.name) {
			return nil, configErr(h.field, "%s is not a valid HTTP header name", excerpt.Quote(h.name))
		}
	}
	out.credentialHeaders = [4]string{"Authorization", http.CanonicalHeaderKey(out.idHeader), http.CanonicalHeaderKey(out.secretHeader), "Dpop"}
	if err := out.checkHeaders(); err != nil {
		return nil, err
	}
	for i, h := range out.headers.fields() {
		out.identityNames[i] = h.name
	}
	if err := checkMux(); err != nil {
		return nil, err
	}
	for i, r := range c.Routes {
		rt, err := compileRoute(i, r)
		if err != nil {
			return nil, err
		}
		for _, earlier := range out.routes {
			if why := shadows(earlier, rt); why != "" {
				return nil, configErr(fmt.Sprintf("Routes[%d].Pattern", i), "%s", why)
			}
		}
		f, err := foldRoute(rt)
		if err != nil {
			return nil, err
		}
		out.routes = append(out.routes, rt)
		out.folded = append(out.folded, f)
		if rt.method != "" && !slices.Contains(out.methods, rt.method) {
			out.methods = append(out.methods, rt.method)
		}
	}
	return out, nil
}

// checkHeaders checks the identity header names: valid, distinct, and none
// that HTTP, the proxies or the credentials give another meaning. Names
// are compared as upstreams may read them, case-blind with "_" as "-":
// requests carrying any spelling of an identity header are refused.
func (c *compiled) checkHeaders() error {
	fields := c.headers.fields()
	for i, h := range fields {
		switch {
		case !httpguts.ValidHeaderFieldName(h.name):
			return configErr(h.field, "%s is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", excerpt.Quote(h.name))
		case slices.ContainsFunc(reservedHeaders, func(r string) bool { return sameHeaderName(r, h.name) }):
			return configErr(h.field, "%s has a meaning of its own in HTTP or to the proxy; use a header of your own such as X-Auth-Subject", excerpt.Quote(h.name))
		case sameHeaderName(h.name, c.idHeader) || sameHeaderName(h.name, c.secretHeader):
			return configErr(h.field, "%s is a client credential header", excerpt.Quote(h.name))
		case slices.ContainsFunc(methodOverrides, func(o string) bool { return sameHeaderName(o, h.name) }):
			return configErr(h.field, "%s is a method-override header", excerpt.Quote(h.name))
		}
		for _, other := range fields[:i] {
			if sameHeaderName(h.name, other.name) {
				return configErr(h.field, "%s is also %s (to servers that ignore case and read _ as -); use distinct headers", excerpt.Quote(h.name), other.field)
			}
		}
	}
	return nil
}

// mustURL parses a path known to be valid.
func mustURL(path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		panic(err)
	}
	return u
}
