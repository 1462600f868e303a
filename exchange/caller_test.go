package exchange_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/exchange"
)

// forwardedServer is a token endpoint that grants every request and
// records the X-Forwarded-For headers it was sent.
func forwardedServer(t *testing.T) (url string, seen func() [][]string) {
	t.Helper()
	var mu sync.Mutex
	var got [][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Values("X-Forwarded-For"))
		mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "access_token": "at", "expires_in": 60})
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() [][]string {
		mu.Lock()
		defer mu.Unlock()
		return got
	}
}

func TestWithCallerAddrSendsXForwardedFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr string
		want string // "" for no header
	}{
		{"203.0.113.7", "203.0.113.7"},
		{"203.0.113.7:51234", "203.0.113.7"},
		{" 203.0.113.7 ", "203.0.113.7"},
		{"2001:db8::7", "2001:db8::7"},
		{"[2001:db8::7]:443", "2001:db8::7"},
		{"fe80::1%eth0", "fe80::1"},
		{"[fe80::1%eth0]:443", "fe80::1"},
		{"::ffff:203.0.113.7", "203.0.113.7"},
		{"[::ffff:203.0.113.7]:80", "203.0.113.7"},
		{"2001:db8:1:2::/64", "2001:db8:1:2::"}, // a throttle key by /64
		{"2001:db8:1:2:3:4:5:6/64", "2001:db8:1:2::"},
		{"203.0.113.7/32", "203.0.113.7"},
		{"", ""},
		{"client.example.com", ""},
		{"203.0.113.7, 198.51.100.1", ""},
		{"unknown", ""},
	}
	for _, style := range []exchange.Style{exchange.StyleBasic, exchange.StyleJSON, exchange.StyleForm} {
		url, seen := forwardedServer(t)
		c := &exchange.Client{TokenURL: url, Style: style}
		for _, tc := range tests {
			if _, err := c.Exchange(exchange.WithCallerAddr(t.Context(), tc.addr), goodID, goodSecret); err != nil {
				t.Fatalf("%s %q: %v", style, tc.addr, err)
			}
		}
		// Without an address, and with an unusable one over a good one.
		if _, err := c.Exchange(t.Context(), goodID, goodSecret); err != nil {
			t.Fatal(err)
		}
		ctx := exchange.WithCallerAddr(exchange.WithCallerAddr(t.Context(), "203.0.113.7"), "not an address")
		if _, err := c.Exchange(ctx, goodID, goodSecret); err != nil {
			t.Fatal(err)
		}
		got := seen()
		if len(got) != len(tests)+2 {
			t.Fatalf("%s: %d requests, want %d", style, len(got), len(tests)+2)
		}
		for i, tc := range tests {
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if strings.Join(got[i], "|") != strings.Join(want, "|") || len(got[i]) != len(want) {
				t.Errorf("%s: WithCallerAddr(%q) sent X-Forwarded-For %q, want %q", style, tc.addr, got[i], want)
			}
		}
		for _, h := range got[len(tests):] {
			if len(h) != 0 {
				t.Errorf("%s: X-Forwarded-For %q sent without a usable caller address", style, h)
			}
		}
	}
}

func TestRetryAfterIsSurfaced(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       *exchange.RetryError // nil: no RetryError
		tolerance  time.Duration
	}{
		{"429 seconds", 429, "7", &exchange.RetryError{Status: 429, RetryAfter: 7 * time.Second}, 0},
		{"503 seconds", 503, "30", &exchange.RetryError{Status: 503, RetryAfter: 30 * time.Second}, 0},
		{"429 zero", 429, "0", &exchange.RetryError{Status: 429}, 0},
		{"503 date", 503, now.Add(90 * time.Second).UTC().Format(http.TimeFormat), &exchange.RetryError{Status: 503, RetryAfter: 90 * time.Second}, 5 * time.Second},
		{"503 date in the past", 503, now.Add(-time.Hour).UTC().Format(http.TimeFormat), &exchange.RetryError{Status: 503}, 0},
		{"429 without Retry-After", 429, "", &exchange.RetryError{Status: 429}, 0},
		{"429 negative", 429, "-5", &exchange.RetryError{Status: 429}, 0},
		{"429 fraction", 429, "1.5", &exchange.RetryError{Status: 429}, 0},
		{"429 garbage", 429, "soon", &exchange.RetryError{Status: 429}, 0},
		{"429 too long", 429, "86400", &exchange.RetryError{Status: 429, RetryAfter: exchange.MaxRetryAfter}, 0},
		{"429 beyond uint64", 429, "184467440737095516160", &exchange.RetryError{Status: 429, RetryAfter: exchange.MaxRetryAfter}, 0},
		{"500 is no retry", 500, "7", nil, 0},
		{"502 is no retry", 502, "7", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.retryAfter != "" {
					w.Header().Set("Retry-After", tc.retryAfter)
				}
				writeJSON(w, tc.status, map[string]any{"error": "too_many_requests", "error_description": "retry later"})
			}))
			defer srv.Close()
			tok, err := (&exchange.Client{TokenURL: srv.URL}).Exchange(t.Context(), goodID, goodSecret)
			if tok != nil || !errors.Is(err, exchange.ErrUnavailable) || errors.Is(err, exchange.ErrRejected) {
				t.Fatalf("Exchange = %v, %v; want ErrUnavailable", tok, err)
			}
			if e := asError(t, err); e.Status != tc.status || e.Code != "too_many_requests" {
				t.Errorf("Status, Code = %d, %q", e.Status, e.Code)
			}
			assertNoSecret(t, err, goodSecret)
			var re *exchange.RetryError
			if !errors.As(err, &re) {
				if tc.want != nil {
					t.Fatalf("err = %v, want a *RetryError", err)
				}
				return
			}
			if tc.want == nil {
				t.Fatalf("err = %v has a *RetryError %+v for status %d", err, re, tc.status)
			}
			if re.Status != tc.want.Status || re.RetryAfter < tc.want.RetryAfter-tc.tolerance || re.RetryAfter > tc.want.RetryAfter+tc.tolerance {
				t.Errorf("RetryError = %+v, want %+v (±%v)", re, tc.want, tc.tolerance)
			}
			if re.RetryAfter > 0 && !strings.Contains(err.Error(), "retry after "+re.RetryAfter.String()) {
				t.Errorf("Error() = %q does not give the wait", err)
			}
		})
	}
}

// TestRetryAfterOnOversizedBody: the wait is kept when the body is too
// large to read.
func TestRetryAfterOnOversizedBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "12")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(strings.Repeat("x", 2048)))
	}))
	defer srv.Close()
	_, err := (&exchange.Client{TokenURL: srv.URL, MaxBytes: 1024}).Exchange(context.Background(), goodID, goodSecret)
	var re *exchange.RetryError
	if !errors.As(err, &re) || re.Status != http.StatusServiceUnavailable || re.RetryAfter != 12*time.Second {
		t.Fatalf("err = %v, want a RetryError of 503 after 12s", err)
	}
}
