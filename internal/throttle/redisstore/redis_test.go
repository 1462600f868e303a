package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/syncbuf"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
)

// replica is one process's view of a shared Redis: its store, its throttle
// and its log.
type replica struct {
	store *Store
	th    *throttle.Throttle
	log   *syncbuf.Buffer
}

// newReplica returns a Throttle with limits on a Store at url.
func newReplica(t *testing.T, url string, limits throttle.Limits) *replica {
	t.Helper()
	logger, buf := testLogger()
	s, err := New(throttle.RedisOptions{URL: url, KeyPrefix: "test:", Logger: logger, ProbeEvery: 50 * time.Millisecond, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return &replica{store: s, th: throttle.NewWithStore(limits, s, time.Now), log: buf}
}

// rawClient is a plain client of srv, to look at what the stores wrote.
func rawClient(t *testing.T, srv *testredis.Server) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr(), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// onlyKey returns the one key of Redis that matches pattern: the counters'
// keys are the throttle's to make (an address's start with the address in
// braces), and this finds them as an operator would.
func onlyKey(t *testing.T, raw *redis.Client, pattern string) string {
	t.Helper()
	keys, err := raw.Keys(context.Background(), pattern).Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys matching %s: %v, %v; want one", pattern, keys, err)
	}
	return keys[0]
}

// take counts one failure under key in s, with room for ten, and returns
// its claim.
func take(t *testing.T, s *Store, key string, window time.Duration) throttle.Claim {
	t.Helper()
	taken, err := s.Take(context.Background(), window, []throttle.Budget{{Key: key, Max: 10}})
	if err != nil || !taken.OK {
		t.Fatalf("Take %s: %+v, %v", key, taken, err)
	}
	return taken.Claims[0]
}

// guess reserves and fails one check, and reports whether the throttle let
// it run.
func guess(th *throttle.Throttle, id, addr string) bool {
	r, _ := th.Reserve(id, addr)
	if r == nil {
		return false
	}
	r.Fail()
	return true
}

// TestRedisSharedBudgetInterleaved: two replicas sharing one Redis together
// allow MaxClientFailures failures for one client id from one address, and
// MaxAddrFailures for the address, whichever replica each guess reaches.
func TestRedisSharedBudgetInterleaved(t *testing.T) {
	srv := testredis.Start(t, false)
	limits := throttle.Limits{MaxClientFailures: 5, MaxAddrFailures: 8, Window: time.Minute}
	a, b := newReplica(t, srv.URL(), limits), newReplica(t, srv.URL(), limits)
	replicas := []*replica{a, b}
	allowed := 0
	for i := range 20 {
		if guess(replicas[i%2].th, "acme", "192.0.2.1") {
			allowed++
		}
	}
	if allowed != limits.MaxClientFailures {
		t.Fatalf("%d guesses allowed for one id across two replicas, want %d", allowed, limits.MaxClientFailures)
	}
	r, retry := b.th.Reserve("acme", "192.0.2.1")
	if r != nil || retry <= 58*time.Second || retry > time.Minute {
		t.Fatalf("refusal: %v, Retry-After %s; want refused with about a minute", r, retry)
	}
	// The address's budget is shared too: 3 more with other ids.
	allowed = 0
	for i := range 10 {
		if guess(replicas[i%2].th, fmt.Sprint("id-", i), "192.0.2.1") {
			allowed++
		}
	}
	if allowed != limits.MaxAddrFailures-limits.MaxClientFailures {
		t.Fatalf("%d guesses allowed with other ids, want %d", allowed, limits.MaxAddrFailures-limits.MaxClientFailures)
	}
	// Another address is untouched.
	if !guess(a.th, "acme", "192.0.2.2") {
		t.Fatal("another address was refused")
	}
	if n := a.store.StoreErrors() + b.store.StoreErrors(); n != 0 {
		t.Fatalf("%d store errors", n)
	}
}

// TestRedisSharedBudgetConcurrent: guesses racing on two replicas (several
// goroutines each) are allowed MaxClientFailures times in all, never more.
func TestRedisSharedBudgetConcurrent(t *testing.T) {
	srv := testredis.Start(t, false)
	limits := throttle.Limits{MaxClientFailures: 7, MaxAddrFailures: 1000, Window: time.Minute}
	a, b := newReplica(t, srv.URL(), limits), newReplica(t, srv.URL(), limits)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for _, rep := range []*replica{a, b} {
		for range 6 {
			wg.Go(func() {
				for range 20 {
					r, _ := rep.th.Reserve("acme", "198.51.100.7")
					if r == nil {
						continue // spent, or MaxInFlight checks in progress here
					}
					allowed.Add(1)
					time.Sleep(time.Millisecond) // the check runs
					r.Fail()
				}
			})
		}
	}
	wg.Wait()
	if n := allowed.Load(); n != int64(limits.MaxClientFailures) {
		t.Fatalf("%d concurrent guesses allowed across two replicas, want %d", n, limits.MaxClientFailures)
	}
	if n := a.store.StoreErrors() + b.store.StoreErrors(); n != 0 {
		t.Fatalf("%d store errors", n)
	}
}

// TestRedisRefundAcrossReplicas: a check that turns out good gives its
// reservation back to every replica; a refused check costs nothing.
func TestRedisRefundAcrossReplicas(t *testing.T) {
	srv := testredis.Start(t, false)
	limits := throttle.Limits{MaxClientFailures: 2, MaxAddrFailures: 50, Window: time.Minute}
	a, b := newReplica(t, srv.URL(), limits), newReplica(t, srv.URL(), limits)
	ra, _ := a.th.Reserve("acme", "192.0.2.1")
	rb, _ := b.th.Reserve("acme", "192.0.2.1")
	if ra == nil || rb == nil {
		t.Fatal("a reservation within the budget was refused")
	}
	for range 3 {
		if r, _ := a.th.Reserve("acme", "192.0.2.1"); r != nil {
			t.Fatal("a third reservation in flight was allowed")
		}
	}
	ra.Cancel() // the pair was good
	rb2, _ := b.th.Reserve("acme", "192.0.2.1")
	if rb2 == nil {
		t.Fatal("the refund on one replica did not free the budget on the other")
	}
	rb.Fail()
	rb2.Fail()
	raw := rawClient(t, srv)
	if n, _ := raw.HGet(context.Background(), onlyKey(t, raw, "test:{192.0.2.1}:c:*"), "n").Int(); n != 2 {
		t.Fatalf("client counter = %d, want 2", n)
	}
	if n, _ := raw.HGet(context.Background(), onlyKey(t, raw, "test:{192.0.2.1}:a"), "n").Int(); n != 2 {
		t.Fatalf("address counter = %d, want 2 (refused checks cost nothing)", n)
	}
}

// TestRedisWindowExpiry: windows end by Redis expiry; Retry-After counts
// down to that end, a new window starts afresh, and a refund of a claim
// from an ended window does not land in the next one.
func TestRedisWindowExpiry(t *testing.T) {
	srv := testredis.Start(t, false)
	ctx := context.Background()
	const window = 1500 * time.Millisecond
	a := newReplica(t, srv.URL(), throttle.Limits{MaxClientFailures: 2, MaxAddrFailures: 50, Window: window})
	b := newReplica(t, srv.URL(), throttle.Limits{MaxClientFailures: 2, MaxAddrFailures: 50, Window: window})
	raw := rawClient(t, srv)

	if !guess(a.th, "acme", "192.0.2.1") || !guess(b.th, "acme", "192.0.2.1") {
		t.Fatal("a guess within the budget was refused")
	}
	key := onlyKey(t, raw, "test:{192.0.2.1}:c:*")
	if ttl := raw.PTTL(ctx, key).Val(); ttl <= 0 || ttl > window {
		t.Fatalf("counter TTL = %s, want within (0, %s]", ttl, window)
	}
	taken, err := b.store.Take(ctx, window, []throttle.Budget{{Key: strings.TrimPrefix(key, "test:"), Max: 2}})
	if err != nil || taken.OK || taken.Retry <= 0 || taken.Retry > window {
		t.Fatalf("Take over budget = %+v, %v; want refused with Retry in (0, %s]", taken, err, window)
	}
	if r, retry := a.th.Reserve("acme", "192.0.2.1"); r != nil || retry < time.Second || retry > window {
		t.Fatalf("third guess: %v, %s; want refused, Retry-After in [1s, %s]", r, retry, window)
	}
	waitFor(t, 5*time.Second, "the window to end", func() bool {
		r, _ := b.th.Reserve("acme", "192.0.2.1")
		if r != nil {
			r.Cancel()
		}
		return r != nil
	})

	// A stale refund stays in its window.
	k := "stale"
	first := take(t, a.store, k, window)
	waitFor(t, 5*time.Second, "the key to expire", func() bool { return raw.Exists(ctx, "test:"+k).Val() == 0 })
	second := take(t, b.store, k, window)
	if second.Window == first.Window {
		t.Fatal("a new window has the old window's id")
	}
	_ = a.store.Refund(ctx, []throttle.Claim{first})
	if n, _ := raw.HGet(ctx, "test:"+k, "n").Int(); n != 1 {
		t.Fatalf("after a stale refund the count is %d, want 1", n)
	}
	for range 3 {
		_ = b.store.Refund(ctx, []throttle.Claim{second})
	}
	if n, _ := raw.HGet(ctx, "test:"+k, "n").Int(); n != 0 {
		t.Fatalf("after extra refunds the count is %d, want 0", n)
	}
	if ttl := raw.PTTL(ctx, "test:"+k).Val(); ttl <= 0 {
		t.Fatalf("a refund left the window without expiry (PTTL %s)", ttl)
	}
}

// TestRedisOutageAndRecovery: Redis killed mid-test. Neither replica lets
// a check through that Redis cannot count (fail closed, by default), no
// call fails or hangs, the outage is logged once per replica and counted;
// when Redis is back on the same port, the recovery is logged and the
// budget is shared again.
func TestRedisOutageAndRecovery(t *testing.T) {
	srv := testredis.Start(t, false)
	limits := throttle.Limits{MaxClientFailures: 3, MaxAddrFailures: 50, Window: time.Minute}
	a, b := newReplica(t, srv.URL(), limits), newReplica(t, srv.URL(), limits)
	if !guess(a.th, "acme", "192.0.2.1") || !guess(b.th, "acme", "192.0.2.1") {
		t.Fatal("a guess within the budget was refused")
	}

	srv.Stop()
	start := time.Now()
	for i := range 50 {
		r, retry, err := []*replica{a, b}[i%2].th.Admit("acme", "192.0.2.1")
		if r != nil || !errors.Is(err, throttle.ErrStoreUnavailable) || retry != time.Second {
			t.Fatalf("guess %d during the outage: %v, %v, %s; want refused, throttle.ErrStoreUnavailable, a second", i, r, err, retry)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("50 checks during the outage took %s", d)
	}
	for name, rep := range map[string]*replica{"a": a, "b": b} {
		if n := strings.Count(rep.log.String(), "redis is unavailable"); n != 1 {
			t.Fatalf("replica %s logged the outage %d times, want once:\n%s", name, n, rep.log.String())
		}
		if rep.store.StoreErrors() == 0 || rep.store.Available() {
			t.Fatalf("replica %s: StoreErrors %d, Available %v during the outage", name, rep.store.StoreErrors(), rep.store.Available())
		}
	}

	srv.Restart() // same port, empty
	waitFor(t, 5*time.Second, "replica a to see Redis again", func() bool {
		if r, _ := a.th.Reserve("probe", "203.0.113.1"); r != nil {
			r.Cancel()
		}
		return a.store.Available()
	})
	if n := strings.Count(a.log.String(), "redis is available again"); n != 1 {
		t.Fatalf("replica a logged the recovery %d times, want once:\n%s", n, a.log.String())
	}
	if strings.Count(a.log.String(), "redis is unavailable") != 1 {
		t.Fatalf("replica a logged another outage:\n%s", a.log.String())
	}
	waitFor(t, 5*time.Second, "replica b to see Redis again", func() bool {
		if r, _ := b.th.Reserve("probe", "203.0.113.1"); r != nil {
			r.Cancel()
		}
		return b.store.Available()
	})
	errs := a.store.StoreErrors() + b.store.StoreErrors()
	allowed := 0
	for i := range 20 {
		if guess([]*replica{a, b}[i%2].th, "again", "192.0.2.1") {
			allowed++
		}
	}
	if allowed != limits.MaxClientFailures {
		t.Fatalf("after recovery %d guesses allowed across two replicas, want %d", allowed, limits.MaxClientFailures)
	}
	if n := a.store.StoreErrors() + b.store.StoreErrors(); n != errs {
		t.Fatalf("%d store errors after recovery", n-errs)
	}
}

// TestRedisUnavailableAtStart: a store whose Redis never answered fails
// closed (or, with Replicas, limits in memory), logs once, and Ping
// reports the error.
func TestRedisUnavailableAtStart(t *testing.T) {
	for _, tc := range []struct {
		replicas, want int
	}{{0, 0}, {1, 2}} {
		t.Run(fmt.Sprint("replicas=", tc.replicas), func(t *testing.T) {
			port := testredis.FreePort(t) // nothing listens there
			logger, buf := testLogger()
			s, err := New(throttle.RedisOptions{URL: fmt.Sprintf("redis://:hunter2-password@127.0.0.1:%d/0", port), Logger: logger, Timeout: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.Ping(context.Background()); err == nil {
				t.Fatal("Ping of a closed port succeeded")
			}
			th := throttle.NewWithStore(throttle.Limits{MaxClientFailures: 2, MaxAddrFailures: 50, Window: time.Minute, Replicas: tc.replicas}, s, time.Now)
			allowed := 0
			for range 10 {
				if guess(th, "acme", "192.0.2.1") {
					allowed++
				}
			}
			if allowed != tc.want {
				t.Fatalf("%d guesses allowed, want %d", allowed, tc.want)
			}
			log := buf.String()
			if strings.Count(log, "redis is unavailable") != 1 {
				t.Fatalf("outage logged %d times:\n%s", strings.Count(log, "redis is unavailable"), log)
			}
			if strings.Contains(log, "hunter2") || !strings.Contains(log, "…@") {
				t.Fatalf("the log does not redact the password:\n%s", log)
			}
		})
	}
}
