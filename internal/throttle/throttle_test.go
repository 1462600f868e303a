package throttle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// count returns the failures a MemoryStore holds under key in its live
// window.
func (s *MemoryStore) count(key string) (n int, window uint64, live bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, _, live := s.counters.GetWithExpiry(key)
	if !live {
		return 0, 0, false
	}
	c := v.(counter)
	return c.n, c.id, true
}

// take counts one failure under key, with room for max.
func take(t *testing.T, s Store, key string, max int, window time.Duration) Taken {
	t.Helper()
	taken, err := s.Take(context.Background(), window, []Budget{{Key: key, Max: max}})
	if err != nil {
		t.Fatalf("Take %s: %v", key, err)
	}
	return taken
}

// TestRefundStaysInItsWindow: a failure counted in one window and refunded
// after that window ended gives nothing back to the next one, and counts
// never go below zero.
func TestRefundStaysInItsWindow(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := NewMemoryStore(clock.now)
	first := take(t, s, "k", 10, time.Minute).Claims[0]
	clock.add(time.Minute) // the window ends
	second := take(t, s, "k", 10, time.Minute).Claims[0]
	if n, _, _ := s.count("k"); n != 1 || second.Window == first.Window {
		t.Fatalf("new window: n=%d id=%d (old id %d)", n, second.Window, first.Window)
	}
	_ = s.Refund(context.Background(), []Claim{first})
	take(t, s, "k", 10, time.Minute)
	if n, _, _ := s.count("k"); n != 2 {
		t.Fatalf("after a stale refund the count is %d, want 2", n)
	}
	for range 5 {
		_ = s.Refund(context.Background(), []Claim{second})
	}
	if n, _, _ := s.count("k"); n != 0 {
		t.Fatalf("count after extra refunds = %d, want 0", n)
	}
}

// TestTakeIsAllOrNothing: a budget that is spent refuses the take whole: no
// failure is counted under the budgets before it, and none after it is
// made.
func TestTakeIsAllOrNothing(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	s := NewMemoryStore(clock.now)
	take(t, s, "b", 1, time.Minute)
	clock.add(10 * time.Second)
	taken, _ := s.Take(context.Background(), time.Minute, []Budget{{"a", 5}, {"b", 1}, {"c", 5}})
	if taken.OK || taken.Retry != 50*time.Second {
		t.Fatalf("take = %+v, want refused with 50s", taken)
	}
	if _, _, live := s.count("a"); live {
		t.Fatal("a counter was made for a refused take")
	}
	if _, _, live := s.count("c"); live {
		t.Fatal("a counter after the spent budget was made")
	}
}

// TestWindowOnTheInjectedClock: failures are refused until the window ends
// on the throttle's clock, with Retry-After counting down on that clock,
// and a new window starts afresh.
func TestWindowOnTheInjectedClock(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	th := New(Limits{MaxClientFailures: 2, MaxAddrFailures: 50, Window: time.Minute}, clock.now)
	for i := range 2 {
		r, _ := th.Reserve("acme", "192.0.2.1")
		if r == nil {
			t.Fatalf("guess %d refused", i+1)
		}
		r.Fail()
	}
	clock.add(20 * time.Second)
	if r, retry := th.Reserve("acme", "192.0.2.1"); r != nil || retry != 40*time.Second {
		t.Fatalf("third guess: reservation %v, retry %s; want refused with 40s", r, retry)
	}
	if r, _ := th.Reserve("other", "192.0.2.1"); r == nil {
		t.Fatal("another client id from the same address was refused")
	} else {
		r.Cancel()
	}
	clock.add(40 * time.Second)
	r, _ := th.Reserve("acme", "192.0.2.1")
	if r == nil {
		t.Fatal("refused after the window ended")
	}
	r.Cancel()
}

// TestInFlightBound: an address may have MaxInFlight checks in progress.
func TestInFlightBound(t *testing.T) {
	th := New(Limits{MaxClientFailures: 100, MaxAddrFailures: 100, Window: time.Minute}, time.Now)
	var held []*Reservation
	for i := range MaxInFlight {
		r, _ := th.Reserve(string(rune('a'+i)), "192.0.2.9")
		if r == nil {
			t.Fatalf("check %d refused", i+1)
		}
		held = append(held, r)
	}
	if r, retry := th.Reserve("z", "192.0.2.9"); r != nil || retry != time.Second {
		t.Fatalf("check over the bound: %v, %s", r, retry)
	}
	held[0].Cancel()
	if r, _ := th.Reserve("z", "192.0.2.9"); r == nil {
		t.Fatal("refused after a check ended")
	}
}

// TestNoMemoryForAnAddressOverBudget: once an address has spent its budget,
// requests from it with ever new client ids make no new counters.
func TestNoMemoryForAnAddressOverBudget(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	th := New(Limits{MaxClientFailures: 10, MaxAddrFailures: 5, Window: time.Minute}, clock.now)
	for i := range 5 {
		r, _ := th.Reserve(fmt.Sprint("guess-", i), "192.0.2.1")
		if r == nil {
			t.Fatalf("guess %d refused", i)
		}
		r.Fail()
	}
	held := th.local.counters.Len()
	for i := range 10_000 {
		if r, _ := th.Reserve(fmt.Sprint("flood-", i), "192.0.2.1"); r != nil {
			t.Fatalf("flood request %d from an address over budget was let through", i)
		}
	}
	if n := th.local.counters.Len(); n != held {
		t.Fatalf("counters went from %d to %d during the flood", held, n)
	}
}

// TestCounterBound: a flood from many addresses never holds more than the
// bound; at the bound new counters are refused, and windows that end make
// room again.
func TestCounterBound(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	th := New(Limits{MaxClientFailures: 10, MaxAddrFailures: 50, Window: time.Minute}, clock.now)
	th.local.maxCounters = 1000
	// A flood of fresh addresses (an IPv6 /48's /64s, say) is never refused
	// for memory, and never holds more than the bound.
	for i := range 5000 {
		addr := fmt.Sprintf("2001:db8:1:%x::/64", i)
		r, _ := th.Reserve("acme", addr)
		if r == nil {
			t.Fatalf("fresh address %d refused", i)
		}
		r.Fail()
		if n := th.local.counters.Len(); n > 1000 {
			t.Fatalf("%d counters held, bound 1000", n)
		}
	}
	// The real client, from an address the flood never used, still gets its
	// check.
	if r, _ := th.Reserve("globex", "198.51.100.7"); r == nil {
		t.Fatal("a client was locked out by a flood from other addresses")
	}
	// An address keeps its budget while its counter is among the newest.
	for range 10 {
		r, _ := th.Reserve("acme", "192.0.2.1")
		r.Fail()
	}
	if r, _ := th.Reserve("acme", "192.0.2.1"); r != nil {
		t.Fatal("the budget of a recent address was not kept")
	}
}

// brokenStore fails every call, as a Redis that is down.
type brokenStore struct{}

var errBroken = errors.New("broken")

func (brokenStore) Take(context.Context, time.Duration, []Budget) (Taken, error) {
	return Taken{}, errBroken
}
func (brokenStore) Refund(context.Context, []Claim) error             { return errBroken }
func (brokenStore) Mark(context.Context, string, time.Duration) error { return errBroken }
func (brokenStore) Marked(context.Context, string) (bool, error)      { return false, errBroken }
func (brokenStore) Unmark(context.Context, string) error              { return errBroken }

// TestFallbackWhenTheStoreFails: while its store fails, a Throttle refuses
// every check (ErrStoreUnavailable, retry a second) by default, and with
// Limits.Replicas counts in its own memory against its share of each
// budget, rounded down: so many replicas together never allow more than
// one budget. A cancelled check gives its failure back there.
func TestFallbackWhenTheStoreFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
		want     int // checks one process allows for one id
		wantAddr int // checks one process allows from one address, any ids
	}{
		{"default: refuse", 0, 0, 0},
		{"one process: whole budgets", 1, 6, 50},
		{"two replicas: halves", 2, 3, 25},
		{"four replicas: a quarter, rounded down", 4, 1, 12},
		{"seven replicas: nothing left of 6", 7, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
			th := NewWithStore(Limits{MaxClientFailures: 6, MaxAddrFailures: 50, Window: time.Minute, Replicas: tc.replicas}, brokenStore{}, clock.now)
			if tc.want > 0 {
				r, _, err := th.Admit("acme", "192.0.2.1")
				if r == nil || err != nil {
					t.Fatalf("first guess: %v, %v", r, err)
				}
				r.Cancel()
			}
			allowed := 0
			for range 10 {
				r, retry, err := th.Admit("acme", "192.0.2.1")
				if r != nil {
					allowed++
					r.Fail()
					continue
				}
				switch {
				case allowed < tc.want:
					t.Fatalf("guess %d refused (%v), want %d allowed", allowed+1, err, tc.want)
				case tc.want == 0 && (!errors.Is(err, ErrStoreUnavailable) || retry != time.Second):
					t.Fatalf("refusal without a share: %v, %s; want ErrStoreUnavailable, a second", err, retry)
				case tc.want > 0 && (err != nil || retry != time.Minute):
					t.Fatalf("refusal past the share: %v, %s; want a spent budget, a minute", err, retry)
				}
			}
			if allowed != tc.want {
				t.Fatalf("%d guesses allowed for one id, want %d", allowed, tc.want)
			}
			fromAddr := allowed
			for i := range 100 {
				if r, _ := th.Reserve(fmt.Sprint("id-", i), "192.0.2.1"); r != nil {
					fromAddr++
					r.Fail()
				}
			}
			if fromAddr != tc.wantAddr {
				t.Fatalf("%d guesses allowed from one address, want %d", fromAddr, tc.wantAddr)
			}
			if len(th.inFlight) != 0 {
				t.Fatalf("checks left in progress: %v", th.inFlight)
			}
		})
	}
}
