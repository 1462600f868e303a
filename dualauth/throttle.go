package dualauth

import (
	"net/http"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// maxAddrInFlight bounds the checks of different pairs one address may have
// in progress at once.
const maxAddrInFlight = 4

// throttle counts failed credential checks per client id and address, and
// per address, within a window; a check reserves its failure before it runs,
// so concurrent guesses cannot all slip through before one is counted.
type throttle struct {
	limits   Throttle
	failures *gocache.Cache // key → window
	windows  uint64         // windows started so far, to tell them apart

	mu       sync.Mutex
	inFlight map[string]int // address → checks in progress
}

func newThrottle(limits Throttle) *throttle {
	if limits.MaxClientFailures == 0 {
		limits.MaxClientFailures = DefaultMaxClientFailures
	}
	if limits.MaxAddrFailures == 0 {
		limits.MaxAddrFailures = DefaultMaxAddrFailures
	}
	if limits.Window == 0 {
		limits.Window = DefaultThrottleWindow
	}
	return &throttle{
		limits:   limits,
		failures: gocache.New(gocache.NoExpiration, time.Minute),
		inFlight: map[string]int{},
	}
}

// window is the failures counted under a key since its window began.
type window struct {
	n  int
	id uint64
}

// reservation is one check's claim on the failure budget. A nil reservation
// (a pair exempt from the gate) does nothing.
type reservation struct {
	t    *throttle
	addr string
	keys []claim
}

// claim is one counted failure: the key and the window it was counted in,
// so that a refund never lands in a later window.
type claim struct {
	key    string
	window uint64
}

// reserve counts a failure against the client id at addr and against addr
// before the check runs, or refuses with 429 if either budget is spent or
// addr already has too many checks in progress.
func (t *throttle) reserve(id, addr string) (*reservation, *Error) {
	t.mu.Lock()
	if t.inFlight[addr] >= maxAddrInFlight {
		t.mu.Unlock()
		return nil, errTooMany(time.Second)
	}
	t.inFlight[addr]++
	t.mu.Unlock()

	r := &reservation{t: t, addr: addr}
	for _, k := range []struct {
		key string
		max int
	}{{"c\x00" + addr + "\x00" + id, t.limits.MaxClientFailures}, {"a\x00" + addr, t.limits.MaxAddrFailures}} {
		n, id := t.count(k.key)
		if n > k.max {
			t.refund(claim{k.key, id})
			r.release(true)
			return nil, errTooMany(t.until(k.key))
		}
		r.keys = append(r.keys, claim{k.key, id})
	}
	return r, nil
}

// fail ends the check, leaving its failure counted.
func (r *reservation) fail() {
	if r != nil {
		r.release(false)
	}
}

// cancel ends the check and takes its failure back: the pair was good, or
// the check never ran.
func (r *reservation) cancel() {
	if r != nil {
		r.release(true)
	}
}

func (r *reservation) release(refund bool) {
	if refund {
		for _, c := range r.keys {
			r.t.refund(c)
		}
	}
	r.keys = nil
	r.t.mu.Lock()
	if r.t.inFlight[r.addr]--; r.t.inFlight[r.addr] <= 0 {
		delete(r.t.inFlight, r.addr)
	}
	r.t.mu.Unlock()
}

// count counts one failure under key, starting a window if there is none,
// and returns the new count and the window's id.
func (t *throttle) count(key string) (int, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if v, expires, found := t.failures.GetWithExpiration(key); found {
		w := v.(window)
		w.n++
		t.failures.Set(key, w, max(time.Until(expires), time.Millisecond))
		return w.n, w.id
	}
	t.windows++
	w := window{n: 1, id: t.windows}
	t.failures.Set(key, w, t.limits.Window)
	return w.n, w.id
}

// refund takes back the failure c counted, if its window is still the
// key's current one (a window that ended took its counts with it).
func (t *throttle) refund(c claim) {
	t.mu.Lock()
	defer t.mu.Unlock()
	v, expires, found := t.failures.GetWithExpiration(c.key)
	if !found {
		return
	}
	if w := v.(window); w.id == c.window && w.n > 0 {
		w.n--
		t.failures.Set(c.key, w, max(time.Until(expires), time.Millisecond))
	}
}

// until is how long until key's window ends (at least a second).
func (t *throttle) until(key string) time.Duration {
	_, expires, _ := t.failures.GetWithExpiration(key)
	return max(time.Until(expires), time.Second)
}

func errTooMany(retry time.Duration) *Error {
	return &Error{
		Status:      http.StatusTooManyRequests,
		Code:        CodeTooManyRequests,
		Description: "too many failed authentication attempts; retry later",
		RetryAfter:  retry,
	}
}
