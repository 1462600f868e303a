package clientaddr

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestTrustsPeer(t *testing.T) {
	ps, err := Parse([]string{"10.0.0.0/8", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, remoteAddr string
		proxies          Proxies
		want             bool
	}{
		{"trusted IPv4 peer", "10.1.2.3:443", ps, true},
		{"trusted IPv6 peer", "[::1]:8080", ps, true},
		{"IPv4-mapped trusted peer", "[::ffff:10.0.0.1]:1", ps, true},
		{"untrusted peer", "192.0.2.1:443", ps, false},
		{"no trusted proxies", "10.1.2.3:443", nil, false},
		{"peer that is no IP", "@unix", ps, false},
		{"empty peer", "", ps, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://api.test/", nil)
			r.RemoteAddr = tt.remoteAddr
			r.Header.Set("X-Forwarded-For", "10.9.9.9")
			if got := tt.proxies.TrustsPeer(r); got != tt.want {
				t.Errorf("TrustsPeer(%q) = %v, want %v", tt.remoteAddr, got, tt.want)
			}
		})
	}
	if ps.TrustsPeer(nil) {
		t.Error("TrustsPeer(nil) = true, want false")
	}
}
