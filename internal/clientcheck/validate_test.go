package clientcheck

import (
	"errors"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/fielderr"
	"github.com/keyward/keyward/internal/throttle"
)

// TestValidateOrder: of several faults, Validate names the Redis settings'
// first, as dualauth.Config.Validate always has, then the budgets'.
func TestValidateOrder(t *testing.T) {
	bad := throttle.Limits{MaxClientFailures: -1, Window: -time.Second}
	for _, tt := range []struct {
		name  string
		cfg   Config[*int]
		field string
	}{
		{"budgets alone", Config[*int]{Limits: bad}, "Throttle.MaxClientFailures"},
		{"timeout first", Config[*int]{Limits: bad, Redis: &throttle.RedisOptions{URL: "redis://127.0.0.1:1", Timeout: -1}}, "Throttle.Redis.Timeout"},
		{"max counters first", Config[*int]{Limits: bad, Redis: &throttle.RedisOptions{URL: "redis://127.0.0.1:1", MaxCounters: 1}}, "Throttle.Redis.MaxCounters"},
		{"replicas before counters' neighbours", Config[*int]{Limits: throttle.Limits{Replicas: -1, Window: -1}, Redis: &throttle.RedisOptions{URL: "redis://127.0.0.1:1"}}, "Throttle.Redis.Replicas"},
		{"pair key first", Config[*int]{Limits: bad, PairKey: []byte("short"), Redis: &throttle.RedisOptions{URL: "redis://127.0.0.1:1"}}, "Throttle.Redis.PairKey"},
		{"unlinked store before budgets", Config[*int]{Limits: bad, Redis: &throttle.RedisOptions{URL: "redis://127.0.0.1:1"}}, "Throttle.Redis"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var fe *fielderr.Error
			if err := tt.cfg.Validate(); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want an error for %s", err, tt.field)
			}
		})
	}
}
