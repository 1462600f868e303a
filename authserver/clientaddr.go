package authserver

import (
	"net/http"
	"net/netip"

	"github.com/keyward/keyward/internal/clientaddr"
)

// clientAddr returns the address failed client authentications of r are
// counted against, as a RemoteAddr-style "host:port" (port 0), and whether
// it was read from a forwarding header (see package clientaddr: the peer,
// unless it is a trusted proxy). A peer that is not an IP address (a Unix
// socket) is returned as is.
func clientAddr(ps clientaddr.Proxies, r *http.Request) (addr string, forwarded bool) {
	a, forwarded, ok := ps.Of(r)
	if !ok {
		return r.RemoteAddr, false
	}
	return netip.AddrPortFrom(a, 0).String(), forwarded
}
