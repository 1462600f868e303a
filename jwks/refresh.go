package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// resolver yields the JWK Set URL to fetch; discovery implements it lazily.
type resolver interface {
	// resolve returns the URL. With renew false a resolver may return the
	// URL it found before; with renew true it looks again. current reports
	// whether looking again now could not change the URL: it was just looked
	// up, or it is fixed.
	resolve(ctx context.Context, client *http.Client, renew bool) (u string, current bool, err error)
}

// fixedURL is the resolver of a configured JWK Set URL.
type fixedURL string

func (u fixedURL) resolve(context.Context, *http.Client, bool) (string, bool, error) {
	return string(u), true, nil
}

// initialBackoff is the first retry delay after a failed attempt; it doubles
// after each further failure, capped at the refresh interval.
const initialBackoff = time.Second

// run is the set's only goroutine: it performs every fetch after the first,
// on the refresh timer (first due after d), on a trigger from a lookup and on
// Refresh. lastErr is the error of the first fetch.
func (r *Remote) run(lastErr error, d time.Duration) {
	defer close(r.done)
	if r.owned != nil {
		defer r.owned.CloseIdleConnections()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		var waiters []chan error
		renew := true // read discovery metadata again
		select {
		case <-r.ctx.Done():
			return
		case <-timer.C:
		case <-r.kids.trigger:
			renew = false
		case w := <-r.refreshReq:
			waiters = append(waiters, w)
		drain: // join every Refresh already waiting to this one fetch
			for {
				select {
				case w := <-r.refreshReq:
					waiters = append(waiters, w)
				default:
					break drain
				}
			}
		}
		r.kids.started()
		err := r.attempt(renew || lastErr != nil)
		r.kids.done(err == nil, r.keys.Load().hasKID)
		for _, w := range waiters {
			w <- err
		}
		lastErr = err
		timer.Reset(r.schedule(err))
	}
}

// schedule returns the delay to the next scheduled fetch after an attempt
// that ended with err (a retry with backoff after a failure), records when
// it is due for Status and logs a failure. Only the fetching goroutine (and
// start before it) calls it.
func (r *Remote) schedule(err error) time.Duration {
	interval := r.opts.RefreshInterval
	d := interval
	if err == nil {
		r.backoff = min(initialBackoff, interval)
	} else {
		d = r.backoff
		r.backoff = min(2*r.backoff, interval)
	}
	r.mu.Lock()
	r.nextAttempt = time.Now().Add(d)
	r.mu.Unlock()
	r.logFailure(err, d)
	return d
}

func (r *Remote) logFailure(err error, retryIn time.Duration) {
	if err != nil && r.ctx.Err() == nil {
		r.opts.Logger.Warn("jwks: refresh failed", "source", r.source, "error", err.Error(), "retry_in", retryIn)
	}
}

// attempt performs one fetch bounded by Options.Timeout and records its
// outcome for Status; renew is passed to the resolver.
func (r *Remote) attempt(renew bool) error {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	defer cancel()
	skipped, err := r.fetch(ctx, renew)
	r.failing.Store(err != nil)
	r.mu.Lock()
	r.lastAttempt = time.Now()
	prevSkipped := r.skipped
	failures := r.failures
	if err != nil {
		r.lastErr = err.Error()
		r.failures++
		r.loadErrors++
	} else {
		r.lastErr = ""
		r.skipped = skipped
		r.failures = 0
		r.loads++
	}
	r.mu.Unlock()
	if err == nil {
		n := r.keys.Load().n
		r.opts.Logger.Debug("jwks: keys loaded", "source", r.source, "keys", n, "skipped", skipped)
		if failures > 0 {
			r.opts.Logger.Info("jwks: keys loaded again", "source", r.source, "keys", n, "failed_attempts", failures)
		}
		if skipped > 0 && skipped != prevSkipped {
			r.opts.Logger.Warn("jwks: keys skipped as unreadable or unsafe", "source", r.source, "skipped", skipped)
		}
		if n == 0 {
			r.opts.Logger.Warn("jwks: key set holds no usable signature key", "source", r.source)
		}
	}
	return err
}

// fetch resolves the JWK Set URL (renew is passed to the resolver), fetches
// and decodes the set and installs its keys. If a URL the resolver had found
// before fails, it is resolved again at once and, if it changed, the set is
// fetched from the new one. skipped counts the keys that were unreadable or
// unsafe (see readKeys). The keys held are left as they are on any error.
func (r *Remote) fetch(ctx context.Context, renew bool) (skipped int, err error) {
	u, current, err := r.url.resolve(ctx, r.client, renew)
	if err != nil {
		return 0, err
	}
	members, err := r.download(ctx, u)
	if err != nil && !current {
		// The issuer may have moved its JWK Set: its metadata says.
		if u2, _, rerr := r.url.resolve(ctx, r.client, true); rerr == nil && u2 != u {
			members, err = r.download(ctx, u2)
		}
	}
	if err != nil {
		return 0, err
	}
	keys, skipped := readKeys(ctx, members, r.opts.Logger, r.source)
	if err := r.install(keys); err != nil {
		msg := err.Error() + "; keeping the previous keys"
		if skipped > 0 {
			msg += fmt.Sprintf(" (%d of %d skipped as unreadable or unsafe)", skipped, len(members))
		}
		return skipped, &fetchError{msg: msg, err: err}
	}
	return skipped, nil
}

// download fetches the JWK Set at u and returns its members, unparsed.
func (r *Remote) download(ctx context.Context, u string) ([]json.RawMessage, error) {
	body, err := get(ctx, r.client, u, "JWK Set", r.opts)
	if err != nil {
		return nil, err
	}
	return decodeKeySet(body)
}

// errNoUsableKeys is the error of a load that would replace usable keys with
// none.
var errNoUsableKeys = errors.New("jwks: the key set has no usable signature keys")

// install replaces the keys held with keys, indexed, unless keys has none
// usable for any algorithm while the keys held have one: then they stay and
// the error is errNoUsableKeys. Only the goroutine that owns the fetches (and
// start before it) calls it.
func (r *Remote) install(keys []entry) error {
	ks := newKeySet(keys, time.Now())
	old := r.keys.Load()
	if ks.usable == 0 && old.usable > 0 {
		return errNoUsableKeys
	}
	ks.generation = old.generation
	if !ks.keeps(old) {
		ks.generation++
	}
	r.keys.Store(ks)
	return nil
}

// requestRefresh asks the goroutine for a fetch because kid is unknown ("" if
// the set is empty) in the keys seen, if kidGate allows one now. It returns
// the channel closed when the fetch that looks for kid ends, if the lookup
// is to wait for one (see Options.UnknownKIDWait), or nil. It never blocks.
func (r *Remote) requestRefresh(kid string, seen *keySet) <-chan struct{} {
	queued, fetched := r.kids.request(kid, seen, r.opts.UnknownKIDWait > 0)
	if queued {
		r.opts.Logger.Debug("jwks: refresh requested", "source", r.source, "kid", logText(kid))
	}
	return fetched
}

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
//
// A lookup that starts a fetch, or that a pending or running fetch will
// cover, may wait for that fetch to end: kidGate hands out the channel the
// fetch closes as it ends, made when the first lookup asks for it.
type kidGate struct {
	trigger  chan struct{} // capacity 1; holds a value exactly while pending
	keys     *atomic.Pointer[keySet]
	limiter  *rate.Limiter
	interval time.Duration
	now      func() time.Time

	mu       sync.Mutex // guards the fields below
	pending  bool       // a trigger is queued and no fetch has started since
	waiting  map[string]struct{}
	inFlight map[string]struct{}  // waiting as the running fetch started
	missed   map[string]time.Time // kid -> end of its quiet time
	next     chan struct{}        // closed as the next fetch to start ends; nil until asked for
	running  chan struct{}        // closed as the running fetch ends; nil until asked for
}

func newKIDGate(interval time.Duration, now func() time.Time, keys *atomic.Pointer[keySet]) *kidGate {
	return &kidGate{
		trigger:  make(chan struct{}, 1),
		keys:     keys,
		limiter:  rate.NewLimiter(rate.Every(interval), unknownKIDBurst),
		interval: interval,
		now:      now,
		waiting:  map[string]struct{}{},
		missed:   map[string]time.Time{},
	}
}

// request records a lookup of the unknown kid ("" for a lookup in an empty
// set) and queues a refresh on trigger if one is due. It reports whether it
// queued one and, if wait is true, returns the channel closed as the fetch
// that covers the lookup ends: the one it queued, the pending one, or the
// running one if kid is in flight. fetched is nil if no fetch will cover the
// lookup (its kid is quiet, or the limiter is spent) or wait is false.
//
// seen is the key index the lookup read. If wait is true and a load has
// replaced it since, request records and starts nothing and returns
// closedChan: the lookup is to be done again, on the new keys. It never
// blocks.
func (g *kidGate) request(kid string, seen *keySet, wait bool) (queued bool, fetched <-chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if wait && g.keys.Load() != seen { // loads happen before done, which takes mu
		return false, closedChan
	}
	now := g.now()
	if kid != "" {
		if until, ok := g.missed[kid]; ok {
			if now.Before(until) {
				return false, nil
			}
			delete(g.missed, kid)
		}
		if _, ok := g.inFlight[kid]; ok {
			if !wait {
				return false, nil
			}
			if g.running == nil {
				g.running = make(chan struct{})
			}
			return false, g.running
		}
		remember(g.waiting, kid)
	}
	if !g.pending {
		if !g.limiter.AllowN(now, 1) {
			return false, nil
		}
		g.pending, queued = true, true
		select {
		case g.trigger <- struct{}{}:
		default: // unreachable: the channel is empty while !pending
		}
	}
	if !wait {
		return queued, nil
	}
	if g.next == nil {
		g.next = make(chan struct{})
	}
	return queued, g.next
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
	g.running, g.next = g.next, nil
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
	if g.running != nil {
		close(g.running)
		g.running = nil
	}
}

// closedChan is a closed channel: a wait on it ends at once.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// remember adds kid to set within the tracking bounds.
func remember(set map[string]struct{}, kid string) {
	if len(kid) <= maxTrackedKIDLen && len(set) < maxTrackedKIDs {
		set[kid] = struct{}{}
	}
}
