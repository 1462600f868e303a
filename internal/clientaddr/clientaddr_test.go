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

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:1234": "192.0.2.7", "[::ffff:192.0.2.7]:1": "192.0.2.7", "2001:db8:1:2:3::9": "2001:db8:1:2::/64",
		"[fe80::1%eth0]:1": "fe80::/64", "not an address": "not an address",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}
