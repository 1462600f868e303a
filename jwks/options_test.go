package jwks_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

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

func TestOptionsValidation(t *testing.T) {
	for _, o := range []jwks.Options{
		{RefreshInterval: -time.Second},
		{UnknownKIDInterval: -time.Second},
		{Timeout: -time.Second},
		{MaxBytes: -1},
	} {
		if r, err := jwks.NewRemote(context.Background(), "https://127.0.0.1/jwks", o); err == nil {
			r.Close()
			t.Errorf("NewRemote with %+v succeeded", o)
		}
	}
	//lint:ignore SA1012 a nil context must be refused, not panic
	if _, err := jwks.NewRemote(nil, "https://127.0.0.1/jwks", jwks.Options{}); err == nil {
		t.Error("NewRemote with nil context succeeded")
	}
}

func TestDefaults(t *testing.T) {
	if jwks.DefaultRefreshInterval != time.Hour || jwks.DefaultUnknownKIDInterval != 5*time.Minute ||
		jwks.DefaultTimeout != 10*time.Second || jwks.DefaultMaxBytes != 1<<20 {
		t.Fatal("defaults changed")
	}
}
