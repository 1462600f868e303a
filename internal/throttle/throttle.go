// Package throttle bounds online guessing of client credentials: it counts
// failed checks per client id and address, and per address, within a
// window, and bounds the checks one address may have in progress.
//
// A check reserves its failure before it runs, so concurrent guesses cannot
// all slip through before one is counted; a check that turns out good, or
// never ran, gives its reservation back.
//
// The counters live in a Store: this process's memory (MemoryStore, the
// default) or a Redis shared by every replica (package redisstore, which
// only the programs that import package redisthrottle link: OpenRedis), so
// that the budgets hold across replicas. While a shared store cannot count a check
// (Redis down, or full), a Throttle refuses the check (ErrStoreUnavailable)
// unless Limits.Replicas gives each process a share of the budgets to count
// in its own memory, so that the replicas together allow one budget
// during the outage (and so at most two in a window that spans its start:
// what Redis counted before is not seen in memory). The bound on checks in progress stays per process. Known
// remembers the pairs that verified, which skip the gate.
package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"time"
)

// MaxInFlight bounds the checks of different pairs one address may have in
// progress at once, in one process.
const MaxInFlight = 4

// Limits are a Throttle's budgets, which must be positive, and what it does
// while a shared store cannot count.
type Limits struct {
	// MaxClientFailures per client id from one address per window.
	MaxClientFailures int
	// MaxAddrFailures per address per window.
	MaxAddrFailures int
	// Window is how long failures are counted.
	Window time.Duration
	// Replicas matters only for a Throttle on a shared store: at least the
	// number of processes that share it (an upper bound will do). While the
	// store cannot count a check, each process counts it in its own memory
	// against each budget divided by Replicas, rounded down, so that all of
	// them together allow no more than one budget; where a budget divides
	// to nothing, the check is refused. 0, the default, refuses every check
	// the store cannot count: a guesser gains nothing from an outage, and
	// callers a Known remembers in this process still pass.
	Replicas int
}

// ErrStoreUnavailable is Admit's error when the shared store could not
// count a check and Limits.Replicas leaves this process no budget of its
// own to count it in. It is the server's trouble, not the caller's.
var ErrStoreUnavailable = errors.New("throttle: the shared store cannot count failed checks")

// storeRetry is the Retry-After of a check refused for the store's sake:
// a Redis store tries Redis again once a second by default.
const storeRetry = time.Second

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

// NewWithStore returns a Throttle with limits that counts in store, and,
// whenever store returns an error, refuses or counts in this process's
// memory on the clock now as limits.Replicas says. A nil store is New's.
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
	slot   bool  // holds one of addr's checks in progress
	store  Store // where claims were counted
	claims []Claim
}

// Reserve is Admit without its error: a check refused because the shared
// store cannot count it is refused as a spent budget is, with a retry of a
// second.
func (t *Throttle) Reserve(id, addr string) (r *Reservation, retry time.Duration) {
	r, retry, _ = t.Admit(id, addr)
	return r, retry
}

// Admit counts a failure against the client id at addr and against addr
// before the check runs. If either budget is spent, or addr already has
// MaxInFlight checks in progress here, it refuses: the Reservation is nil
// and retry says when to try again (at least a second). If the store
// returns an error, the failure is counted in this process's memory
// against its share of the budgets (Limits.Replicas); with no share, Admit
// refuses with ErrStoreUnavailable.
func (t *Throttle) Admit(id, addr string) (r *Reservation, retry time.Duration, err error) {
	t.mu.Lock()
	if t.inFlight[addr] >= MaxInFlight {
		t.mu.Unlock()
		return nil, time.Second, nil
	}
	t.inFlight[addr]++
	t.mu.Unlock()

	// The address first: an address over its budget is refused before a
	// counter for the client id is made, so its requests cost no memory.
	r, retry, err = t.take(addr, []Budget{
		{Key: addrKey(addr), Max: t.limits.MaxAddrFailures},
		{Key: clientKey(addr, id), Max: t.limits.MaxClientFailures},
	})
	if r == nil {
		t.leave(addr)
		return nil, retry, err
	}
	r.slot = true
	return r, 0, nil
}

// AdmitAddr is Admit for a check that names no client: it counts a failure
// against addr's budget (Limits.MaxAddrFailures) alone, the one Admit
// draws on too, and takes none of addr's MaxInFlight checks in progress.
// It is for checks that are cheap here and bounded elsewhere, such as an
// opaque token asked of an introspection endpoint, which many callers
// behind one address (a gateway, a NAT) may need at once.
func (t *Throttle) AdmitAddr(addr string) (r *Reservation, retry time.Duration, err error) {
	return t.take(addr, []Budget{{Key: addrKey(addr), Max: t.limits.MaxAddrFailures}})
}

// take counts a failure under every budget, in the store or, while it
// fails, in this process's share: a Reservation holding no slot, or nil
// with when to retry.
func (t *Throttle) take(addr string, budgets []Budget) (r *Reservation, retry time.Duration, err error) {
	var store Store = t.store
	taken, err := store.Take(context.Background(), t.limits.Window, budgets)
	if err != nil {
		store = t.local
		if !t.localShare(budgets) {
			return nil, storeRetry, ErrStoreUnavailable
		}
		taken, _ = t.local.Take(context.Background(), t.limits.Window, budgets)
	}
	if !taken.OK {
		return nil, max(taken.Retry, time.Second), nil
	}
	return &Reservation{t: t, addr: addr, store: store, claims: taken.Claims}, 0, nil
}

// localShare cuts budgets to this process's share of them while the
// shared store cannot count, and reports whether every one keeps at least
// one failure.
func (t *Throttle) localShare(budgets []Budget) bool {
	if t.limits.Replicas < 1 {
		return false
	}
	for i := range budgets {
		budgets[i].Max /= t.limits.Replicas
		if budgets[i].Max < 1 {
			return false
		}
	}
	return true
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
	if r.slot {
		r.slot = false
		r.t.leave(r.addr)
	}
}

// leave ends one of addr's checks in progress.
func (t *Throttle) leave(addr string) {
	t.mu.Lock()
	if t.inFlight[addr]--; t.inFlight[addr] <= 0 {
		delete(t.inFlight, addr)
	}
	t.mu.Unlock()
}

// The keys of an address's counters start with the address in braces. The
// client id is hashed: a shared store holds no id as sent (nor a secret
// pasted in its place), and keys stay short whatever is sent.

func addrKey(addr string) string { return "{" + addr + "}:a" }

func clientKey(addr, id string) string {
	sum := sha256.Sum256([]byte(id))
	return "{" + addr + "}:c:" + base64.RawURLEncoding.EncodeToString(sum[:16])
}
