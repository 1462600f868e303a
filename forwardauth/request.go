package forwardauth

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"path"
	"strings"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/clientaddr"
)

// The headers that describe the original request.
const (
	headerForwardedMethod = "X-Forwarded-Method" // Traefik, Caddy
	headerForwardedURI    = "X-Forwarded-Uri"
	headerForwardedHost   = "X-Forwarded-Host"
	headerOriginalMethod  = "X-Original-Method" // the nginx auth_request convention
	headerOriginalURI     = "X-Original-Uri"
	headerForwardedFor    = "X-Forwarded-For"
	headerForwardedProto  = "X-Forwarded-Proto" // the scheme the client used, in every convention
)

// described is the original request as the proxy describes it.
type described struct {
	method, uri, host string
	// https is set when the client used https (X-Forwarded-Proto, or an
	// absolute URI): a DPoP proof's htu names the scheme.
	https bool
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
	d.https, e = forwardedHTTPS(r)
	return d, true, e
}

// forwardedHTTPS reads X-Forwarded-Proto, the scheme the client used (a
// DPoP proof's htu starts with it): https or wss is https; http, ws or
// none is http. A repeated header or a list (one value the client's, one
// the proxy's) or any other scheme is refused.
func forwardedHTTPS(r *http.Request) (bool, *dualauth.Error) {
	values := r.Header[headerForwardedProto]
	switch {
	case len(values) == 0:
		return false, nil
	case len(values) > 1 || strings.Contains(values[0], ","):
		return false, invalidRequest("the request names more than one X-Forwarded-Proto")
	}
	switch strings.ToLower(strings.TrimSpace(values[0])) {
	case "https", "wss":
		return true, nil
	case "http", "ws":
		return false, nil
	}
	return false, invalidRequest("the X-Forwarded-Proto of the request is neither http nor https")
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
// headers only the credentials (Authorization, the client id and secret
// headers, and DPoP), so that nothing else the proxy sent takes part.
// When the client used https its TLS is a ConnectionState without
// certificates: the URI a DPoP proof's htu must name is then https (see
// dualauth.Origin.URI), and the TLS connection, which was the proxy's,
// presents no client certificate of this request's.
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
		d.https = u.Scheme == "https"
		uri = u.EscapedPath()
		if uri == "" {
			uri = "/"
		}
		if u.RawQuery != "" || u.ForceQuery {
			uri += "?" + u.RawQuery
		}
	}
	// A host[:port] as a URI's authority writes it, without userinfo,
	// path, percent-encoding or IPv6 zone, its port at most 65535. None
	// (an HTTP/1.0 request without Host) is left as it was: it matches no
	// host-scoped route.
	if d.host != "" && !clientaddr.ValidHostPort(d.host) {
		return nil, invalidRequest("the forwarded host is malformed")
	}
	// Host names are matched as DNS has them: case ignored, and the root
	// label's trailing dot dropped (Traefik, Caddy and Envoy pass the host
	// as the client wrote it).
	d.host = strings.ToLower(d.host)
	if h, port, err := net.SplitHostPort(d.host); err == nil {
		d.host = net.JoinHostPort(strings.TrimSuffix(h, "."), port)
	} else {
		d.host = strings.TrimSuffix(d.host, ".")
	}
	// The method as the upstream reads it: methods are case-sensitive
	// (RFC 9110 §9.1), but frameworks upper-case them, so a lower-case one
	// would be matched as another method than it is served as; and a
	// method-override header would have it served as yet another.
	if d.method != strings.ToUpper(d.method) {
		return nil, invalidRequest("the request method is not in upper case")
	}
	// Nor may the client name itself, or another method (see forged.go).
	if msg := c.forgedHeader(r.Header); msg != "" {
		return nil, invalidRequest(msg)
	}
	out, err := http.NewRequestWithContext(r.Context(), d.method, uri, nil)
	switch {
	case err != nil:
		return nil, invalidRequest("the request method or URI is malformed")
	case out.URL.Host != "" || out.URL.Scheme != "":
		// "//host/path" is a path to a server, an authority to url.Parse.
		return nil, invalidRequest(pathNotCanonical)
	case hasMethodParameter(out.URL.RawQuery):
		return nil, invalidRequest("the request carries a " + methodParameter + " query parameter, which some servers read as the method to serve it as; this server does not accept it")
	}
	if msg := checkPath(out.URL); msg != "" {
		return nil, invalidRequest(msg)
	}
	out.Host = d.host
	out.RemoteAddr = clientAddr
	if d.https {
		out.TLS = &tls.ConnectionState{}
	}
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
	// An encoded slash or backslash is one segment to the ServeMux and two
	// to servers that decode before routing; ";" starts path parameters
	// that Java servers strip. Either way the route matched here would not
	// be the one served.
	if lower := strings.ToLower(escaped); strings.Contains(lower, "%2f") || strings.Contains(lower, "%5c") || strings.Contains(escaped, ";") {
		return msg
	}
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

const pathNotCanonical = "the request path is not in canonical form (dot segments, repeated slashes, encoded slashes, path parameters, backslashes or control characters)"

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
	return clientaddr.ParseAddr(r.RemoteAddr)
}

// clientAddr is the address of the client of the original request, which
// failed credential checks are counted against: the address the proxies
// forwarded in X-Forwarded-For (see package clientaddr; the forwarding
// proxies are the trusted ones and AddressProxies), else the peer.
func (c *compiled) clientAddr(r *http.Request) string {
	if addr, _, ok := c.forwarders.Of(r); ok {
		return addr.String()
	}
	return r.RemoteAddr
}

func invalidRequest(description string) *dualauth.Error {
	return &dualauth.Error{Status: http.StatusBadRequest, Code: dualauth.CodeInvalidRequest, Description: description}
}
