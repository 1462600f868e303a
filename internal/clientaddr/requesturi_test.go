package clientaddr

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestRequestURI: the URI a DPoP proof's htu is compared with — the
// request's own scheme and host unless the peer is a trusted proxy, whose
// X-Forwarded-Proto and X-Forwarded-Host then stand for them (each alone
// too); "" for an ambiguous forwarded value; the path as the request line
// wrote it, even when a handler changed r.URL (http.StripPrefix), without
// the query.
func TestRequestURI(t *testing.T) {
	ps, _ := Parse([]string{"10.0.0.0/8"})
	for _, tc := range []struct {
		name, peer, target string
		tls                bool
		header             http.Header
		strip              string // a prefix http.StripPrefix removes from r.URL
		want               string
	}{
		{name: "plain", peer: "192.0.2.7:1", target: "/a/b?x=1", want: "http://api.test/a/b"},
		{name: "TLS", peer: "192.0.2.7:1", target: "/a", tls: true, want: "https://api.test/a"},
		{name: "escaped path as written", peer: "192.0.2.7:1", target: "/a%2Fb/%7Ec", want: "http://api.test/a%2Fb/%7Ec"},
		{name: "forwarded by an untrusted peer: ignored", peer: "192.0.2.7:1", target: "/a",
			header: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"evil.example"}}, want: "http://api.test/a"},
		{name: "forwarded by a trusted proxy", peer: "10.1.1.1:1", target: "/a",
			header: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"api.example:8443"}}, want: "https://api.example:8443/a"},
		{name: "trusted proxy, scheme only", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Proto": {"https"}}, want: "https://api.test/a"},
		{name: "trusted proxy, host only", peer: "10.1.1.1:1", target: "/a", tls: true, header: http.Header{"X-Forwarded-Host": {"api.example"}}, want: "https://api.example/a"},
		{name: "trusted proxy, no forwarded headers", peer: "10.1.1.1:1", target: "/a", want: "http://api.test/a"},
		{name: "trusted proxy, two schemes in a list", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Proto": {"https, http"}}, want: ""},
		{name: "trusted proxy, two host headers", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"a.example", "b.example"}}, want: ""},
		{name: "trusted proxy, wss scheme", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Proto": {"WSS"}}, want: "https://api.test/a"},
		{name: "trusted proxy, IPv6 host", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"[2001:db8::1]:8443"}}, want: "http://[2001:db8::1]:8443/a"},
		{name: "trusted proxy, scheme with a host in it", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Proto": {"https://evil.example/x?"}}, want: ""},
		{name: "trusted proxy, host with a path", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"evil.example/x"}}, want: ""},
		{name: "trusted proxy, host with a userinfo", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"api.example@evil.example"}}, want: ""},
		{name: "trusted proxy, host with a backslash", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"evil.example\\x"}}, want: ""},
		{name: "trusted proxy, host with a query", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"evil.example?"}}, want: ""},
		{name: "trusted proxy, host with a fragment", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"evil.example#"}}, want: ""},
		{name: "trusted proxy, host with a space", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"api example"}}, want: ""},
		{name: "trusted proxy, host with a control character", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"api\x7fexample"}}, want: ""},
		{name: "trusted proxy, host percent-encoded", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"api%2eexample"}}, want: ""},
		{name: "trusted proxy, port not a number", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"api.example:https"}}, want: ""},
		{name: "trusted proxy, port too large", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"api.example:65536"}}, want: ""},
		{name: "trusted proxy, two ports", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"api.example:1:2"}}, want: ""},
		{name: "trusted proxy, empty host", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {":443"}}, want: ""},
		{name: "trusted proxy, IPv6 with a zone", peer: "10.1.1.1:1", target: "/a", header: http.Header{"X-Forwarded-Host": {"[fe80::1%25eth0]"}}, want: ""},
		{name: "behind StripPrefix", peer: "192.0.2.7:1", target: "/api/a?q", strip: "/api", want: "http://api.test/api/a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://api.test"+tc.target, nil)
			r.RequestURI = tc.target // as a server reads it
			r.RemoteAddr = tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for name, values := range tc.header {
				r.Header[name] = values
			}
			var got string
			h := http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = ps.RequestURI(r) })
			if tc.strip != "" {
				http.StripPrefix(tc.strip, h).ServeHTTP(httptest.NewRecorder(), r)
			} else {
				h.ServeHTTP(httptest.NewRecorder(), r)
			}
			if got != tc.want {
				t.Fatalf("%q, want %q", got, tc.want)
			}
		})
	}
	// A request a client builds has no request line: r.URL's path.
	r := &http.Request{Method: http.MethodGet, Host: "api.test", URL: &url.URL{Path: "/a b"}}
	if got, want := ps.RequestURI(r), "http://api.test/a%20b"; got != want {
		t.Fatalf("without RequestURI: %q, want %q", got, want)
	}
	if got := ps.RequestURI(nil); got != "" {
		t.Fatalf("nil request: %q", got)
	}
}
