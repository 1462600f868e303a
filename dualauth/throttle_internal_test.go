package dualauth

import "testing"

// TestRefundStaysInItsWindow: a failure counted in one window and refunded
// after that window ended gives nothing back to the next one, and counts
// never go below zero.
func TestRefundStaysInItsWindow(t *testing.T) {
	th := newThrottle(Throttle{MaxClientFailures: 2})
	_, first := th.count("k")
	th.failures.Delete("k") // the window ends
	n, second := th.count("k")
	if n != 1 || second == first {
		t.Fatalf("new window: n=%d id=%d (old id %d)", n, second, first)
	}
	th.refund(claim{"k", first})
	if n, _ := th.count("k"); n != 2 {
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
