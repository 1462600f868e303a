package dualauth

import (
	"net/http"

	"github.com/keyward/keyward/internal/clientaddr"
)

// clientAddr is the key failed credential checks of r are counted under
// (clientaddr.Key: the IP, IPv6 by its /64): Config.ClientAddr's
// answer if it is set; else the address r comes from through the trusted
// proxies (clientaddr.Proxies.Of); else r.RemoteAddr as it is.
func (a *Authenticator) clientAddr(r *http.Request) string {
	if a.addrFunc != nil {
		return clientaddr.Key(a.addrFunc(r))
	}
	if addr, _, ok := a.trustedProxies.Of(r); ok {
		return clientaddr.Key(addr.String())
	}
	return clientaddr.Key(r.RemoteAddr)
}
