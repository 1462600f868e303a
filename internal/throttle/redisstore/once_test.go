package redisstore

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
)

// TestSetOnceCounted checks SetOnceCounted on a real redis-server: a key
// is set once; the keys set under one counter are bounded by limit within
// the window (a set key refused again does not count); another counter
// has its own bound; the counter lives the window and the records their
// ttl.
func TestSetOnceCounted(t *testing.T) {
	srv := testredis.Start(t, false)
	logger, _ := testLogger()
	s, err := New(throttle.RedisOptions{URL: srv.URL(), KeyPrefix: "test:", Logger: logger, ProbeEvery: 50 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	ctx := context.Background()
	const window, ttl = time.Minute, 30 * time.Second
	for _, tc := range []struct {
		key, counter string
		set, spent   bool
	}{
		{"a1", "a", true, false},
		{"a1", "a", false, false}, // set before: not counted
		{"a2", "a", true, false},
		{"a3", "a", false, true}, // limit 2 reached
		{"a1", "a", false, false},
		{"b1", "b", true, false},
	} {
		set, spent, err := s.SetOnceCounted(ctx, tc.key, tc.counter, 2, window, ttl)
		if err != nil || set != tc.set || (spent > 0) != tc.spent || spent > window {
			t.Fatalf("%s under %s: set %v, spent %s, %v; want set %v, spent %v", tc.key, tc.counter, set, spent, err, tc.set, tc.spent)
		}
	}
	rc := rawClient(t, srv)
	for key, most := range map[string]time.Duration{"test:a": window, "test:a1": ttl, "test:b1": ttl} {
		if got, err := rc.PTTL(ctx, key).Result(); err != nil || got <= 0 || got > most {
			t.Fatalf("%s lives %s, %v; want up to %s", key, got, err, most)
		}
	}
	if n, err := rc.Exists(ctx, "test:a3").Result(); err != nil || n != 0 {
		t.Fatalf("a3 exists (%d, %v): a spent count must set nothing", n, err)
	}
}
