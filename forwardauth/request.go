package forwardauth

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/keyward/keyward/dualauth"
)

// The headers that describe the original request.
const (
	headerForwardedMethod = "X-Forwarded-Method" // Traefik, Caddy
	headerForwardedURI    = "X-Forwarded-Uri"
	headerForwardedHost   = "X-Forwarded-Host"
	headerOriginalMethod  = "X-Original-Method" // the nginx auth_request convention
	headerOriginalURI     = "X-Original-Uri"
	headerForwardedFor    = "X-Forwarded-For"
)

// described is the original request as the proxy describes it.
type described struct {
	method, uri, host string
	// nginx is set when the request came in the nginx convention
	// (X-Original-*): refusals then carry what an auth_request
	// configuration needs (see HeaderBody).
	nginx bool
}

// fromHeaders reads the description of /auth: X-Forwarded-Method and
// X-Forwarded-Uri, or X-Original-Method and X-Original-URI, never a mix;
// the host from X-Forwarded-Host, else the request's own Host. ok is false
// when neither convention is present (a proxy set up wrong); e is set when
// the description cannot be used.
func fromHeaders(r *http.Request) (d described, ok bool, e *dualauth.Error) {
	fwdMethod, fwdURI := r.Header[headerForwardedMethod], r.Header[headerForwardedURI]
	origMethod, origURI := r.Header[headerOriginalMethod], r.Header[headerOriginalURI]
	fwd := len(fwdMethod)+len(fwdURI) > 0
	orig := len(origMethod)+len(origURI) > 0
	d.nginx = orig
	switch {
	case fwd && orig:
		// One of the two came from the client, through a proxy that sets
		// only the other: which one is unknowable.
		return d, true, invalidRequest("the request is described by both X-Forwarded-Method/X-Forwarded-Uri and X-Original-Method/X-Original-URI")
	case fwd:
		d.method, d.uri, e = pair(fwdMethod, fwdURI, headerForwardedMethod, headerForwardedURI)
	case orig:
		d.method, d.uri, e = pair(origMethod, origURI, headerOriginalMethod, "X-Original-URI")
	default:
		return d, false, nil
	}
	if e != nil {
		return d, true, e
	}
	d.host = r.Host
	if hosts := r.Header[headerForwardedHost]; len(hosts) > 0 {
		if len(hosts) > 1 || strings.Contains(hosts[0], ",") {
			return d, true, invalidRequest("the request names more than one X-Forwarded-Host")
		}
		d.host = hosts[0]
	}
	return d, true, nil
}

// pair reads a method header and a URI header that must both be there,
// once each.
func pair(methods, uris []string, methodName, uriName string) (string, string, *dualauth.Error) {
	switch {
	case len(methods) != 1 || methods[0] == "":
		return "", "", invalidRequest("the request needs exactly one non-empty " + methodName + " header")
	case len(uris) != 1 || uris[0] == "":
		return "", "", invalidRequest("the request needs exactly one non-empty " + uriName + " header")
	}
	return methods[0], uris[0], nil
}

// synthesize builds the request that is authenticated: the original
// method, URI and host, the client address as RemoteAddr, and of all the
// headers only the credentials (Authorization and the client id and
// secret headers), so that nothing else the proxy sent takes part.
func (c *compiled) synthesize(r *http.Request, d described, clientAddr string) (*http.Request, *dualauth.Error) {
	if strings.ContainsAny(d.uri, "#\x00\r\n\t ") {
		return nil, invalidRequest("the request URI is malformed")
	}
	uri := d.uri
	if !strings.HasPrefix(uri, "/") {
		// The absolute form (RFC 9112 §3.2.2), which nginx's $request_uri
		// keeps as the client sent it: its authority is the host.
		u, err := url.ParseRequestURI(uri)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, invalidRequest("the request URI is malformed")
		}
		d.host = u.Host
		uri = u.EscapedPath()
		if uri == "" {
			uri = "/"
		}
		if u.RawQuery != "" || u.ForceQuery {
			uri += "?" + u.RawQuery
		}
	}
	if strings.ContainsAny(d.host, " \t\r\n/\\@,") {
		return nil, invalidRequest("the forwarded host is malformed")
	}
	out, err := http.NewRequestWithContext(r.Context(), d.method, uri, nil)
	switch {
	case err != nil:
		return nil, invalidRequest("the request method or URI is malformed")
	case out.URL.Host != "" || out.URL.Scheme != "":
		// "//host/path" is a path to a server, an authority to url.Parse.
		return nil, invalidRequest(pathNotCanonical)
	}
	if msg := checkPath(out.URL); msg != "" {
		return nil, invalidRequest(msg)
	}
	out.Host = d.host
	out.RemoteAddr = clientAddr
	for _, name := range c.credentialHeaders {
		if v, ok := r.Header[name]; ok {
			out.Header[name] = v
		}
	}
	return out, nil
}

// checkPath says what is wrong with the path of u, or "". Routes are
// matched against the path as a ServeMux sees it, and the upstream serves
// the path as it reads it: when the two could differ, the request is
// refused rather than guessed at. So the path must be canonical both as
// sent and decoded — no dot segments (not even %2e%2e or ..;param, which
// some servers resolve), no repeated slashes — and free of backslashes
// and control characters.
func checkPath(u *url.URL) string {
	const msg = pathNotCanonical
	escaped, decoded := u.EscapedPath(), u.Path
	if !strings.HasPrefix(escaped, "/") || cleanPath(escaped) != escaped || cleanPath(decoded) != decoded {
		return msg
	}
	if strings.IndexFunc(decoded, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) >= 0 {
		return msg
	}
	for seg := range strings.SplitSeq(decoded, "/") {
		seg, _, _ = strings.Cut(seg, ";")
		if seg == "." || seg == ".." {
			return msg
		}
	}
	return ""
}

const pathNotCanonical = "the request path is not in canonical form (dot segments, repeated slashes, backslashes or control characters)"

// cleanPath is the canonical form of p as net/http.ServeMux computes it:
// path.Clean, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			return p
		}
		np += "/"
	}
	return np
}

// peerAddr is the address of r's direct peer.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	return parseAddr(r.RemoteAddr)
}

// parseAddr reads "192.0.2.1", "192.0.2.1:1234", "[2001:db8::1]:1234" or
// "2001:db8::1", dropping zones and unmapping IPv4-mapped IPv6 addresses.
func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

// isIn reports whether addr is in one of the prefixes.
func isIn(addr netip.Addr, prefixes []netip.Prefix) bool {
	return slices.ContainsFunc(prefixes, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// clientAddr is the address of the client of the original request, which
// failed credential checks are counted against: of the X-Forwarded-For
// addresses, the right-most one that is not a proxy (trusted, or one of
// AddressProxies), or the left-most if all are; the peer when there are
// none, or when an entry written by a proxy is malformed. Each proxy
// appends the address it saw, so only the part right of the first address
// that is not a proxy's can be believed. X-Real-IP and Forwarded are not
// read: proxies that do not set them pass the client's own through.
func (c *compiled) clientAddr(r *http.Request, peer netip.Addr) string {
	values := r.Header[headerForwardedFor]
	if len(values) == 0 {
		return r.RemoteAddr // the peer, as dualauth reads it
	}
	var hops []string
	for _, v := range values {
		for hop := range strings.SplitSeq(v, ",") {
			hops = append(hops, hop)
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseAddr(hops[i])
		if !ok {
			return peer.String()
		}
		if i == 0 || (!isIn(addr, c.trusted) && !isIn(addr, c.addressProxies)) {
			return addr.String()
		}
	}
	return peer.String()
}

func invalidRequest(description string) *dualauth.Error {
	return &dualauth.Error{Status: http.StatusBadRequest, Code: dualauth.CodeInvalidRequest, Description: description}
}
