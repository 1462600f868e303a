package jwks

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// unknownKIDBurst is how many refreshes tokens with unknown key ids (or an
// empty set) may start back to back; after that the limiter allows one per
// Options.UnknownKIDInterval.
const unknownKIDBurst = 3

// Bounds on the key ids kidGate remembers. Ids beyond them are not
// remembered; they are still held to the limiter.
const (
	maxTrackedKIDs   = 64
	maxTrackedKIDLen = 256
)

// kidGate decides which lookups of unknown key ids start a refresh. Besides
// the limiter it remembers key ids: one that a fetch started after its lookup
// did not find cannot start another refresh for UnknownKIDInterval, so that a
// token with a junk kid, sent again and again, spends one refresh per interval
// and leaves the rest of the burst to kids that may be new keys of a rotation.
// A lookup of a kid that a pending or running fetch will cover starts nothing.
type kidGate struct {
	trigger  chan struct{} // capacity 1; holds a value exactly while pending
	limiter  *rate.Limiter
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex // guards the fields below
	pending  bool       // a trigger is queued and no fetch has started since
	waiting  map[string]struct{}
	inFlight map[string]struct{}  // waiting as the running fetch started
	missed   map[string]time.Time // kid -> end of its quiet time
}

func newKIDGate(interval time.Duration, now func() time.Time) *kidGate {
	return &kidGate{
		trigger:  make(chan struct{}, 1),
		limiter:  rate.NewLimiter(rate.Every(interval), unknownKIDBurst),
		interval: interval,
		now:      now,
		waiting:  map[string]struct{}{},
		missed:   map[string]time.Time{},
	}
}

// request records a lookup of the unknown kid ("" for a lookup in an empty
// set) and queues a refresh on trigger if one is due. It reports whether it
// queued one. It never blocks.
func (g *kidGate) request(kid string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if kid != "" {
		if until, ok := g.missed[kid]; ok {
			if now.Before(until) {
				return false
			}
			delete(g.missed, kid)
		}
		if _, ok := g.inFlight[kid]; ok {
			return false
		}
		remember(g.waiting, kid)
	}
	if g.pending || !g.limiter.AllowN(now, 1) {
		return false
	}
	g.pending = true
	select {
	case g.trigger <- struct{}{}:
	default: // unreachable: the channel is empty while !pending
	}
	return true
}

// started is called by the fetching goroutine as a fetch starts, for any
// reason: the fetch covers every kid looked up so far, so a queued trigger is
// withdrawn.
func (g *kidGate) started() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.pending {
		select {
		case <-g.trigger:
		default:
		}
		g.pending = false
	}
	g.inFlight, g.waiting = g.waiting, map[string]struct{}{}
}

// done is called as the fetch ends. If it succeeded, the kids it covered that
// known does not report are quiet until UnknownKIDInterval from now; if it
// failed, they wait for the next fetch.
func (g *kidGate) done(ok bool, known func(kid string) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	for kid, until := range g.missed {
		if !now.Before(until) {
			delete(g.missed, kid)
		}
	}
	for kid := range g.inFlight {
		switch {
		case !ok:
			remember(g.waiting, kid)
		case !known(kid) && len(g.missed) < maxTrackedKIDs:
			g.missed[kid] = now.Add(g.interval)
		}
	}
	g.inFlight = nil
}

// remember adds kid to set within the tracking bounds.
func remember(set map[string]struct{}, kid string) {
	if len(kid) <= maxTrackedKIDLen && len(set) < maxTrackedKIDs {
		set[kid] = struct{}{}
	}
}
