package authserver

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/dpop"
)

// TestErrDPoP: the checker's refusals become token endpoint errors: a bad
// proof 400 invalid_dpop_proof (RFC 9449 §5), a key over its share of the
// replay cache 429 and a replay store that cannot answer 503, both with
// Retry-After; anything else is a 500 that says nothing of it.
func TestErrDPoP(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		code   string
		retry  time.Duration
	}{
		{"bad proof", &dpop.Error{Status: http.StatusUnauthorized, Code: dpop.CodeInvalidProof, Description: "the DPoP proof's htm is not the request's method"},
			http.StatusBadRequest, "invalid_dpop_proof", 0},
		{"key over its share", &dpop.Error{Status: http.StatusTooManyRequests, Code: dpop.CodeTooManyRequests, Description: "too many", RetryAfter: 7 * time.Second},
			http.StatusTooManyRequests, codeTooManyRequests, 7 * time.Second},
		{"replay store down", &dpop.Error{Status: http.StatusServiceUnavailable, Code: dpop.CodeUnavailable, Description: "down", RetryAfter: time.Second},
			http.StatusServiceUnavailable, codeUnavailable, time.Second},
		{"not a dpop.Error", errors.New("surprise"), http.StatusInternalServerError, codeServerError, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := errDPoP(tc.err)
			if e.status != tc.status || e.code != tc.code || e.retryAfter != tc.retry || !errors.Is(e.cause, tc.err) {
				t.Errorf("got %d %s (retry %v, cause %v), want %d %s (retry %v)", e.status, e.code, e.retryAfter, e.cause, tc.status, tc.code, tc.retry)
			}
			if de, ok := tc.err.(*dpop.Error); ok && e.description != de.Description {
				t.Errorf("description %q, want the checker's %q", e.description, de.Description)
			}
		})
	}
}
