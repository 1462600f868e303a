package clientcheck

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/throttle"
)

// TestVerifierErrorsStayCounted: a verifier error that is neither an
// invalid client nor a busy verifier is answered as unavailable, and still
// counts against the pair's failure budget, so that errors cannot be
// farmed without limit: after the budget the check is throttled and the
// verifier is not asked again. A busy verifier costs the caller nothing.
func TestVerifierErrorsStayCounted(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		name  string
		err   error
		kinds []Kind // of three checks in a row
		calls int32
	}{
		{"verifier down", errors.New("db down"), []Kind{Unavailable, Unavailable, Throttled}, 2},
		{"invalid client", ErrInvalidClient, []Kind{Invalid, Invalid, Throttled}, 2},
		{"busy", ErrVerifierBusy, []Kind{Unavailable, Unavailable, Unavailable}, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			c, err := New(Config[*int]{
				Verify: func(context.Context, string, string) (*int, error) {
					calls.Add(1)
					return nil, tt.err
				},
				Limits: throttle.Limits{MaxClientFailures: 2},
				Now:    func() time.Time { return now },
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			for i, want := range tt.kinds {
				_, _, err := c.Check(context.Background(), "acme", "wrong", "192.0.2.1")
				var ce *Error
				if !errors.As(err, &ce) || ce.Kind != want {
					t.Fatalf("check %d: %v, want kind %d", i+1, err, want)
				}
			}
			if n := calls.Load(); n != tt.calls {
				t.Fatalf("the verifier was asked %d times, want %d", n, tt.calls)
			}
		})
	}
}
