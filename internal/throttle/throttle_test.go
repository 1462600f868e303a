package throttle

import (
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

// TestRefundStaysInItsWindow: a failure counted in one window and refunded
// after that window ended gives nothing back to the next one, and counts
// never go below zero.
func TestRefundStaysInItsWindow(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	th := New(Limits{MaxClientFailures: 2, MaxAddrFailures: 50, Window: time.Minute}, clock.now)
	_, first, _ := th.count("k")
	clock.add(time.Minute) // the window ends
	n, second, _ := th.count("k")
	if n != 1 || second == first {
		t.Fatalf("new window: n=%d id=%d (old id %d)", n, second, first)
	}
	th.refund(claim{"k", first})
	if n, _, _ := th.count("k"); n != 2 {
		t.Fatalf("after a stale refund the count is %d, want 2", n)
	}
	for range 5 {
		th.refund(claim{"k", second})
	}
	v, _ := th.failures.Get("k")
	if w := v.(window); w.n != 0 {
		t.Fatalf("count after extra refunds = %d, want 0", w.n)
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
