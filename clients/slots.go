package clients

import (
	"container/list"
	"context"
	"runtime"
	"sync"
	"time"
)

// hashMemoryBudget is what the default number of hash slots may hold in
// Argon2id memory at once, in KiB (1 GiB).
const hashMemoryBudget = 1 << 20

// defaultHashSlots is the number of hash slots when Options.MaxConcurrentHashes
// is 0: runtime.GOMAXPROCS(0), since hashing is CPU-bound, but for a registry
// with Argon2id entries no more than fit hashMemoryBudget at the largest
// entry's memory (and at least 1).
func defaultHashSlots(maxArgonMemory uint32) int {
	n := runtime.GOMAXPROCS(0)
	if maxArgonMemory > 0 {
		n = min(n, max(1, int(hashMemoryBudget/maxArgonMemory)))
	}
	return n
}

// hashSlots is a counting semaphore whose limit a reload may change. Waiters
// are served first come, first served, so that a caller is not starved by
// later ones.
type hashSlots struct {
	mu      sync.Mutex
	limit   int
	used    int
	waiters list.List // of chan struct{}, closed when the slot is handed over
}

func newHashSlots(limit int) *hashSlots {
	return &hashSlots{limit: max(1, limit)}
}

// acquire takes a slot. It waits for one at most wait (without bound if wait
// is not positive) and returns ErrBusy when the wait ran out, or ctx's error
// when ctx ended first.
func (s *hashSlots) acquire(ctx context.Context, wait time.Duration) error {
	s.mu.Lock()
	if s.used < s.limit && s.waiters.Len() == 0 {
		s.used++
		s.mu.Unlock()
		return nil
	}
	ready := make(chan struct{})
	elem := s.waiters.PushBack(ready)
	s.mu.Unlock()

	var expired <-chan time.Time
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		expired = t.C
	}
	var err error
	select {
	case <-ready:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
		err = ErrBusy
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-ready:
		// Handed a slot while giving up: give it to the next waiter.
		s.used--
	default:
		s.waiters.Remove(elem)
	}
	s.handOverLocked()
	return err
}

// release gives a slot back.
func (s *hashSlots) release() {
	s.mu.Lock()
	s.used--
	s.handOverLocked()
	s.mu.Unlock()
}

// setLimit changes the number of slots. Hashes already running over a lower
// limit finish; new ones wait until the count is below it.
func (s *hashSlots) setLimit(n int) {
	s.mu.Lock()
	s.limit = max(1, n)
	s.handOverLocked()
	s.mu.Unlock()
}

// handOverLocked gives free slots to the waiters in order.
func (s *hashSlots) handOverLocked() {
	for s.used < s.limit {
		front := s.waiters.Front()
		if front == nil {
			return
		}
		s.waiters.Remove(front)
		s.used++
		close(front.Value.(chan struct{}))
	}
}

// counts returns the slots in use and the limit.
func (s *hashSlots) counts() (used, limit int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.used, s.limit
}
