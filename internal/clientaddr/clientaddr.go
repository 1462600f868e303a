// Package clientaddr tells which address a request comes from when proxies
// or load balancers stand in front of the server, for the throttles of
// failed authentications.
//
// The direct peer is the client unless it is one of the trusted proxies;
// then the address the proxies forwarded is: of X-Forwarded-For, the
// right-most address that is not a trusted proxy, or the left-most if all
// are. Each proxy appends the address of the peer it saw, so the addresses
// right of the first untrusted one were written by trusted proxies, and
// those left of it may be the client's own inventions. A malformed entry
// stops the walk at the trusted hop that wrote it.
//
// RFC 7239 Forwarded and X-Real-IP are not read: the proxies that do not
// maintain them (nginx and most others by default) pass a client's own
// through, and then every address in them would be the client's choice.
package clientaddr

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Proxies are the networks of the trusted proxies.
type Proxies []netip.Prefix

// ParseError is an entry Parse cannot read.
type ParseError struct {
	Index int    // of the entry in the list
	Entry string // the entry
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("entry %d, %q, is not an IP address or a CIDR range such as 10.0.0.0/8", e.Index, e.Entry)
}

// Parse reads trusted proxies written as CIDR prefixes ("10.0.0.0/8") or
// single addresses; IPv4-mapped IPv6 ones are taken as IPv4. Its error is
// a *ParseError.
func Parse(list []string) (Proxies, error) {
	var out Proxies
	for i, s := range list {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil || a.Zone() != "" {
				return nil, &ParseError{Index: i, Entry: s}
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p)
	}
	return Normalize(out), nil
}

// Normalize returns ps (nil if empty) masked, with IPv4-mapped IPv6 prefixes taken as the
// IPv4 prefixes they map, since addresses are compared unmapped.
func Normalize(ps []netip.Prefix) Proxies {
	if len(ps) == 0 {
		return nil
	}
	out := make(Proxies, 0, len(ps))
	for _, p := range ps {
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out
}

// Trusts reports whether a is the address of a trusted proxy.
func (ps Proxies) Trusts(a netip.Addr) bool {
	return slices.ContainsFunc(ps, func(p netip.Prefix) bool { return p.Contains(a) })
}

// TrustsPeer reports whether r's direct peer (r.RemoteAddr) is a trusted
// proxy, whose forwarded headers count; false for a nil r.
func (ps Proxies) TrustsPeer(r *http.Request) bool {
	if r == nil {
		return false
	}
	peer, ok := ParseAddr(r.RemoteAddr)
	return ok && ps.Trusts(peer)
}

// Of returns the address r comes from (see the package documentation) and
// whether it was read from a forwarding header. ok is false when the peer
// is not an IP address (a Unix socket, say).
func (ps Proxies) Of(r *http.Request) (addr netip.Addr, forwarded, ok bool) {
	peer, ok := ParseAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, false, false
	}
	if len(ps) == 0 || !ps.Trusts(peer) {
		return peer, false, true
	}
	hops := forwardedHops(r.Header)
	client, forwarded := peer, false
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := ParseAddr(hops[i])
		if !ok {
			break
		}
		client, forwarded = a, true
		if !ps.Trusts(a) {
			break
		}
	}
	return client, forwarded, true
}

// forwardedHops lists the X-Forwarded-For entries in order, empty ones
// KeyOf is the key failed credential checks of r are counted under (Key:
// the IP, IPv6 by its /64): f's answer if f is set; else the address r
// comes from through ps (Of); else r.RemoteAddr as it is.
func (ps Proxies) KeyOf(r *http.Request, f func(r *http.Request) string) string {
	if f != nil {
		return Key(f(r))
	}
	if addr, _, ok := ps.Of(r); ok {
		return Key(addr.String())
	}
	return Key(r.RemoteAddr)
}

// left out.
func forwardedHops(h http.Header) []string {
	var hops []string
	for _, v := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(v, ",") {
			if hop = strings.TrimSpace(hop); hop != "" {
				hops = append(hops, hop)
			}
		}
	}
	return hops
}

// ParseAddr reads an address as RemoteAddr and X-Forwarded-For write it: "192.0.2.1", "192.0.2.1:1234", "2001:db8::1", "[2001:db8::1]"
// or "[2001:db8::1]:1234"; zones are dropped and IPv4-mapped IPv6 addresses
// are taken as IPv4.
func ParseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// Key is the key failures from the address s are counted under: the IP,
// with an IPv6 address taken as its /64 network, since one host commonly
// holds a whole /64. A string that is no address is its own key.
//
// An IPv6 address that carries a client's IPv4 address is keyed by that
// IPv4 address, as the IPv4 address itself is: else a translator's
// clients would all share one /64 (NAT64, the Teredo clients of one
// server), or one IPv4 address would hold 65,536 /64s (6to4). Read this
// way are the NAT64 well-known prefix 64:ff9b::/96 (RFC 6052), IPv4-mapped
// ::ffff:0:0/96, IPv4-translated ::ffff:0:0:0/96 (RFC 2765),
// IPv4-compatible ::/96 less ::/104 (which holds :: and ::1; RFC 4291),
// 6to4 2002::/16 (RFC 3056) and Teredo 2001::/32, whose client address is
// the last 32 bits inverted (RFC 4380). An address in the local-use NAT64
// prefix 64:ff9b:1::/48 (RFC 8215) is its own key: where its IPv4 address
// lies depends on the length of the prefix its translator uses, and every
// other bit is fixed by the translator. Translators with prefixes of their
// own are not known here: a dualauth.Config.ClientAddr function can key them.
func Key(s string) string {
	a, ok := ParseAddr(s)
	switch {
	case !ok:
		return s
	case a.Is4():
		return a.String()
	}
	if v4, ok := embeddedIPv4(a); ok {
		return v4.String()
	}
	if nat64LocalUse.Contains(a) {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// The IPv6 prefixes whose addresses carry an IPv4 address (see Key).
var (
	nat64WellKnown = netip.MustParsePrefix("64:ff9b::/96")
	nat64LocalUse  = netip.MustParsePrefix("64:ff9b:1::/48")
	ipv4Translated = netip.MustParsePrefix("::ffff:0:0:0/96")
	ipv4Compatible = netip.MustParsePrefix("::/96")
	ipv4Unused     = netip.MustParsePrefix("::/104") // 0.0.0.0/8 "compatible": ::, ::1 and the like
	sixToFour      = netip.MustParsePrefix("2002::/16")
	teredo         = netip.MustParsePrefix("2001::/32")
)

// embeddedIPv4 returns the IPv4 address a, an IPv6 address that is not
// IPv4-mapped, carries in one of the forms Key reads, if it does.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	b := a.As16()
	switch {
	case nat64WellKnown.Contains(a), ipv4Translated.Contains(a),
		ipv4Compatible.Contains(a) && !ipv4Unused.Contains(a):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixToFour.Contains(a):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	case teredo.Contains(a):
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return netip.Addr{}, false
}

// RequestURI is the URI of r without its query, as the client wrote it,
// for a DPoP proof's htu (RFC 9449 §4.3): the scheme (https when r came
// over TLS) and host (r.Host) of r itself, unless the direct peer is a
// trusted proxy and sent X-Forwarded-Proto or X-Forwarded-Host, which then
// stand for them; and the path as the request line wrote it (r.RequestURI,
// which a handler such as http.StripPrefix leaves alone), or r.URL's
// escaped path for a request that has none (a client's, or the absolute
// form of a proxy request). A forwarded header that holds more than one
// value (repeated, or a list) cannot tell which hop wrote what, and a
// scheme other than http or https (ws and wss stand for them) or a host
// that ValidHostPort refuses is not a URI's: the URI is then "", which no
// proof's htu matches. A nil r has the URI "".
func (ps Proxies) RequestURI(r *http.Request) string {
	if r == nil || r.URL == nil {
		return ""
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if ps.TrustsPeer(r) {
		for _, h := range [...]struct {
			name string
			to   *string
		}{{"X-Forwarded-Proto", &scheme}, {"X-Forwarded-Host", &host}} {
			switch values := r.Header.Values(h.name); {
			case len(values) > 1 || len(values) == 1 && strings.Contains(values[0], ","):
				return ""
			case len(values) == 1:
				*h.to = strings.TrimSpace(values[0])
			}
		}
		switch strings.ToLower(scheme) {
		case "https", "wss":
			scheme = "https"
		case "http", "ws":
			scheme = "http"
		default:
			return ""
		}
		if !ValidHostPort(host) {
			return ""
		}
	}
	path := r.URL.EscapedPath()
	if strings.HasPrefix(r.RequestURI, "/") {
		path, _, _ = strings.Cut(r.RequestURI, "?")
	}
	return scheme + "://" + host + path
}

// ValidHostPort reports whether s is a host with an optional port, as the
// authority of an http(s) URI without userinfo writes it (RFC 3986 §3.2.2
// and §3.2.3): a DNS name or IPv4 address (letters, digits, "-", ".",
// "_" and "~"), or an IPv6 address in brackets, then ":" and a port of 1
// to 5 digits up to 65535. White space, control characters, "/", "\",
// "@", "?", "#", "," and percent-encodings are refused, so that a value a
// proxy forwards cannot carry a path, a userinfo or a second host.
func ValidHostPort(s string) bool {
	host, port := s, ""
	if inner, bracketed := strings.CutPrefix(s, "["); bracketed {
		literal, rest, closed := strings.Cut(inner, "]")
		a, err := netip.ParseAddr(literal)
		if !closed || err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		if rest == "" {
			return true
		}
		var colon bool
		if port, colon = strings.CutPrefix(rest, ":"); !colon {
			return false
		}
		return validPort(port)
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		host, port = s[:i], s[i+1:]
		if !validPort(port) {
			return false
		}
	}
	if host == "" {
		return false
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// validPort reports whether port is 1 to 5 decimal digits, at most 65535.
func validPort(port string) bool {
	_, err := strconv.ParseUint(port, 10, 16) // at most 65535; no sign
	return err == nil && len(port) <= 5
}
