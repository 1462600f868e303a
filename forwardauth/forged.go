package forwardauth

import (
	"net/http"
	"net/url"
	"strings"
)

// A forward-auth decision holds only for the request the upstream serves.
// Three things the client sends could make the upstream serve another: a
// header it takes for an identity header (the proxy overwrites the
// identity headers it knows by their exact names, but WSGI, CGI, PHP and
// Rails read "_" and "-" alike, so X-Auth_Scopes reaches them as
// X-Auth-Scopes), a method override (a header, or the _method parameter
// of Rails, Laravel and Symfony) that has a POST served as a DELETE, and a
// URL override (X-Original-URL) that has it served as another path.
// Keyward sees all the client's headers (nginx's auth_request,
// Traefik and Caddy send them; Envoy sends those its allowed_headers name)
// and refuses such requests rather than trusting every proxy's stripping.

// urlOverrides are the headers that older Symfony, Zend and Laminas read
// as the path to route by instead of the request's own (CVE-2018-14773),
// and IIS's URL Rewrite sets: from a client they would have a public path
// served as any other.
var urlOverrides = []string{"X-Original-URL", "X-Rewrite-URL"}

// describingHeaders are the headers in which the proxy describes the
// original request to Keyward.
var describingHeaders = []string{headerForwardedMethod, headerForwardedURI, headerOriginalMethod, headerOriginalURI}

// methodOverrides are the headers frameworks read to serve a request as
// another method than the one it was sent with, as this package names them
// in refusals.
var methodOverrides = []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"}

// sameHeaderName reports whether a and b name one header to an upstream
// that ignores case and reads "_" as "-".
func sameHeaderName(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if looseHeaderByte(a[i]) != looseHeaderByte(b[i]) {
			return false
		}
	}
	return true
}

// looseHeaderByte is c in lower case, with "_" read as "-".
func looseHeaderByte(c byte) byte {
	switch {
	case 'A' <= c && c <= 'Z':
		return c + ('a' - 'A')
	case c == '_':
		return '-'
	}
	return c
}

// forgedHeader says why the header h of the original request would be
// read by the upstream as an identity header or a method override, or "".
// Every spelling is refused, the exact one too: only the proxy may set the
// identity headers, and only after Keyward answered.
func (c *compiled) forgedHeader(h http.Header) string {
	for name := range h {
		for _, id := range c.identityNames {
			if sameHeaderName(name, id) {
				return "the request carries the identity header " + id + " (in this or another spelling: case and _ for - do not matter to every server); only the proxy may set it"
			}
		}
		for _, o := range methodOverrides {
			if sameHeaderName(name, o) {
				return "the request carries the method-override header " + o + " (in this or another spelling: case and _ for - do not matter to every server); this server does not accept them"
			}
		}
		for _, o := range urlOverrides {
			if sameHeaderName(name, o) {
				return "the request carries the URL-override header " + o + " (in this or another spelling: case and _ for - do not matter to every server); this server does not accept them"
			}
		}
		if strings.IndexByte(name, '_') >= 0 {
			// The proxy sets these under their own names, replacing the
			// client's; a spelling with "_" would pass it to the upstream.
			for _, d := range describingHeaders {
				if sameHeaderName(name, d) {
					return "the request carries " + d + " spelled with _ (case and _ for - do not matter to every server); only the proxy may set it"
				}
			}
		}
	}
	return ""
}

// methodParameter is the query parameter Rails, Laravel and Symfony
// read as the method to serve a request as.
const methodParameter = "_method"

// hasMethodParameter reports whether the query rawQuery has a parameter
// that a framework may read as _method: separated by "&" or ";", decoded
// (%5F, "+"), in any case (ASP.NET Core's query is case-blind), as an array
// (_method[]), and as PHP names it (leading spaces dropped, then " " and
// "." read as "_": .method is _method to Laravel and Symfony; and cut at a
// NUL, as PHP's C strings end there: _method%00x is _method to it). A NUL
// in a name is not refused as such: cut there, the name is refused only
// when PHP would read it as _method.
func hasMethodParameter(rawQuery string) bool {
	for part := range strings.FieldsFuncSeq(rawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		key, _, _ := strings.Cut(part, "=")
		if decoded, err := url.QueryUnescape(key); err == nil {
			key = decoded
		}
		key, _, _ = strings.Cut(key, "\x00")
		key, _, _ = strings.Cut(strings.TrimLeft(key, " "), "[")
		if len(key) == len(methodParameter) && (key[0] == '.' || key[0] == '_') &&
			strings.EqualFold(key[1:], methodParameter[1:]) {
			return true
		}
	}
	return false
}
