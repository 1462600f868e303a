package clients

import (
	"context"
	"sync/atomic"
	"time"
)

// The failure floor. An unknown id is checked against the dummy hash, which
// has the parameters of the registry's most expensive entry, but a wrong
// secret for a cheaper entry (an argon2id entry next to bcrypt ones, a lower
// cost) is found out sooner: response times would tell the cheaper entries'
// ids from unknown ones. So every failed Verify returns no sooner than the
// floor after it began hashing (after it was called, for refusals that hash
// nothing), waiting without a hash slot.
//
// The floor is the longest a check of the snapshot was seen to take. Building
// a snapshot seeds it with one timed check of the dummy hash; then every check
// Verify times raises it (a running maximum: a loaded machine checks slower
// than an idle one at load time, and estimatedCost may misjudge which entry
// costs most on this machine), up to floorGrowth times the seed, so that one
// stalled check (a paused VM, a stopped process) cannot slow every failure
// until the next reload.

// floorGrowth bounds how far observed checks may raise the floor above the
// load-time measurement.
const floorGrowth = 4

// failureFloor is a snapshot's floor. Its limit is set before the snapshot is
// published; the floor itself only grows.
type failureFloor struct {
	ns    atomic.Int64
	limit int64
}

// seed sets the floor to the time of one check of the dummy hash.
func (f *failureFloor) seed(d time.Duration) {
	f.ns.Store(int64(max(d, 0)))
	f.limit = floorGrowth * int64(max(d, 0))
}

// raise lifts the floor to d, up to its limit.
func (f *failureFloor) raise(d time.Duration) {
	want := min(int64(d), f.limit)
	for {
		cur := f.ns.Load()
		if want <= cur || f.ns.CompareAndSwap(cur, want) {
			return
		}
	}
}

func (f *failureFloor) get() time.Duration { return time.Duration(f.ns.Load()) }

// clock is Verify's time source and sleeper; tests replace it.
type clock struct {
	now func() time.Time
	// sleep returns after d, or sooner when ctx ends.
	sleep func(ctx context.Context, d time.Duration)
}

var systemClock = clock{now: time.Now, sleep: sleepContext}

func sleepContext(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// measure seeds s's floor with one timed check of its dummy hash. It costs
// one hash, outside the hash slots: at load, and at each reload that
// changes something.
func (r *Registry) measure(s *snapshot) {
	start := r.clock.now()
	s.dummy.check("measure the cost of a check")
	s.floor.seed(r.clock.now().Sub(start))
}

// timedCheck checks secret against h, a hash of s or its dummy, and raises
// s's floor to the time the check took.
func (r *Registry) timedCheck(s *snapshot, h *secretHash, secret string) bool {
	start := r.clock.now()
	ok := h.check(secret)
	s.floor.raise(r.clock.now().Sub(start))
	return ok
}

// waitFloor returns once s's floor has passed since start, or as soon as ctx
// ends: the caller has then gone (or its deadline passed, which is the same
// for every failure), so an early answer tells it nothing.
func (r *Registry) waitFloor(ctx context.Context, s *snapshot, start time.Time) {
	if wait := start.Add(s.floor.get()).Sub(r.clock.now()); wait > 0 {
		r.clock.sleep(ctx, wait)
	}
}
