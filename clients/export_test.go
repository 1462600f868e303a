package clients

import (
	"context"
	"time"
)

// Test hooks into the registry's internals, for package clients_test.

// HashChecks returns how many secrets Verify checked against a real entry.
func HashChecks(r *Registry) uint64 { return r.hashChecks.Load() }

// DummyChecks returns how many secrets Verify checked against the dummy hash.
func DummyChecks(r *Registry) uint64 { return r.dummyChecks.Load() }

// DummyParams describes the dummy hash's algorithm and parameters.
func DummyParams(r *Registry) string { return r.snap.Load().dummy.params() }

// DummyHash returns the dummy hash in its text form.
func DummyHash(r *Registry) string {
	d := r.snap.Load().dummy
	if d.alg == AlgBcrypt {
		return string(d.bcrypt)
	}
	return d.encode()
}

// OnWatching makes Watch call f once it has registered for its signals.
// Call it before Watch starts.
func OnWatching(r *Registry, f func()) { r.watching = f }

// FillHashSlots takes every one of Verify's hash slots and returns a function
// that gives them back.
func FillHashSlots(r *Registry) (release func()) {
	_, n := r.slots.counts()
	for range n {
		if err := r.slots.acquire(context.Background(), -1); err != nil {
			panic(err)
		}
	}
	return func() {
		for range n {
			r.slots.release()
		}
	}
}

// HashSlots returns the hash slots in use and their number.
func HashSlots(r *Registry) (used, limit int) { return r.slots.counts() }

// FailureFloor returns the least time a failed Verify takes.
func FailureFloor(r *Registry) time.Duration { return r.snap.Load().floor.get() }

// SetFailureFloor sets the failure floor as if a load had measured d.
func SetFailureFloor(r *Registry, d time.Duration) { r.snap.Load().floor.seed(d) }

// SetClock replaces Verify's time source and its sleeper, which waits out
// the failure floor. Call it before the registry is used concurrently.
func SetClock(r *Registry, now func() time.Time, sleep func(ctx context.Context, d time.Duration)) {
	r.clock = clock{now: now, sleep: sleep}
}

// ReadOpened reads path as readFile does once its Stat found a regular file:
// it opens without blocking and checks what it opened.
func ReadOpened(path string) ([]byte, error) { return readOpened(path) }
