package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestKeyOf(t *testing.T) {
	type keyer struct {
		proxies Proxies
		f       func(*http.Request) string
	}
	withProxies := keyer{proxies: Normalize([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ff::/48")})}
	noProxies := keyer{}
	byFunc := keyer{f: func(r *http.Request) string { return r.Header.Get("X-Real-IP") }}
	for _, tc := range []struct {
		name   string
		a      keyer
		peer   string
		header map[string][]string
		want   string
	}{
		{"peer", noProxies, "192.0.2.7:1234", nil, "192.0.2.7"},
		{"mapped peer", noProxies, "[::ffff:192.0.2.7]:1234", nil, "192.0.2.7"},
		{"IPv6 peer by /64", noProxies, "[2001:db8:1:2:3:4:5:6]:1234", nil, "2001:db8:1:2::/64"},
		{"no proxies: headers ignored", noProxies, "192.0.2.7:1", map[string][]string{"X-Forwarded-For": {"203.0.113.5"}}, "192.0.2.7"},
		{"untrusted peer: headers ignored", withProxies, "192.0.2.7:1", map[string][]string{"X-Forwarded-For": {"203.0.113.5"}}, "192.0.2.7"},
		{"trusted peer", withProxies, "10.1.2.3:1", map[string][]string{"X-Forwarded-For": {"203.0.113.5"}}, "203.0.113.5"},
		{"client-supplied entries left of the real one", withProxies, "10.1.2.3:1", map[string][]string{"X-Forwarded-For": {"1.1.1.1, 2.2.2.2, 203.0.113.5, 10.9.9.9"}}, "203.0.113.5"},
		{"several header lines", withProxies, "10.1.2.3:1", map[string][]string{"X-Forwarded-For": {"1.1.1.1", "203.0.113.5, 10.9.9.9"}}, "203.0.113.5"},
		{"all trusted: the left-most", withProxies, "10.1.2.3:1", map[string][]string{"X-Forwarded-For": {"10.5.5.5, 10.9.9.9"}}, "10.5.5.5"},
		{"mapped in header", withProxies, "10.1.2.3:1", map[string][]string{"X-Forwarded-For": {"::ffff:203.0.113.5"}}, "203.0.113.5"},
		{"IPv6 in header by /64", withProxies, "[2001:db8:ff::1]:1", map[string][]string{"X-Forwarded-For": {"2001:db8:5:6::9"}}, "2001:db8:5:6::/64"},
		{"malformed trusted hop: the peer", withProxies, "10.1.2.3:1", map[string][]string{"X-Forwarded-For": {"203.0.113.5, garbage"}}, "10.1.2.3"},
		{"empty header: the peer", withProxies, "10.1.2.3:1", map[string][]string{"X-Forwarded-For": {""}}, "10.1.2.3"},
		{"Forwarded is not read", withProxies, "10.1.2.3:1", map[string][]string{"Forwarded": {"for=198.51.100.1"}}, "10.1.2.3"},
		{"Forwarded beside X-Forwarded-For", withProxies, "10.1.2.3:1", map[string][]string{"Forwarded": {"for=198.51.100.1"}, "X-Forwarded-For": {"203.0.113.5"}}, "203.0.113.5"},
		{"ClientAddr normalized", byFunc, "10.1.2.3:1", map[string][]string{"X-Real-Ip": {"::ffff:203.0.113.5"}}, "203.0.113.5"},
		{"ClientAddr IPv6 by /64", byFunc, "10.1.2.3:1", map[string][]string{"X-Real-Ip": {"2001:db8:1:2::99"}}, "2001:db8:1:2::/64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			for k, vs := range tc.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			if got := tc.a.proxies.KeyOf(r, tc.a.f); got != tc.want {
				t.Fatalf("KeyOf = %q, want %q", got, tc.want)
			}
		})
	}
}
