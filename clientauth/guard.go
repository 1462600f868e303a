package clientauth

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/clientcheck"
	"github.com/keyward/keyward/internal/throttle"
)

// Guard counts failed checks other than client secrets against the
// caller's address, on the budgets of a Throttle: the opaque tokens an
// introspection endpoint does not know, for a *jwtauth.Verifier
// (jwtauth.Config.Throttle). A token guesser is a secret guesser: each
// guess spends the address's budget (Throttle.MaxAddrFailures per
// Throttle.Window), the one wrong client secrets from that address spend
// too. Guesses do not spend Throttle.MaxClientFailures (they name no
// client), and they take none of the address's throttle.MaxInFlight checks
// in progress: many callers behind one address (a gateway, a NAT) may
// present new tokens at once, and the calls are bounded per endpoint
// instead. An empty address (a zero dualauth.Origin, a check with no
// address) is not counted at all. With the same Throttle.Redis (URL and
// KeyPrefix) as a Checker's, the counts are the Checker's: on one Redis an
// address's token and secret guesses share one budget across replicas. It
// is safe for concurrent use; Close it when done.
type Guard struct {
	throttle *throttle.Throttle
	store    throttle.SharedStore // nil: memory
	close    func() error         // closes store, once
}

// NewGuard checks t as Config.Validate checks a Throttle and returns a
// Guard counting on its budgets, on the clock now (nil: time.Now), in
// memory or on its Redis (opened, not connected: package redisthrottle
// must be linked); logger receives the Redis store's messages (nil:
// none). Every error is a *dualauth.ConfigError whose Package is
// "clientauth" and whose Field starts with "Throttle".
func NewGuard(t Throttle, now func() time.Time, logger *slog.Logger) (*Guard, error) {
	th, store, err := clientcheck.NewThrottle(Config{Throttle: t, Now: now, Logger: logger}.internal(nil))
	if err != nil {
		return nil, configError(err)
	}
	g := &Guard{throttle: th, store: store, close: func() error { return nil }}
	if store != nil {
		g.close = sync.OnceValue(store.Close)
	}
	return g, nil
}

// Admit reserves one failure of addr's budget (Throttle.MaxAddrFailures;
// addr is a key of the caller's address, as dualauth.Origin.Addr gives)
// before a check runs, and done ends the check: done(true) leaves the
// failure counted, done(false) takes it back (the token was good, or
// nothing was learnt). Call done exactly once. When the budget is spent,
// Admit returns a 429 too_many_requests *dualauth.Error with RetryAfter;
// when the Redis store cannot count the check (and Throttle.Redis.Replicas
// leaves this process no share to count it in), a 503
// temporarily_unavailable one. The check must not run then. An empty addr
// is admitted and counts nothing: it is no caller's address, and one
// counter for every such check would let one guesser lock out all.
func (g *Guard) Admit(_ context.Context, addr string) (done func(failed bool), err error) {
	if addr == "" {
		return func(bool) {}, nil
	}
	r, retry, err := g.throttle.AdmitAddr(addr)
	switch {
	case err != nil:
		e := errUnavailable(err)
		e.Description = "failed attempts cannot be counted right now; retry later"
		e.RetryAfter = retry
		return nil, e
	case r == nil:
		return nil, errTooMany(retry)
	}
	return func(failed bool) {
		if failed {
			r.Fail()
		} else {
			r.Cancel()
		}
	}, nil
}

// StoreErrors is the number of calls the Redis store did not serve; 0
// without one.
func (g *Guard) StoreErrors() uint64 {
	if g.store == nil {
		return 0
	}
	return g.store.StoreErrors()
}

// Close closes the Redis store NewGuard opened, if any. Close is
// idempotent.
func (g *Guard) Close() error { return g.close() }
