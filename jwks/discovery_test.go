package jwks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

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
			wantErr(t, verify(r, sign(t, jwt.SigningMethodES256, ecP256(), "k")), jwks.ErrNoKeys)
		})
	}
}

func TestDiscoveryLazyAndCached(t *testing.T) {
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

	// Once discovered, the jwks_uri is kept: metadata is not fetched again.
	p.handle("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		t.Error("metadata fetched again after a successful discovery")
		http.Error(w, "down", http.StatusServiceUnavailable)
	})
	wantOK(t, r.Refresh(context.Background()))
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
