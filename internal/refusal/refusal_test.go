package refusal_test

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/refusal"
)

// TestRender: the headers and body of a refusal, with the code of a
// request without credentials.
func TestRender(t *testing.T) {
	tests := []struct {
		name       string
		e          *dualauth.Error
		body       string
		challenges []string
		retryAfter string
		nonce      string // the DPoP-Nonce header
	}{
		{"no credentials", &dualauth.Error{Status: 401, Challenges: []string{`Bearer realm="api"`, `Basic realm="api"`}},
			`{"error":"unauthorized","error_description":""}`, []string{`Bearer realm="api"`, `Basic realm="api"`}, "", ""},
		{"throttled", &dualauth.Error{Status: 429, Code: dualauth.CodeTooManyRequests, Description: `too "many"`, RetryAfter: 1500 * time.Millisecond},
			`{"error":"too_many_requests","error_description":"too \"many\""}`, nil, "2", ""},
		{"extra headers, written under their canonical names", &dualauth.Error{Status: 401, Code: "use_dpop_nonce", Description: "nonce",
			Challenges: []string{`DPoP realm="api", error="use_dpop_nonce"`}, Header: http.Header{"dpop-nonce": {"n-1"}}},
			`{"error":"use_dpop_nonce","error_description":"nonce"}`, []string{`DPoP realm="api", error="use_dpop_nonce"`}, "", "n-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			body := refusal.Render(h, tt.e)
			if string(body) != tt.body {
				t.Errorf("body %s; want %s", body, tt.body)
			}
			if got := h.Values("WWW-Authenticate"); strings.Join(got, "|") != strings.Join(tt.challenges, "|") {
				t.Errorf("challenges %q; want %q", got, tt.challenges)
			}
			if h.Get("Retry-After") != tt.retryAfter || h.Get("Content-Type") != "application/json" ||
				h.Get("Cache-Control") != "no-store" || h.Get("X-Content-Type-Options") != "nosniff" ||
				h.Get("Content-Length") != strconv.Itoa(len(body)) || h.Get("DPoP-Nonce") != tt.nonce {
				t.Errorf("headers %v", h)
			}
		})
	}
}

// TestLog: the log line names the request without its query, and the
// cause only at debug.
func TestLog(t *testing.T) {
	e := &dualauth.Error{Status: 401, Code: dualauth.CodeInvalidToken, Description: "expired", Err: errors.New("the cause")}
	r := httptest.NewRequest("GET", "/v1/x?access_token=SECRET", nil)
	for _, tt := range []struct {
		level     slog.Level
		want      []string
		wantCause bool
	}{
		{slog.LevelInfo, []string{`msg="keyward: request refused"`, "status=401", "code=invalid_token", "method=GET", "path=/v1/x"}, false},
		{slog.LevelDebug, []string{"code=invalid_token", `cause="the cause"`}, true},
	} {
		var buf bytes.Buffer
		refusal.Log(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tt.level})), r, e)
		for _, w := range tt.want {
			if !strings.Contains(buf.String(), w) {
				t.Errorf("level %v: log %q lacks %q", tt.level, buf.String(), w)
			}
		}
		if strings.Contains(buf.String(), "SECRET") || strings.Contains(buf.String(), "cause") != tt.wantCause {
			t.Errorf("level %v: log %q", tt.level, buf.String())
		}
	}
	refusal.Log(nil, r, e) // no logger: nothing, no panic
}
