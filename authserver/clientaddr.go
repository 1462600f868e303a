package authserver

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
)

// headerForwardedFor is the de facto standard header in which proxies
// append the address they received a request from.
const headerForwardedFor = "X-Forwarded-For"

// proxies are the networks of trusted proxies (Config.TrustedProxies).
type proxies []netip.Prefix

// parseProxies reads Config.TrustedProxies: CIDR prefixes or single
// addresses. IPv4-mapped IPv6 prefixes are taken as the IPv4 prefixes they
// map, since addresses are compared unmapped.
func parseProxies(list []string) (proxies, error) {
	var out proxies
	for i, s := range list {
		s = strings.TrimSpace(s)
		var p netip.Prefix
		var err error
		if strings.Contains(s, "/") {
			p, err = netip.ParsePrefix(s)
		} else {
			var a netip.Addr
			if a, err = netip.ParseAddr(s); err == nil && a.Zone() == "" {
				p = netip.PrefixFrom(a, a.BitLen())
			}
		}
		if err != nil || !p.IsValid() {
			return nil, fmt.Errorf("authserver: TrustedProxies[%d] %q is not a CIDR prefix (such as 10.0.0.0/8) or an IP address", i, s)
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// trusts reports whether a is the address of a trusted proxy.
func (ps proxies) trusts(a netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr returns the address failed client authentications of r are
// counted against, as a RemoteAddr-style "host:port" (port 0), and whether
// it was read from X-Forwarded-For. It is the peer's address unless the peer
// is a trusted proxy: then it is the right-most X-Forwarded-For address
// that is not a trusted proxy's (each proxy appends the address it received
// the request from, so the addresses right of it were written by trusted
// proxies and the first untrusted one is where the request came from; what
// is left of it may be forged). If every address is trusted, it is the
// left-most; if the walk meets an entry that is not an address, it stops at
// the trusted hop that wrote it. Addresses are normalised: IPv4-mapped IPv6
// addresses are taken as IPv4, zones dropped (the throttle then counts IPv6
// addresses by their /64). A peer that is not an IP address (a Unix socket)
// is returned as is.
func (ps proxies) clientAddr(r *http.Request) (addr string, forwarded bool) {
	peer, ok := parseHostAddr(r.RemoteAddr)
	if !ok {
		return r.RemoteAddr, false
	}
	if len(ps) == 0 || !ps.trusts(peer) {
		return addrString(peer), false
	}
	client, hops := peer, 0
	values := r.Header.Values(headerForwardedFor)
walk:
	for i := len(values) - 1; i >= 0; i-- {
		v := values[i]
		for v != "" {
			var entry string
			if j := strings.LastIndexByte(v, ','); j >= 0 {
				v, entry = v[:j], v[j+1:]
			} else {
				v, entry = "", v
			}
			entry = strings.TrimSpace(entry)
			if entry == "" {
				continue // "a, , b" or a trailing comma: nothing was appended
			}
			a, ok := parseHostAddr(entry)
			if !ok {
				break walk
			}
			client, hops = a, hops+1
			if !ps.trusts(a) {
				break walk
			}
		}
	}
	return addrString(client), hops > 0
}

// parseHostAddr reads an IP address, with or without a port ("192.0.2.1",
// "192.0.2.1:443", "2001:db8::1", "[2001:db8::1]:443"), unmapped and
// without zone.
func parseHostAddr(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			// "[2001:db8::1]" without a port.
			if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
				return parseHostAddr(s[1 : len(s)-1])
			}
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// addrString is a in the RemoteAddr form the throttle reads.
func addrString(a netip.Addr) string { return netip.AddrPortFrom(a, 0).String() }
