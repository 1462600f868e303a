package dualauth

import (
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
)

// clientAddr is the address failed credential checks are counted against,
// always normalized by addrKey: Credentials.ClientAddr's answer if it is
// set; else, when the direct peer is one of Credentials.TrustedProxies, the
// address the proxies forwarded (see forwardedFor); else the peer.
func (a *Authenticator) clientAddr(r *http.Request) string {
	if a.addrFunc != nil {
		return addrKey(a.addrFunc(r))
	}
	if len(a.trustedProxies) > 0 {
		if peer, ok := parseAddr(r.RemoteAddr); ok && a.trusted(peer) {
			if addr, ok := a.forwardedFor(r); ok {
				return addrKey(addr.String())
			}
		}
	}
	return addrKey(r.RemoteAddr)
}

// forwardedFor returns the client address the trusted proxies forwarded:
// of the addresses of RFC 7239 Forwarded "for=" (or, without a Forwarded
// header, of X-Forwarded-For), the right-most one that is not a trusted
// proxy, or the left-most if all are. Each proxy appends the address of the
// peer it saw, so the addresses right of the first untrusted one were all
// written by trusted proxies, and those left of it may be the client's own
// inventions. A malformed entry in the trusted part is a proxy's fault: the
// peer is used instead (ok is false).
func (a *Authenticator) forwardedFor(r *http.Request) (netip.Addr, bool) {
	hops := forwardedHops(r.Header)
	for i := len(hops) - 1; i >= 0; i-- {
		addr, ok := parseAddr(hops[i])
		if !ok {
			return netip.Addr{}, false
		}
		if !a.trusted(addr) || i == 0 {
			return addr, true
		}
	}
	return netip.Addr{}, false
}

// forwardedHops lists the forwarded client addresses in order, from the
// Forwarded header's "for" parameters if there is one, else from
// X-Forwarded-For.
func forwardedHops(h http.Header) []string {
	var hops []string
	if values := h.Values("Forwarded"); len(values) > 0 {
		for _, v := range values {
			for elem := range strings.SplitSeq(v, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
					if strings.EqualFold(name, "for") {
						hops = append(hops, strings.Trim(value, `"`))
					}
				}
			}
		}
		return hops
	}
	for _, v := range h.Values("X-Forwarded-For") {
		for hop := range strings.SplitSeq(v, ",") {
			hops = append(hops, strings.TrimSpace(hop))
		}
	}
	return hops
}

// trusted reports whether addr is in one of the trusted proxy ranges.
func (a *Authenticator) trusted(addr netip.Addr) bool {
	return slices.ContainsFunc(a.trustedProxies, func(p netip.Prefix) bool { return p.Contains(addr) })
}

// parseAddr reads an address as RemoteAddr, X-Forwarded-For and RFC 7239
// write it: "192.0.2.1", "192.0.2.1:1234", "2001:db8::1", "[2001:db8::1]"
// or "[2001:db8::1]:1234"; zones are dropped and IPv4-mapped IPv6
// addresses are taken as IPv4.
func parseAddr(s string) (netip.Addr, bool) {
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	addr, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.Unmap().WithZone(""), true
}

// addrKey is the key an address is counted under: the IP, with IPv6
// addresses taken as their /64 network, since one host commonly holds a
// whole /64. A string that is no address is its own key.
func addrKey(s string) string {
	addr, ok := parseAddr(s)
	if !ok {
		return s
	}
	if addr.Is6() {
		prefix, _ := addr.Prefix(64)
		return prefix.String()
	}
	return addr.String()
}
