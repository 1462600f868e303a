package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// resolver yields the JWK Set URL to fetch; discovery implements it lazily.
type resolver interface {
	resolve(ctx context.Context, client *http.Client) (string, error)
}

// fixedURL is the resolver of a configured JWK Set URL.
type fixedURL string

func (u fixedURL) resolve(context.Context, *http.Client) (string, error) { return string(u), nil }

// initialBackoff is the first retry delay after a failed attempt; it doubles
// after each further failure, capped at the refresh interval.
const initialBackoff = time.Second

// run is the set's only goroutine: it performs every fetch after the first,
// on the refresh timer, on a trigger from Keyfunc and on Refresh.
func (r *Remote) run(firstErr error) {
	defer close(r.done)
	if r.owned != nil {
		defer r.owned.CloseIdleConnections()
	}
	interval := r.opts.RefreshInterval
	backoff := min(initialBackoff, interval)
	next := func(err error) time.Duration {
		if err == nil {
			backoff = min(initialBackoff, interval)
			return interval
		}
		d := backoff
		backoff = min(2*backoff, interval)
		return d
	}
	d := next(firstErr)
	r.logFailure(firstErr, d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		var waiters []chan error
		select {
		case <-r.ctx.Done():
			return
		case <-timer.C:
		case <-r.kids.trigger:
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
		err := r.attempt()
		r.kids.done(err == nil, r.keys.Load().hasKID)
		for _, w := range waiters {
			w <- err
		}
		d := next(err)
		r.logFailure(err, d)
		timer.Reset(d)
	}
}

func (r *Remote) logFailure(err error, retryIn time.Duration) {
	if err != nil && r.ctx.Err() == nil {
		r.opts.Logger.Warn("jwks: refresh failed", "source", r.source, "error", err.Error(), "retry_in", retryIn)
	}
}

// attempt performs one fetch bounded by Options.Timeout and records its
// outcome for Status.
func (r *Remote) attempt() error {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	defer cancel()
	skipped, err := r.fetch(ctx)
	r.mu.Lock()
	r.lastAttempt = time.Now()
	prevSkipped := r.skipped
	if err != nil {
		r.lastErr = err.Error()
	} else {
		r.lastErr = ""
		r.skipped = skipped
	}
	r.mu.Unlock()
	if err == nil {
		n := r.keys.Load().n
		r.opts.Logger.Debug("jwks: keys loaded", "source", r.source, "keys", n, "skipped", skipped)
		if skipped > 0 && skipped != prevSkipped {
			r.opts.Logger.Warn("jwks: keys skipped as unreadable or unsafe", "source", r.source, "skipped", skipped)
		}
		if n == 0 {
			r.opts.Logger.Warn("jwks: key set holds no usable signature key", "source", r.source)
		}
	}
	return err
}

// fetch resolves the JWK Set URL, fetches and decodes the set and installs
// its keys. skipped counts the keys that were unreadable or unsafe (see
// readKeys). The keys held are left as they are on any error.
func (r *Remote) fetch(ctx context.Context) (skipped int, err error) {
	u, err := r.url.resolve(ctx, r.client)
	if err != nil {
		return 0, err
	}
	body, err := get(ctx, r.client, u, "JWK Set", r.opts)
	if err != nil {
		return 0, err
	}
	members, err := decodeKeySet(body)
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
// the set is empty), if kidGate allows one now. It never blocks.
func (r *Remote) requestRefresh(kid string) {
	if r.kids.request(kid) {
		r.opts.Logger.Debug("jwks: refresh requested", "source", r.source, "kid", logText(kid))
	}
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
