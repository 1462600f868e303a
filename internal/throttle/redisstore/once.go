package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
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

// setOnceCountedScript records KEYS[1] for ARGV[1] ms unless it is set,
// counting the records made under KEYS[2], a counter that lives ARGV[3] ms
// from its first count: when it has reached ARGV[2] nothing is recorded.
// It answers {0, 0} when KEYS[1] was set, {1, 0} when it recorded it, and
// {2, the counter's remaining ms} when the count is spent. One script, so
// the check, the count and the record are one atomic step.
var setOnceCountedScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {0, 0}
end
local n = tonumber(redis.call('GET', KEYS[2]) or '0')
if n >= tonumber(ARGV[2]) then
  return {2, redis.call('PTTL', KEYS[2])}
end
if redis.call('INCR', KEYS[2]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[3])
end
redis.call('SET', KEYS[1], '1', 'PX', ARGV[1])
return {1, 0}
`)

// SetOnceCounted is SetOnce with a bound on how many keys one caller
// sets: the records made under counter (after the key prefix) within
// window of the first are counted, and once limit is reached nothing is
// set until the window ends; spent reports that, with the window's time
// left. Package internal/dpop counts a DPoP key's proofs so, so that one
// key cannot fill Redis (and starve the throttle that shares it).
func (s *Store) SetOnceCounted(ctx context.Context, key, counter string, limit int64, window, ttl time.Duration) (set bool, spent time.Duration, err error) {
	err = s.do(ctx, func(ctx context.Context) error {
		v, err := setOnceCountedScript.Run(ctx, s.client, []string{s.prefix + key, s.prefix + counter},
			max(ttl, time.Millisecond).Milliseconds(), limit, max(window, time.Millisecond).Milliseconds()).Int64Slice()
		if err != nil {
			return err
		}
		if len(v) != 2 {
			return fmt.Errorf("redisstore: unexpected answer of %d values", len(v))
		}
		switch v[0] {
		case 1:
			set = true
		case 2:
			spent = max(time.Duration(v[1])*time.Millisecond, time.Millisecond)
		}
		return nil
	})
	return set, spent, err
}
