package redisstore

import (
	"context"
	"time"
)

// SetOnce sets key (after the store's key prefix) for ttl unless it is
// set, and reports whether it did: Redis's SET key 1 NX PX ttl, one round
// trip, atomic on the server. It is the replay record of package
// internal/dpop, which puts its keys under "dpop:" (no counter, index or
// marker key of the throttle starts so). An error (Redis down, slow, or
// full under noeviction) is an outage like the throttle's: counted,
// logged once, and answered at once until the next probe.
func (s *Store) SetOnce(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	var set bool
	err := s.do(ctx, func(ctx context.Context) (err error) {
		set, err = s.client.SetNX(ctx, s.prefix+key, "1", max(ttl, time.Millisecond)).Result()
		return err
	})
	return set, err
}
