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
// guess spends the address's budget (Throttle.MaxAddrFailures), the one
// wrong client secrets spend, and, as guesses at a client of their own
// (whose id no request can present), a budget of Throttle.MaxClientFailures
// per address, so that token guesses alone cannot lock an address out of
// its client credentials. With the same Throttle.Redis (URL and KeyPrefix)
// as a Checker's, the counts are the Checker's: on one Redis an address's
// token and secret guesses share one budget across replicas. It is safe
// for concurrent use; Close it when done.
type Guard struct {
	throttle *throttle.Throttle
	store    throttle.SharedStore // nil: memory
	close    func() error         // closes store, once
}

// tokenGuessID is the client id token guesses are counted under. The core
// refuses an empty client id before any check, so no secret guess lands
// on it.
const tokenGuessID = ""

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

// Admit reserves one failure of addr's budgets (addr is a key of the
// caller's address, as dualauth.Origin.Addr gives) before a check runs,
// and done ends the check: done(true) leaves the failure counted,
// done(false) takes it back (the token was good, or nothing was learnt).
// Call done exactly once. When a budget is spent, or addr has
// throttle.MaxInFlight checks in progress in this process, Admit returns a
// 429 too_many_requests *dualauth.Error with RetryAfter; when the Redis
// store cannot count the check (and Throttle.Redis.Replicas leaves this
// process no share to count it in), a 503 temporarily_unavailable one.
// The check must not run then.
func (g *Guard) Admit(_ context.Context, addr string) (done func(failed bool), err error) {
	r, retry, err := g.throttle.Admit(tokenGuessID, addr)
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
