// Package throttle bounds online guessing of client credentials: it counts
// failed checks per client id and address, and per address, within a
// window, and bounds the checks one address may have in progress.
//
// A check reserves its failure before it runs, so concurrent guesses cannot
// all slip through before one is counted; a check that turns out good, or
// never ran, gives its reservation back.
package throttle

import (
	"sync"
	"time"

	"github.com/keyward/keyward/internal/clockcache"
)

// MaxInFlight bounds the checks of different pairs one address may have in
// progress at once.
const MaxInFlight = 4

// MaxCounters bounds the failure counters held at once (one per address, and
// one per client id tried from an address). A counter costs about 200 bytes,
// so the throttle holds at most about 20 MB whatever it is sent. At the
// bound, a check that needs a new counter is refused (fail closed) until
// windows end; pairs exempt from the gate are not affected.
const MaxCounters = 100_000

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
	limits   Limits
	now      func() time.Time
	failures *clockcache.Cache // key → window

	maxCounters int

	mu       sync.Mutex
	windows  uint64         // windows started so far, to tell them apart
	inFlight map[string]int // address → checks in progress
}

// New returns a Throttle with limits on the clock now.
func New(limits Limits, now func() time.Time) *Throttle {
	return &Throttle{limits: limits, now: now, failures: clockcache.New(now), inFlight: map[string]int{}, maxCounters: MaxCounters}
}

// window is the failures counted under a key since its window began.
type window struct {
	n  int
	id uint64
}

// Reservation is one check's claim on the failure budget. A nil
// Reservation (a pair exempt from the gate) does nothing.
type Reservation struct {
	t      *Throttle
	addr   string
	claims []claim
}

// claim is one counted failure: the key and the window it was counted in,
// so that a refund never lands in a later window.
type claim struct {
	key    string
	window uint64
}

// Reserve counts a failure against the client id at addr and against addr
// before the check runs. If either budget is spent, or addr already has
// MaxInFlight checks in progress, it refuses: the Reservation is nil and
// retry says when to try again (at least a second).
func (t *Throttle) Reserve(id, addr string) (r *Reservation, retry time.Duration) {
	t.mu.Lock()
	if t.inFlight[addr] >= MaxInFlight {
		t.mu.Unlock()
		return nil, time.Second
	}
	t.inFlight[addr]++
	t.mu.Unlock()

	r = &Reservation{t: t, addr: addr}
	// The address first: an address over its budget is refused before a
	// counter for the client id is made, so its requests cost no memory.
	for _, k := range []struct {
		key string
		max int
	}{{"a\x00" + addr, t.limits.MaxAddrFailures}, {"c\x00" + addr + "\x00" + id, t.limits.MaxClientFailures}} {
		n, id, ends, ok := t.count(k.key)
		if !ok {
			r.release(true)
			return nil, t.limits.Window
		}
		if n > k.max {
			t.refund(claim{k.key, id})
			r.release(true)
			return nil, max(ends.Sub(t.now()), time.Second)
		}
		r.claims = append(r.claims, claim{k.key, id})
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
// the check never ran.
func (r *Reservation) Cancel() {
	if r != nil {
		r.release(true)
	}
}

func (r *Reservation) release(refund bool) {
	if refund {
		for _, c := range r.claims {
			r.t.refund(c)
		}
	}
	r.claims = nil
	r.t.mu.Lock()
	if r.t.inFlight[r.addr]--; r.t.inFlight[r.addr] <= 0 {
		delete(r.t.inFlight, r.addr)
	}
	r.t.mu.Unlock()
}

// count counts one failure under key, starting a window if there is none,
// and returns the new count, the window's id and when it ends; ok is false
// if a window was needed and MaxCounters are held.
func (t *Throttle) count(key string) (n int, id uint64, ends time.Time, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, ends, live := t.failures.GetWithExpiry(key); live {
		w := v.(window)
		w.n++
		t.failures.Set(key, w, ends)
		return w.n, w.id, ends, true
	}
	if t.failures.Len() >= t.maxCounters && t.failures.Sweep() >= t.maxCounters {
		return 0, 0, time.Time{}, false
	}
	t.windows++
	w := window{n: 1, id: t.windows}
	ends = t.now().Add(t.limits.Window)
	t.failures.Set(key, w, ends)
	return w.n, w.id, ends, true
}

// refund takes back the failure c counted, if its window is still the
// key's current one (a window that ended took its counts with it).
func (t *Throttle) refund(c claim) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ends, live := t.failures.GetWithExpiry(c.key)
	if !live {
		return
	}
	if w := v.(window); w.id == c.window && w.n > 0 {
		w.n--
		t.failures.Set(c.key, w, ends)
	}
}
