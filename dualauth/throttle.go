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
	failures *gocache.Cache // key → int

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

// reservation is one check's claim on the failure budget. A nil reservation
// (a pair exempt from the gate) does nothing.
type reservation struct {
	t    *throttle
	addr string
	keys []string
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
		if n := t.add(k.key, 1); n > k.max {
			t.add(k.key, -1)
			r.release(true)
			return nil, errTooMany(t.until(k.key))
		}
		r.keys = append(r.keys, k.key)
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
		for _, k := range r.keys {
			r.t.add(k, -1)
		}
	}
	r.keys = nil
	r.t.mu.Lock()
	if r.t.inFlight[r.addr]--; r.t.inFlight[r.addr] <= 0 {
		delete(r.t.inFlight, r.addr)
	}
	r.t.mu.Unlock()
}

// add changes the count under key by delta, starting a window if there is
// none, and returns the new count.
func (t *throttle) add(key string, delta int) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := delta
	if v, found := t.failures.Get(key); found {
		n += v.(int)
		_, expires, _ := t.failures.GetWithExpiration(key)
		t.failures.Set(key, n, max(time.Until(expires), time.Millisecond))
		return n
	}
	if n > 0 {
		t.failures.Set(key, n, t.limits.Window)
	}
	return n
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
