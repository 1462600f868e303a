package jwks_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// stubTransport answers every request with an error without touching the
// network, so URL-rule tests never send traffic to non-loopback hosts.
type stubTransport struct {
	mu   sync.Mutex
	urls []string
}

func (s *stubTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.urls = append(s.urls, r.URL.String())
	s.mu.Unlock()
	return nil, errors.New("stub transport: no network in tests")
}

func TestURLRule(t *testing.T) {
	tests := []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://issuer.example/jwks", false, true},
		{"HTTPS://issuer.example/jwks", false, true},
		{"http://127.0.0.1:8080/jwks", false, true},
		{"http://127.9.9.9/jwks", false, true},
		{"http://[::1]:8080/jwks", false, true},
		{"http://localhost/jwks", false, true},
		{"http://LOCALHOST:9/jwks", false, true},
		{"https://user@issuer.example/jwks", false, true},
		{"http://issuer.example/jwks", false, false},
		{"http://10.0.0.1/jwks", false, false},
		{"http://localhost.evil.example/jwks", false, false},
		{"http://issuer.example/jwks", true, true},
		{"ftp://127.0.0.1/jwks", true, false},
		{"file:///etc/jwks.json", true, false},
		{"https:///jwks", false, false},
		{"https:opaque", false, false},
		{"https://user:pw@issuer.example/jwks", false, false},
		{"/relative/jwks", false, false},
		{"", false, false},
		{"https://issuer.example/%zz", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			stub := &stubTransport{}
			r, err := jwks.NewRemote(context.Background(), tc.url, jwks.Options{
				AllowInsecureHTTP: tc.insecure,
				Client:            &http.Client{Transport: stub},
			})
			if tc.ok != (err == nil) {
				t.Fatalf("NewRemote(%q, insecure=%v) error = %v, want ok=%v", tc.url, tc.insecure, err, tc.ok)
			}
			if r != nil {
				r.Close()
				if st := r.Status(); st.Keys != 0 || st.LastError == "" {
					t.Fatalf("status = %+v", st)
				}
			}
		})
	}
}

func TestStartFailuresFailClosed(t *testing.T) {
	tests := []struct {
		name    string
		handler func(p *idp) http.HandlerFunc
		wantErr string
	}{
		{"5xx", func(*idp) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "secret-body", http.StatusBadGateway) }
		}, "status 502"},
		{"invalid JSON", func(*idp) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("secret-body {")) }
		}, "not valid JSON"},
		{"oversized", func(*idp) http.HandlerFunc {
			return func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(oversized()) }
		}, "exceeds"},
		{"hanging", func(p *idp) http.HandlerFunc {
			return func(_ http.ResponseWriter, r *http.Request) {
				select {
				case <-r.Context().Done():
				case <-p.release:
				}
			}
		}, "timed out"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			p.handle("/jwks", tc.handler(p))
			var r *jwks.Remote
			var err error
			within(t, "NewRemote", func() {
				r, err = jwks.NewRemote(context.Background(), p.url("/jwks"), jwks.Options{
					Timeout: 200 * time.Millisecond, MaxBytes: 4096,
				})
			})
			wantOK(t, err)
			t.Cleanup(r.Close)
			st := r.Status()
			if st.Keys != 0 || !strings.Contains(st.LastError, tc.wantErr) {
				t.Fatalf("status = %+v, want 0 keys and LastError containing %q", st, tc.wantErr)
			}
			if strings.Contains(st.LastError, "secret") {
				t.Fatalf("LastError leaks the body: %q", st.LastError)
			}
			wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")), jwks.ErrUnavailable)
		})
	}
}

// oversized is a JWK Set prefix padded past a 4 KiB cap.
func oversized() []byte {
	return []byte(`{"keys":[` + strings.Repeat(" ", 8192) + `]}`)
}

func TestRefreshFailureKeepsKeys(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		wantErr string
	}{
		{"503", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "secret-body", http.StatusServiceUnavailable)
		}, "unexpected HTTP status 503"},
		{"invalid JSON", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": [secret-body`))
		}, "not valid JSON"},
		{"wrong JSON shape", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": "secret-body"}`))
		}, `no "keys" array`},
		{"only an invalid key", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys": [{"kty":"EC","crv":"P-256","x":"secret","y":"body"}]}`))
		}, "no usable signature keys"},
		{"truncated body", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "1000")
			_, _ = w.Write([]byte(`{"keys": [secret-body`))
		}, "truncated"},
		{"oversized with Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			b := oversized()
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			_, _ = w.Write(b)
		}, "exceeds 4096 bytes"},
		{"oversized chunked", func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte(`{"keys":[`))
			w.(http.Flusher).Flush() // no Content-Length: the cap must hit while reading
			_, _ = w.Write(oversized())
		}, "exceeds 4096 bytes"},
		{"empty body", func(http.ResponseWriter, *http.Request) {}, "empty response"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
			r := newRemote(t, p.url("/jwks"), jwks.Options{MaxBytes: 4096})
			before := r.Status()
			if before.Keys != 1 || before.LastError != "" {
				t.Fatalf("initial status = %+v", before)
			}
			p.handle("/jwks", tc.handler)
			err := r.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Refresh error = %v, want one containing %q", err, tc.wantErr)
			}
			st := r.Status()
			if st.Keys != 1 || !st.LastRefresh.Equal(before.LastRefresh) || !strings.Contains(st.LastError, tc.wantErr) {
				t.Fatalf("status after failed refresh = %+v", st)
			}
			if strings.Contains(st.LastError, "secret") || strings.Contains(err.Error(), "secret") {
				t.Fatalf("error text leaks the body: %q", st.LastError)
			}
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "a")))
			wantOK(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "")))
		})
	}
}

func TestRedirects(t *testing.T) {
	p := newIDP(t)
	p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "a"}))
	for i := 1; i <= 4; i++ {
		next := fmt.Sprintf("/r%d", i+1)
		if i == 4 {
			next = "/jwks"
		}
		p.handle(fmt.Sprintf("/r%d", i), func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, next, http.StatusFound)
		})
	}
	// /r2 -> /r3 -> /r4 -> /jwks is 3 redirects: allowed.
	r := newRemote(t, p.url("/r2"), jwks.Options{})
	if st := r.Status(); st.Keys != 1 {
		t.Fatalf("3 redirects: status = %+v", st)
	}
	// /r1 -> ... -> /jwks is 4 redirects: refused.
	r = newRemote(t, p.url("/r1"), jwks.Options{})
	if st := r.Status(); st.Keys != 0 || !strings.Contains(st.LastError, "redirects") {
		t.Fatalf("4 redirects: status = %+v", st)
	}

	// https -> http is refused even to loopback.
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.url("/jwks"), http.StatusFound)
	}))
	t.Cleanup(tlsSrv.Close)
	r = newRemote(t, tlsSrv.URL+"/jwks", jwks.Options{Client: tlsSrv.Client()})
	if st := r.Status(); st.Keys != 0 || !strings.Contains(st.LastError, "https to http") {
		t.Fatalf("https->http: status = %+v", st)
	}
}

func TestCustomClientGetsBodyCap(t *testing.T) {
	p := newIDP(t)
	p.handle("/jwks", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(oversized()) })
	client := &http.Client{}
	r := newRemote(t, p.url("/jwks"), jwks.Options{Client: client, MaxBytes: 4096})
	if st := r.Status(); !strings.Contains(st.LastError, "exceeds") {
		t.Fatalf("status = %+v", st)
	}
	if client.Transport != nil || client.CheckRedirect != nil {
		t.Fatal("caller's client was modified")
	}
}

// notKeySets are 200 responses that decode as JSON but are no JWK Set.
var notKeySets = []struct{ body, wantErr string }{
	{`{}`, `no "keys" array`},
	{`null`, "not a JSON object"},
	{`{"keys":null}`, `no "keys" array`},
	{`{"error":"temporarily_unavailable","secret":"body"}`, `no "keys" array`},
	{`{"keys":{"kty":"RSA"}}`, `no "keys" array`},
	{`{"KEYS":[]}`, `no "keys" array`},
	{`[]`, "not a JSON object"},
	{`"secret-body"`, "not a JSON object"},
	{`{"keys":[]} secret-body`, "not valid JSON"},
}

// TestNonKeySetBodyKeepsKeys ports the review's TestJWKSNonSetBodyWipesKeys:
// such a body fails the refresh and the keys held stay.
func TestNonKeySetBodyKeepsKeys(t *testing.T) {
	for _, tc := range notKeySets {
		t.Run(tc.body, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", jwksJSON(t, jwk{key: rsaA(), kid: "k1"}))
			r := newRemote(t, p.url("/jwks"), jwks.Options{})
			before := r.Status()
			tok := sign(t, jwt.SigningMethodRS256, rsaA(), "k1")
			wantOK(t, verify(r, tok))

			p.serveJSON("/jwks", []byte(tc.body))
			err := r.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Refresh error = %v, want one containing %q", err, tc.wantErr)
			}
			st := r.Status()
			if st.Keys != 1 || !st.LastRefresh.Equal(before.LastRefresh) || st.LastError != err.Error() {
				t.Fatalf("status = %+v", st)
			}
			if strings.Contains(st.LastError, "secret") {
				t.Fatalf("LastError quotes the body: %q", st.LastError)
			}
			wantOK(t, verify(r, tok))
		})
	}
}

func TestNonKeySetBodyOnFirstLoadFails(t *testing.T) {
	for _, tc := range notKeySets {
		t.Run(tc.body, func(t *testing.T) {
			p := newIDP(t)
			p.serveJSON("/jwks", []byte(tc.body))
			r := newRemote(t, p.url("/jwks"), jwks.Options{})
			st := r.Status()
			if st.Keys != 0 || !st.LastRefresh.IsZero() || !strings.Contains(st.LastError, tc.wantErr) {
				t.Fatalf("status = %+v, want a failed first load", st)
			}
			wantErr(t, verify(r, sign(t, jwt.SigningMethodRS256, rsaA(), "k1")), jwks.ErrUnavailable)
		})
	}
}
