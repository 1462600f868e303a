// Package throttle bounds online guessing of client credentials: it counts
// failed checks per client id and address, and per address, within a
// window, and bounds the checks one address may have in progress.
//
// A check reserves its failure before it runs, so concurrent guesses cannot
// all slip through before one is counted; a check that turns out good, or
// never ran, gives its reservation back.
//
// The counters live in a Store: this process's memory (MemoryStore, the
// default) or a Redis shared by every replica (RedisStore), so that the
// budgets hold across replicas. While a shared store is unavailable, each
// Throttle counts in its own memory instead: every replica still limits,
// and no check fails for it. The bound on checks in progress stays per
// process. Known remembers the pairs that verified, which skip the gate.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// MaxInFlight bounds the checks of different pairs one address may have in
// progress at once, in one process.
const MaxInFlight = 4

// Limits are a Throttle's budgets; every field must be positive.
type Limits struct {
	// MaxClientFailures per client id from one address per window.
	MaxClientFailures int
	// MaxAddrFailures per address per window.
	MaxAddrFailures int
	// Window is how long failures are counted.
	Window time.Duration
}

// Throttle counts failures. It is safe for concurrent use.
type Throttle struct {
	limits Limits
	store  Store
	// local counts while store fails; it is store itself for a Throttle in
	// memory.
	local *MemoryStore

	mu       sync.Mutex
	inFlight map[string]int // address → checks in progress
}

// New returns a Throttle with limits that counts in this process's memory,
// on the clock now.
func New(limits Limits, now func() time.Time) *Throttle {
	m := NewMemoryStore(now)
	return &Throttle{limits: limits, store: m, local: m, inFlight: map[string]int{}}
}

// NewWithStore returns a Throttle with limits that counts in store, and in
// this process's memory on the clock now whenever store returns an error. A
// nil store is New's.
func NewWithStore(limits Limits, store Store, now func() time.Time) *Throttle {
	if store == nil {
		return New(limits, now)
	}
	if m, ok := store.(*MemoryStore); ok {
		return &Throttle{limits: limits, store: m, local: m, inFlight: map[string]int{}}
	}
	return &Throttle{limits: limits, store: store, local: NewMemoryStore(now), inFlight: map[string]int{}}
}

// Reservation is one check's claim on the failure budget. A nil
// Reservation (a pair exempt from the gate) does nothing.
type Reservation struct {
	t      *Throttle
	addr   string
	store  Store // where claims were counted
	claims []Claim
}

// Reserve counts a failure against the client id at addr and against addr
// before the check runs. If either budget is spent, or addr already has
// MaxInFlight checks in progress here, it refuses: the Reservation is nil
// and retry says when to try again (at least a second). Reserve never
// fails for its store: if the store returns an error, the failure is
// counted in this process's memory.
func (t *Throttle) Reserve(id, addr string) (r *Reservation, retry time.Duration) {
	t.mu.Lock()
	if t.inFlight[addr] >= MaxInFlight {
		t.mu.Unlock()
		return nil, time.Second
	}
	t.inFlight[addr]++
	t.mu.Unlock()

	// The address first: an address over its budget is refused before a
	// counter for the client id is made, so its requests cost no memory.
	budgets := []Budget{
		{Key: addrKey(addr), Max: t.limits.MaxAddrFailures},
		{Key: clientKey(addr, id), Max: t.limits.MaxClientFailures},
	}
	var store Store = t.store
	taken, err := store.Take(context.Background(), t.limits.Window, budgets)
	if err != nil {
		store = t.local
		taken, _ = t.local.Take(context.Background(), t.limits.Window, budgets)
	}
	r = &Reservation{t: t, addr: addr, store: store, claims: taken.Claims}
	if !taken.OK {
		r.release(false)
		return nil, max(taken.Retry, time.Second)
	}
	return r, 0
}

// Fail ends the check, leaving its failure counted.
func (r *Reservation) Fail() {
	if r != nil {
		r.release(false)
	}
}

// Cancel ends the check and takes its failure back: the pair was good, or
// the check never ran. If the store that counted it fails, the failure
// stays counted.
func (r *Reservation) Cancel() {
	if r != nil {
		r.release(true)
	}
}

func (r *Reservation) release(refund bool) {
	if refund && len(r.claims) > 0 {
		_ = r.store.Refund(context.Background(), r.claims) // an error leaves it counted: fail closed
	}
	r.claims = nil
	r.t.mu.Lock()
	if r.t.inFlight[r.addr]--; r.t.inFlight[r.addr] <= 0 {
		delete(r.t.inFlight, r.addr)
	}
	r.t.mu.Unlock()
}

// The keys of an address's counters share a Redis Cluster hash tag, the
// address, so that one script may touch both. The client id is hashed: a
// shared store holds no id as sent (nor a secret pasted in its place), and
// keys stay short whatever is sent.

func addrKey(addr string) string { return "{" + addr + "}:a" }

func clientKey(addr, id string) string {
	sum := sha256.Sum256([]byte(id))
	return "{" + addr + "}:c:" + base64.RawURLEncoding.EncodeToString(sum[:16])
}
