package clientaddr

import (
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse([]string{"10.0.0.0/8", " 192.0.2.1 ", "::ffff:198.51.100.0/120", "2001:db8::1/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := Proxies{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("2001:db8::/32"),
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Parse = %v, want %v", got, want)
	}
	for _, bad := range []string{"proxy.local", "10.0.0.0/33", "fe80::1%eth0", ""} {
		if _, err := Parse([]string{bad}); err == nil {
			t.Errorf("Parse(%q) accepted it", bad)
		}
	}
}

func TestOf(t *testing.T) {
	ps, _ := Parse([]string{"10.0.0.0/8"})
	for _, tc := range []struct {
		peer, xff, fwd string
		want           string
		forwarded      bool
	}{
		{"192.0.2.7:1", "203.0.113.5", "", "192.0.2.7", false},
		{"10.1.1.1:1", "", "", "10.1.1.1", false},
		{"10.1.1.1:1", "1.1.1.1, 203.0.113.5, 10.2.2.2", "", "203.0.113.5", true},
		{"10.1.1.1:1", "10.3.3.3, 10.2.2.2", "", "10.3.3.3", true},
		{"10.1.1.1:1", "203.0.113.5, junk, 10.2.2.2", "", "10.2.2.2", true},
		{"10.1.1.1:1", "a, , 203.0.113.5", "", "203.0.113.5", true},
		{"10.1.1.1:1", "203.0.113.5", `for="[2001:db8::7]:80";proto=https`, "203.0.113.5", true}, // Forwarded is not read
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if tc.fwd != "" {
			r.Header.Set("Forwarded", tc.fwd)
		}
		got, forwarded, ok := ps.Of(r)
		if !ok || got.String() != tc.want || forwarded != tc.forwarded {
			t.Errorf("peer %s, XFF %q, Forwarded %q: %v %v %v, want %s %v", tc.peer, tc.xff, tc.fwd, got, forwarded, ok, tc.want, tc.forwarded)
		}
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "@unix"
	if _, _, ok := ps.Of(r); ok {
		t.Error("a peer that is no IP address gave an address")
	}
}

// TestKey: IPv4 as it is, IPv6 by its /64, and an IPv6 address that
// carries a client's IPv4 address by that IPv4 address.
func TestKey(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"IPv4 with a port", "192.0.2.7:1234", "192.0.2.7"},
		{"IPv6 by /64", "2001:db8:1:2:3::9", "2001:db8:1:2::/64"},
		{"zone dropped", "[fe80::1%eth0]:1", "fe80::/64"},
		{"not an address", "not an address", "not an address"},
		{"IPv4-mapped", "[::ffff:192.0.2.7]:1", "192.0.2.7"},
		{"NAT64 well-known prefix", "64:ff9b::192.0.2.33", "192.0.2.33"},
		{"NAT64 well-known prefix, hex", "[64:ff9b::c000:222]:443", "192.0.2.34"},
		{"NAT64 local use, /96 form", "64:ff9b:1::c000:221", "64:ff9b:1::c000:221"},
		{"NAT64 local use, another client", "64:ff9b:1::c000:222", "64:ff9b:1::c000:222"},
		{"NAT64 local use, /48 form", "64:ff9b:1:c000:2:2100::", "64:ff9b:1:c000:2:2100::"},
		{"IPv4-compatible", "::192.0.2.7", "192.0.2.7"},
		{"IPv4-compatible, another", "[::198.51.100.1]:80", "198.51.100.1"},
		{"loopback is not IPv4-compatible", "[::1]:1", "::/64"},
		{"unspecified is not IPv4-compatible", "::", "::/64"},
		{"IPv4-translated", "::ffff:0:192.0.2.9", "192.0.2.9"},
		{"6to4", "2002:c000:201::1", "192.0.2.1"},
		{"6to4, another subnet of the same IPv4", "2002:c000:201:ffff:1:2:3:4", "192.0.2.1"},
		{"6to4, another IPv4", "2002:c000:202:1::1", "192.0.2.2"},
		{"Teredo, RFC 4380's example", "2001:0000:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"},
		{"Teredo, another server and port", "[2001:0:5ef5:79fb:0:59d:3fff:fdd2]:1", "192.0.2.45"},
		{"Teredo, another client", "2001:0:4136:e378:8000:63bf:3fff:fdd1", "192.0.2.46"},
		{"2001:db8::/32 is not Teredo", "2001:db8::c000:22d", "2001:db8::/64"},
		{"2001:1::/32 is not Teredo", "2001:1::1", "2001:1::/64"},
		{"2003::/16 is not 6to4", "2003:c000:201::1", "2003:c000:201::/64"},
		{"64:ff9b:0:1::/64 is in no NAT64 prefix", "64:ff9b:0:1::c000:221", "64:ff9b:0:1::/64"},
	} {
		if got := Key(tc.in); got != tc.want {
			t.Errorf("%s: Key(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}

// FuzzKey: Key never panics, is its own key, writes one address alike
// however it is written, and keys an IPv6 address by an IPv4 address, by
// its /64, or (local-use NAT64) by itself.
func FuzzKey(f *testing.F) {
	for _, s := range []string{"192.0.2.7:1", "[2001:db8::1]:80", "64:ff9b::1.2.3.4", "2002:102:304::", "2001::ffff:ffff", "::1", "::ffff:0:1.2.3.4", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k := Key(s)
		if again := Key(k); again != k {
			t.Fatalf("Key(%q) = %q, whose key is %q", s, k, again)
		}
		a, ok := ParseAddr(s)
		if !ok {
			return
		}
		for _, form := range []string{a.String(), "[" + a.String() + "]:1", a.StringExpanded()} {
			if got := Key(form); got != k {
				t.Fatalf("Key(%q) = %q but Key(%q) = %q", s, k, form, got)
			}
		}
		if !a.Is6() {
			return
		}
		if v4, err := netip.ParseAddr(k); err == nil && v4.Is4() {
			return
		}
		if p, err := netip.ParsePrefix(k); err == nil && p.Bits() == 64 && p.Contains(a) {
			return
		}
		if k == a.String() && nat64LocalUse.Contains(a) {
			return
		}
		t.Fatalf("Key(%q) = %q: no IPv4 address, no /64 of it, not itself in 64:ff9b:1::/48", s, k)
	})
}

// FuzzKeyEmbedded: of an IPv6 address that carries an IPv4 address, the
// bits the client or its relay chooses (6to4's subnet and interface,
// Teredo's server, flags and port) do not change the key, and the IPv4
// address does.
func FuzzKeyEmbedded(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1}, []byte("some noise bits!"))
	f.Add([]byte{0, 0, 0, 0}, []byte{})
	f.Fuzz(func(t *testing.T, v4 []byte, noise []byte) {
		if len(v4) < 4 {
			return
		}
		ip := netip.AddrFrom4([4]byte(v4[:4]))
		var n [16]byte
		copy(n[:], noise)
		sixToFour := func(n [16]byte) netip.Addr {
			b := n
			b[0], b[1] = 0x20, 0x02
			copy(b[2:6], v4[:4])
			return netip.AddrFrom16(b)
		}
		teredo := func(n [16]byte) netip.Addr {
			b := n
			b[0], b[1], b[2], b[3] = 0x20, 0x01, 0, 0
			for i := range 4 {
				b[12+i] = ^v4[i]
			}
			return netip.AddrFrom16(b)
		}
		nat64 := func([16]byte) netip.Addr {
			return netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 12: v4[0], v4[1], v4[2], v4[3]})
		}
		for name, build := range map[string]func([16]byte) netip.Addr{"6to4": sixToFour, "Teredo": teredo, "NAT64": nat64} {
			a := build(n)
			if got := Key(a.String()); got != ip.String() {
				t.Fatalf("%s %s: key %q, want %q", name, a, got, ip)
			}
			other := v4[3] ^ 1
			b := a.As16()
			if name == "6to4" {
				b[5] = other
			} else if name == "Teredo" {
				b[15] = ^other
			} else {
				b[15] = other
			}
			if Key(netip.AddrFrom16(b).String()) == Key(a.String()) {
				t.Fatalf("%s: %s and %s, of two IPv4 addresses, share a key", name, a, netip.AddrFrom16(b))
			}
		}
	})
}
