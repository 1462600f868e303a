package jwks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

func metadata(t *testing.T, issuer, jwksURI string) []byte {
	t.Helper()
	doc := map[string]any{"issuer": issuer, "jwks_uri": jwksURI, "response_types_supported": []string{"code"}}
	if jwksURI == "" {
		delete(doc, "jwks_uri")
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newDiscovered(t *testing.T, issuer string, o jwks.Options) *jwks.Remote {
	t.Helper()
	r, err := jwks.NewDiscovered(context.Background(), issuer, o)
	if err != nil {
		t.Fatalf("NewDiscovered(%s): %v", issuer, err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name     string
		path     string // issuer path
		metaPath string // where the test serves the metadata
	}{
		{"OpenID Connect", "", "/.well-known/openid-configuration"},
		{"RFC 8414 fallback", "", "/.well-known/oauth-authorization-server"},
		{"OpenID Connect, issuer with path", "/tenant", "/tenant/.well-known/openid-configuration"},
		{"RFC 8414 fallback, issuer with path", "/tenant", "/.well-known/oauth-authorization-server/tenant"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			issuer := p.srv.URL + tc.path
			p.serveJSON(tc.metaPath, metadata(t, issuer, p.url("/keys")))
			p.serveJSON("/keys", jwksJSON(t, jwk{key: ecP256(), kid: "k"}))
			r := newDiscovered(t, issuer, jwks.Options{})
			st := r.Status()
			if st.Source != issuer || st.Keys != 1 || st.LastError != "" {
				t.Fatalf("status = %+v", st)
			}
			wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k")))
		})
	}
}

func TestDiscoveryRejections(t *testing.T) {
	tests := []struct {
		name    string
		doc     func(p *idp, issuer string) []byte
		wantErr string
	}{
		{"issuer mismatch", func(p *idp, _ string) []byte {
			return metadata(t, "https://evil.example/secret-issuer", p.url("/keys"))
		}, `"issuer" does not match`},
		{"issuer with trailing slash", func(p *idp, issuer string) []byte {
			return metadata(t, issuer+"/", p.url("/keys"))
		}, `"issuer" does not match`},
		{"no jwks_uri", func(_ *idp, issuer string) []byte {
			return metadata(t, issuer, "")
		}, `no "jwks_uri"`},
		{"http jwks_uri on a non-loopback host", func(_ *idp, issuer string) []byte {
			return metadata(t, issuer, "http://secret.example/keys")
		}, `"jwks_uri" refused`},
		{"not JSON", func(*idp, string) []byte { return []byte("<html>secret</html>") }, "not valid JSON"},
		{"oversized", func(*idp, string) []byte { return oversized() }, "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			issuer := p.srv.URL
			doc := tc.doc(p, issuer)
			p.serveJSON("/.well-known/openid-configuration", doc)
			p.serveJSON("/.well-known/oauth-authorization-server", doc)
			p.serveJSON("/keys", jwksJSON(t, jwk{key: ecP256(), kid: "k"}))
			r := newDiscovered(t, issuer, jwks.Options{MaxBytes: 4096})
			st := r.Status()
			if st.Keys != 0 || !strings.Contains(st.LastError, tc.wantErr) {
				t.Fatalf("status = %+v, want no keys and LastError containing %q", st, tc.wantErr)
			}
			if strings.Contains(st.LastError, "secret") {
				t.Fatalf("LastError quotes the document: %q", st.LastError)
			}
			wantErr(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k")), jwks.ErrUnavailable)
		})
	}
}

func TestDiscoveryLazy(t *testing.T) {
	p := newIDP(t)
	issuer := p.srv.URL
	p.handle("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	p.serveJSON("/keys", jwksJSON(t, jwk{key: ecP256(), kid: "k"}))
	r := newDiscovered(t, issuer, jwks.Options{})
	if st := r.Status(); st.Keys != 0 || !strings.Contains(st.LastError, "discovery failed") {
		t.Fatalf("status with metadata down = %+v", st)
	}

	// Metadata comes up: the next refresh discovers and loads.
	p.serveJSON("/.well-known/openid-configuration", metadata(t, issuer, p.url("/keys")))
	wantOK(t, r.Refresh(context.Background()))
	wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k")))
}

// serveMetadata serves the issuer's OpenID Connect metadata naming the
// jwks_uri held in jwksURI, counting the reads.
func serveMetadata(t *testing.T, p *idp, issuer string, jwksURI *atomic.Pointer[string], reads *atomic.Int64) {
	t.Helper()
	p.handle("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		reads.Add(1)
		_, _ = w.Write(metadata(t, issuer, *jwksURI.Load()))
	})
}

// TestDiscoveryReadAgain: the metadata is read again on the refresh schedule
// and on Refresh, so a jwks_uri that changes is followed; a refresh started
// by an unknown kid uses the jwks_uri found last.
func TestDiscoveryReadAgain(t *testing.T) {
	p := newIDP(t)
	issuer := p.srv.URL
	var uri atomic.Pointer[string]
	var reads atomic.Int64
	first, second := p.url("/keys"), p.url("/keys2")
	uri.Store(&first)
	serveMetadata(t, p, issuer, &uri, &reads)
	p.serveJSON("/keys", jwksJSON(t, jwk{key: ecP256(), kid: "k1"}))
	p.serveJSON("/keys2", jwksJSON(t, jwk{key: rsaA(), kid: "k2"}))
	logs := newLogSink()
	r := newDiscovered(t, issuer, jwks.Options{Logger: logs.logger()})
	wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k1")))
	if n := reads.Load(); n != 1 {
		t.Fatalf("%d metadata reads, want 1", n)
	}

	// An unknown kid refreshes from the jwks_uri found last: no metadata read.
	wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaB(), "unknown")), jwks.ErrUnknownKey)
	if n := reads.Load(); n != 1 {
		t.Fatalf("a refresh for an unknown kid read the metadata (%d reads)", n)
	}

	// The issuer moves its keys; Refresh reads the metadata and follows.
	uri.Store(&second)
	wantOK(t, r.Refresh(context.Background()))
	if n := reads.Load(); n != 2 {
		t.Fatalf("%d metadata reads after Refresh, want 2", n)
	}
	logs.wait(t, "jwks: jwks_uri changed")
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k2")))
	wantErr(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k1")), jwks.ErrUnknownKey)

	// Metadata down: refreshes keep using the jwks_uri found last.
	p.handle("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	wantOK(t, r.Refresh(context.Background()))
	logs.wait(t, "jwks: discovery failed; keeping the jwks_uri found before")
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k2")))
}

// TestDiscoveryOnSchedule: scheduled refreshes read the metadata again.
func TestDiscoveryOnSchedule(t *testing.T) {
	p := newIDP(t)
	issuer := p.srv.URL
	var uri atomic.Pointer[string]
	var reads atomic.Int64
	first, second := p.url("/keys"), p.url("/keys2")
	uri.Store(&first)
	serveMetadata(t, p, issuer, &uri, &reads)
	p.serveJSON("/keys", jwksJSON(t, jwk{key: ecP256(), kid: "k1"}))
	p.serveJSON("/keys2", jwksJSON(t, jwk{key: rsaA(), kid: "k2"}))
	logs := newLogSink()
	r := newDiscovered(t, issuer, jwks.Options{Logger: logs.logger(), RefreshInterval: 20 * time.Millisecond})
	wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k1")))

	uri.Store(&second)
	// A scheduled refresh reads the metadata, follows the new jwks_uri and
	// loads its keys (the next load logged after the change is its own).
	logs.wait(t, "jwks: jwks_uri changed")
	logs.wait(t, "jwks: keys loaded")
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k2")))
	if n := reads.Load(); n < 2 {
		t.Fatalf("%d metadata reads, want one per scheduled refresh", n)
	}
}

// TestDiscoveryAfterJWKSFailure: when the JWK Set at the jwks_uri found
// before fails, the metadata is read again at once and the new jwks_uri used,
// within the same refresh: here the one a rotated-in kid starts, so that its
// first token passes.
func TestDiscoveryAfterJWKSFailure(t *testing.T) {
	p := newIDP(t)
	issuer := p.srv.URL
	var uri atomic.Pointer[string]
	var reads atomic.Int64
	first, second := p.url("/keys"), p.url("/keys2")
	uri.Store(&first)
	serveMetadata(t, p, issuer, &uri, &reads)
	p.serveJSON("/keys", jwksJSON(t, jwk{key: ecP256(), kid: "k1"}))
	logs := newLogSink()
	r := newDiscovered(t, issuer, jwks.Options{Logger: logs.logger()})
	wantOK(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k1")))

	// The issuer moves its keys and signs with a new one; the old URL fails.
	p.handle("/keys", http.NotFound)
	p.serveJSON("/keys2", jwksJSON(t, jwk{key: ecP256(), kid: "k1"}, jwk{key: rsaA(), kid: "k2"}))
	uri.Store(&second)
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k2")))
	if n := reads.Load(); n != 2 {
		t.Fatalf("%d metadata reads, want 2", n)
	}
	if st := r.Status(); st.Keys != 2 || st.LastError != "" {
		t.Fatalf("status = %+v", st)
	}
	if n := logs.count("jwks: refresh failed"); n != 0 {
		t.Fatalf("the refresh that moved to the new jwks_uri was logged as failed")
	}

	// If the metadata still names the failing URL, the refresh fails and the
	// keys are kept.
	p.handle("/keys2", http.NotFound)
	if err := r.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Refresh error = %v, want the JWK Set's 404", err)
	}
	wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k2")))
}

func TestNewDiscoveredRejectsBadIssuer(t *testing.T) {
	for _, issuer := range []string{
		"http://issuer.example",
		"ftp://127.0.0.1/",
		"https://127.0.0.1/?tenant=a",
		"https://127.0.0.1/#frag",
		"https://",
		"",
	} {
		if r, err := jwks.NewDiscovered(context.Background(), issuer, jwks.Options{}); err == nil {
			r.Close()
			t.Errorf("NewDiscovered(%q) succeeded", issuer)
		}
	}
}

// TestDiscoverEndpoint: another member of the metadata, such as the
// introspection endpoint, is read by the same rules as jwks_uri: OpenID
// Connect first, then RFC 8414, the exact issuer, and a URL that passes
// the rule; errors never quote the document.
func TestDiscoverEndpoint(t *testing.T) {
	const member = "introspection_endpoint"
	for _, tt := range []struct {
		name     string
		metaPath string
		doc      func(issuer string) map[string]any
		want     string // a part of the error, or "" for the URL
	}{
		{"OpenID Connect", "/.well-known/openid-configuration", func(iss string) map[string]any {
			return map[string]any{"issuer": iss, member: iss + "/introspect"}
		}, ""},
		{"RFC 8414 fallback", "/.well-known/oauth-authorization-server", func(iss string) map[string]any {
			return map[string]any{"issuer": iss, member: iss + "/introspect"}
		}, ""},
		{"member missing", "/.well-known/openid-configuration", func(iss string) map[string]any {
			return map[string]any{"issuer": iss, "jwks_uri": iss + "/keys"}
		}, `no "introspection_endpoint"`},
		{"another issuer", "/.well-known/openid-configuration", func(string) map[string]any {
			return map[string]any{"issuer": "https://evil.example", member: "https://evil.example/introspect"}
		}, `"issuer" does not match`},
		{"http on a public host", "/.well-known/openid-configuration", func(iss string) map[string]any {
			return map[string]any{"issuer": iss, member: "http://auth.example.com/introspect?key=s3cret"}
		}, `"introspection_endpoint" refused`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newIDP(t)
			issuer := p.srv.URL
			b, err := json.Marshal(tt.doc(issuer))
			if err != nil {
				t.Fatal(err)
			}
			p.serveJSON(tt.metaPath, b)
			got, err := jwks.DiscoverEndpoint(context.Background(), issuer, member, jwks.Options{})
			switch {
			case tt.want == "" && (err != nil || got != issuer+"/introspect"):
				t.Fatalf("DiscoverEndpoint = %q, %v; want %s/introspect", got, err, issuer)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret")):
				t.Fatalf("DiscoverEndpoint error %v, want one saying %s", err, tt.want)
			}
		})
	}
}
