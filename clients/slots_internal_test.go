package clients

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestDefaultHashSlots: GOMAXPROCS, but no more argon2id checks at once than
// fit 1 GiB, and at least one.
func TestDefaultHashSlots(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(64))
	for _, tt := range []struct {
		memory uint32 // KiB; 0: no argon2id entry
		want   int
	}{
		{0, 64},
		{MinArgon2Memory, 53},
		{64 << 10, 16},
		{MaxArgon2Memory, 4},
		{1 << 30, 1}, // above any limit: still one
	} {
		if got := defaultHashSlots(tt.memory); got != tt.want {
			t.Errorf("defaultHashSlots(%d KiB) = %d; want %d", tt.memory, got, tt.want)
		}
	}
	runtime.GOMAXPROCS(2)
	if got := defaultHashSlots(MinArgon2Memory); got != 2 {
		t.Errorf("GOMAXPROCS 2: defaultHashSlots = %d; want 2", got)
	}
}

// TestHashSlots: waiters are served in order; a wait runs out with ErrBusy
// or ends with its context; a waiter that gives up takes no slot; a higher
// limit serves waiters at once.
func TestHashSlots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newHashSlots(1)
	if err := s.acquire(ctx, -1); err != nil {
		t.Fatal(err)
	}
	if err := s.acquire(ctx, time.Millisecond); !errors.Is(err, ErrBusy) {
		t.Errorf("full, bounded wait: %v; want ErrBusy", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.acquire(cctx, -1); !errors.Is(err, context.Canceled) {
		t.Errorf("full, cancelled: %v; want context.Canceled", err)
	}
	if used, _ := s.counts(); used != 1 || s.waiters.Len() != 0 {
		t.Errorf("after two waits gave up: %d used, %d waiting; want 1, 0", used, s.waiters.Len())
	}

	order := make(chan int, 3)
	for i := range 3 {
		s.mu.Lock()
		waiting := s.waiters.Len()
		s.mu.Unlock()
		if waiting != i {
			t.Fatalf("%d waiters; want %d", waiting, i)
		}
		go func() {
			if err := s.acquire(ctx, -1); err != nil {
				t.Error(err)
			}
			order <- i
			s.release()
		}()
		for { // until it queues
			s.mu.Lock()
			n := s.waiters.Len()
			s.mu.Unlock()
			if n == i+1 {
				break
			}
			runtime.Gosched()
		}
	}
	s.release()
	for want := range 3 {
		if got := <-order; got != want {
			t.Errorf("waiter %d served in turn %d", got, want)
		}
	}
	if used, _ := s.counts(); used != 0 {
		t.Errorf("%d slots used after all released", used)
	}

	// A higher limit serves waiters at once; a lower one lets running
	// checks finish.
	if err := s.acquire(ctx, -1); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- s.acquire(ctx, -1) }()
	s.setLimit(2)
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	s.setLimit(1)
	if used, limit := s.counts(); used != 2 || limit != 1 {
		t.Errorf("after lowering the limit: %d used of %d; want 2 of 1", used, limit)
	}
	s.release()
	if err := s.acquire(ctx, time.Millisecond); !errors.Is(err, ErrBusy) {
		t.Errorf("over the lowered limit: %v; want ErrBusy", err)
	}
	s.release()
	if err := s.acquire(ctx, -1); err != nil {
		t.Errorf("under the lowered limit: %v", err)
	}
}
