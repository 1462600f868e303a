package clients

import (
	"sync"
	"testing"
	"time"
)

// TestFailureFloorRaise: the floor is a running maximum of the checks'
// times, from the load-time measurement up to floorGrowth times it.
func TestFailureFloorRaise(t *testing.T) {
	t.Parallel()
	var f failureFloor
	f.seed(10 * time.Millisecond)
	for _, step := range []struct{ raise, want time.Duration }{
		{5 * time.Millisecond, 10 * time.Millisecond},  // a faster check leaves it
		{25 * time.Millisecond, 25 * time.Millisecond}, // a slower one raises it
		{20 * time.Millisecond, 25 * time.Millisecond}, // it never falls
		{time.Hour, floorGrowth * 10 * time.Millisecond},
	} {
		f.raise(step.raise)
		if got := f.get(); got != step.want {
			t.Errorf("after raise(%v): floor %v; want %v", step.raise, got, step.want)
		}
	}

	// Concurrent raises keep the largest (run with -race).
	var g failureFloor
	g.seed(time.Millisecond)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() { g.raise(time.Duration(i%4+1) * time.Millisecond / 2) })
	}
	wg.Wait()
	if got := g.get(); got != 2*time.Millisecond {
		t.Errorf("after concurrent raises: floor %v; want 2ms", got)
	}
}
