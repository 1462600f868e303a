// Package clientcheck is the client-credentials method of package
// clientauth: it checks a client id and secret through a verifier (a
// registry of hashed secrets, or a token exchange) behind a cache of
// verified pairs, coalesces concurrent checks of one pair, bounds the
// checks in flight, and throttles failures per client and address, in
// memory or, shared by replicas, on Redis. It knows nothing of requests nor
// of Principals: a Checker is generic over the caller type P its
// verifier returns.
package clientcheck

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clockcache"
	"github.com/keyward/keyward/internal/fielderr"
	"github.com/keyward/keyward/internal/throttle"
)

// Errors a verifier wraps (dualauth documents them).
var (
	ErrInvalidClient = dualauth.ErrInvalidClient
	ErrVerifierBusy  = dualauth.ErrVerifierBusy
)

// Config configures a Checker.
type Config[P any] struct {
	// Verify checks a pair: a caller the Checker may keep and share, or an
	// error wrapping ErrInvalidClient (the pair is not good), ErrVerifierBusy
	// (no capacity: not counted against the caller), or any other error
	// (the check could not be made: counted, and answered as unavailable).
	Verify func(ctx context.Context, id, secret string) (P, error)
	// Generation, if set, changes whenever the verifier's answers may have
	// changed: every cached verification is dropped then.
	Generation func() uint64
	// ExpiresAt, if set, is when a caller's credentials stop being good
	// (an exchanged token's expiry; zero: never).
	ExpiresAt func(P) time.Time
	// CacheTTL is how long a verified pair is remembered; 0 means 5
	// minutes, negative none.
	CacheTTL time.Duration
	// Limits are the throttle's budgets; zero fields mean 10 failures per
	// client id and address, 50 per address, in a minute.
	Limits throttle.Limits
	// Redis, if set, keeps the throttle's counts on Redis (package
	// redisthrottle links the store); PairKey, if set, shares there the
	// pairs that verified.
	Redis   *throttle.RedisOptions
	PairKey []byte
	Now     func() time.Time // nil: time.Now
}

// Defaults where a Config field is zero.
const (
	defaultCacheTTL          = 5 * time.Minute
	defaultMaxClientFailures = 10
	defaultMaxAddrFailures   = 50
	defaultThrottleWindow    = time.Minute
)

// Validate checks c as New does without connecting to anything. Every
// error is a *fielderr.Error naming a field of clientauth.Config.
func (c Config[P]) Validate() error {
	if r := c.Redis; r != nil {
		switch {
		case r.Timeout < 0:
			return fielderr.New("Throttle.Redis.Timeout", "may not be negative")
		case len(c.PairKey) > 0 && len(c.PairKey) < throttle.MinPairKeyLen:
			return fielderr.New("Throttle.Redis.PairKey", "is %d bytes; it needs at least %d", len(c.PairKey), throttle.MinPairKeyLen)
		case r.MaxCounters < 0 || r.MaxCounters == 1:
			return fielderr.New("Throttle.Redis.MaxCounters", "is %d; it needs at least 2 (or 0 for %d)", r.MaxCounters, throttle.MaxCounters)
		case c.Limits.Replicas < 0:
			return fielderr.New("Throttle.Redis.Replicas", "may not be negative")
		}
		store, err := openRedis(*r) // checks the URL; nothing connects yet
		if err != nil {
			return err
		}
		_ = store.Close()
	}
	for _, n := range []struct {
		field string
		v     int64
	}{
		{"Throttle.MaxClientFailures", int64(c.Limits.MaxClientFailures)},
		{"Throttle.MaxAddrFailures", int64(c.Limits.MaxAddrFailures)},
		{"Throttle.Window", int64(c.Limits.Window)},
	} {
		if n.v < 0 {
			return fielderr.New(n.field, "may not be negative")
		}
	}
	return nil
}

// openRedis opens the store of opts, or returns a *fielderr.Error.
func openRedis(opts throttle.RedisOptions) (throttle.SharedStore, error) {
	store, err := throttle.OpenRedis(opts)
	switch {
	case errors.Is(err, throttle.ErrNoRedis):
		return nil, fielderr.New("Throttle.Redis", "%s", strings.TrimPrefix(err.Error(), "throttle: "))
	case err != nil:
		return nil, fielderr.New("Throttle.Redis.URL", "%s", strings.TrimPrefix(err.Error(), "throttle: "))
	}
	return store, nil
}

// Kind is why a Checker refused a pair.
type Kind uint8

// Kinds of refusal.
const (
	Invalid     Kind = iota + 1 // the pair is not good (invalid_client)
	Throttled                   // too many failures (429, RetryAfter)
	Unavailable                 // the check could not be made (503, RetryAfter if set)
)

// Error is a Checker's refusal; Err is the cause, for logs (an Unavailable
// one may be the verifier's own error, passed on).
type Error struct {
	Kind       Kind
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	return fmt.Sprintf("clientcheck: refusal %d: %v", e.Kind, e.Err)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func unavailable(cause error) *Error { return &Error{Kind: Unavailable, Err: cause} }

const (
	// expiryMargin is how long before an exchanged token's expiry its cached
	// verification is dropped, so a cached caller never outlives its token.
	expiryMargin = 30 * time.Second
	// maxChecksInFlight bounds the verifications (hashes, token-endpoint
	// exchanges) running at once, whoever asked.
	maxChecksInFlight = 32
	// slotWait is how long a check waits for one of them before it is
	// answered 503.
	slotWait = 2 * time.Second
	// knownTTL is how long a pair that verified stays exempt from the
	// throttle gate (it is still verified whenever it is not cached).
	knownTTL = 24 * time.Hour
)

// Checker checks client credentials: it answers from a cache of verified
// pairs when it can, coalesces concurrent checks of the same pair, bounds
// the checks in flight, and throttles failures. Close it when done.
type Checker[P any] struct {
	verify     func(ctx context.Context, id, secret string) (P, error)
	generation func() uint64
	expiresAt  func(P) time.Time
	ttl        time.Duration
	now        func() time.Time
	hmacKey    [32]byte
	macs       sync.Pool         // *pooledMAC under hmacKey
	verified   *clockcache.Cache // cache key → cached[P]
	known      *throttle.Known   // pairs verified within knownTTL, not failed since
	throttle   *throttle.Throttle
	store      throttle.SharedStore // nil: memory
	slots      chan struct{}
	inflight   singleflight.Group // cache key → the check in progress
}

type cachedEntry[P any] struct {
	p          P
	generation uint64
}

// New checks cfg and returns a Checker for it. A Redis store it opens
// connects on first use; Close closes it.
func New[P any](cfg Config[P]) (*Checker[P], error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	c := &Checker[P]{
		verify:     cfg.Verify,
		generation: cfg.Generation,
		expiresAt:  cfg.ExpiresAt,
		ttl:        cmp.Or(cfg.CacheTTL, defaultCacheTTL),
		now:        now,
		verified:   clockcache.New(now),
		slots:      make(chan struct{}, maxChecksInFlight),
	}
	if c.generation == nil {
		c.generation = func() uint64 { return 0 }
	}
	th, shared, err := openThrottle(cfg.Limits, cfg.Redis, now)
	if err != nil {
		return nil, err
	}
	var store throttle.Store // nil: this process's memory
	if shared != nil {
		c.store, store = shared, shared
	}
	c.throttle = th
	known, err := throttle.NewKnown(throttle.KnownOptions{TTL: knownTTL, Now: now, Store: store, PairKey: cfg.PairKey})
	if err != nil {
		_ = c.Close()
		return nil, fielderr.New("Throttle.Redis.PairKey", "%s", strings.TrimPrefix(err.Error(), "throttle: "))
	}
	c.known = known
	_, _ = rand.Read(c.hmacKey[:]) // crypto/rand.Read never fails
	c.macs.New = func() any { return &pooledMAC{h: hmac.New(sha256.New, c.hmacKey[:])} }
	return c, nil
}

// NewThrottle checks cfg's throttle settings (Limits, Redis) as
// Validate does and returns the failure throttle a Checker of cfg counts
// with: the defaults where Limits are zero, on the clock cfg.Now, in
// memory or on the Redis of cfg.Redis (opened, not connected; store is it,
// for its owner to close, and nil in memory). Its budgets and keys are a
// Checker's, so that on one Redis every throttle of the same Limits shares
// an address's counter with the Checkers. Package clientauth's Guard
// counts guessed tokens with it.
func NewThrottle[P any](cfg Config[P]) (t *throttle.Throttle, store throttle.SharedStore, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return openThrottle(cfg.Limits, cfg.Redis, now)
}

// openThrottle is the throttle of limits, with the defaults where they are
// zero, counting in memory on the clock now or on the Redis of opts.
func openThrottle(limits throttle.Limits, opts *throttle.RedisOptions, now func() time.Time) (*throttle.Throttle, throttle.SharedStore, error) {
	limits.MaxClientFailures = cmp.Or(limits.MaxClientFailures, defaultMaxClientFailures)
	limits.MaxAddrFailures = cmp.Or(limits.MaxAddrFailures, defaultMaxAddrFailures)
	limits.Window = cmp.Or(limits.Window, defaultThrottleWindow)
	if opts == nil {
		return throttle.New(limits, now), nil, nil
	}
	store, err := openRedis(*opts)
	if err != nil {
		return nil, nil, err
	}
	return throttle.NewWithStore(limits, store, now), store, nil
}

// Close closes the Redis store, if one was opened.
func (c *Checker[P]) Close() error {
	if c.store == nil {
		return nil
	}
	return c.store.Close()
}

// StoreErrors is the number of calls the Redis store did not serve; 0
// without one.
func (c *Checker[P]) StoreErrors() uint64 {
	if c.store == nil {
		return 0
	}
	return c.store.StoreErrors()
}

// Check verifies id and secret for a request from addr (a key of package
// clientaddr); cached reports whether the cache of verified pairs
// answered. The caller it returns may be shared with other requests: copy
// it before changing it. Every error is an *Error.
func (c *Checker[P]) Check(ctx context.Context, id, secret, addr string) (_ P, cached bool, _ error) {
	key := c.cacheKey(id, secret)
	generation := c.generation()
	if v, ok := c.verified.Get(key); ok {
		if hit := v.(cachedEntry[P]); hit.generation == generation {
			return hit.p, true, nil
		}
		c.verified.Delete(key)
	}
	p, err := c.checkShared(ctx, key, generation, id, secret, addr)
	return p, false, err
}

// checkShared checks a pair the cache did not answer, sharing the check
// with concurrent requests of the same pair.
func (c *Checker[P]) checkShared(ctx context.Context, key string, generation uint64, id, secret, addr string) (P, error) {
	var none P
	for {
		ch := c.inflight.DoChan(key, func() (any, error) {
			return c.checkUncached(ctx, key, generation, id, secret, addr)
		})
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			return none, unavailable(ctx.Err())
		}
		if res.Err != nil && canceled(res.Err) && ctx.Err() == nil {
			// The request that ran the check went away; this one has not.
			continue
		}
		if res.Err != nil {
			return none, res.Err
		}
		return res.Val.(P), nil
	}
}

// checkUncached runs the verifier under the throttle and the in-flight
// bounds, and caches a success.
func (c *Checker[P]) checkUncached(ctx context.Context, key string, generation uint64, id, secret, addr string) (P, error) {
	var none P
	// A pair that verified recently skips the failure gate, so that a
	// guesser cannot lock the real client out, even right after a registry
	// reload emptied the cache; it is still verified, and a failure (a
	// revoked secret, a disabled client) ends the exemption.
	known := c.known.IsKnown(id, secret)
	var reservation *throttle.Reservation
	if !known {
		var retry time.Duration
		var err error
		reservation, retry, err = c.throttle.Admit(id, addr)
		switch {
		case err != nil: // the shared store cannot count this check
			return none, &Error{Kind: Unavailable, RetryAfter: retry, Err: err}
		case reservation == nil:
			return none, &Error{Kind: Throttled, RetryAfter: retry}
		}
	}
	select {
	case c.slots <- struct{}{}:
	default:
		timer := time.NewTimer(slotWait)
		defer timer.Stop()
		select {
		case c.slots <- struct{}{}:
		case <-timer.C:
			reservation.Cancel()
			return none, unavailable(ErrVerifierBusy)
		case <-ctx.Done():
			reservation.Cancel()
			return none, unavailable(ctx.Err())
		}
	}
	// An exchange tells the token endpoint whose credentials these are, so
	// that it throttles the caller, not this server.
	p, err := c.verify(exchange.WithCallerAddr(ctx, addr), id, secret)
	<-c.slots

	switch {
	case errors.Is(err, ErrInvalidClient):
		reservation.Fail() // the failure stays counted
		c.known.Forget(id, secret)
		return none, &Error{Kind: Invalid, Err: err}
	case canceled(err):
		reservation.Cancel() // the caller went away: nothing was learnt
		return none, unavailable(err)
	case errors.Is(err, ErrVerifierBusy):
		reservation.Cancel() // the server's load, not the pair's doing
		return none, unavailable(err)
	case err != nil:
		// Not the pair's fault as far as we know, but it cost a check: it
		// stays counted, so that errors cannot be farmed without limit.
		reservation.Fail()
		return none, unavailable(err)
	}
	reservation.Cancel()
	now := c.now()
	c.known.Mark(id, secret)
	ttl := c.ttl
	if c.expiresAt != nil {
		if exp := c.expiresAt(p); !exp.IsZero() {
			// An exchanged token is remembered until shortly before it
			// expires, unless the cache is off.
			ttl = exp.Sub(now) - expiryMargin
			if c.ttl < 0 {
				ttl = 0
			}
		}
	}
	if ttl > 0 {
		c.verified.Set(key, cachedEntry[P]{p: p, generation: generation}, now.Add(ttl))
	}
	return p, nil
}

// canceled reports whether err comes from a context that ended.
func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// cacheKey is an HMAC of id and secret under a per-process random key: the
// cache never holds a secret, nor a hash of one that could be attacked
// offline. The id's length is written first, so "a"+"bc" and "ab"+"c"
// differ.
//
// The HMACs are pooled, with room for their sums, and the id and secret
// are hashed where they lie: a key costs one allocation, its string.
func (c *Checker[P]) cacheKey(id, secret string) string {
	m := c.macs.Get().(*pooledMAC)
	m.h.Reset()
	var n [binary.MaxVarintLen64]byte
	m.h.Write(n[:binary.PutUvarint(n[:], uint64(len(id)))])
	m.h.Write(unsafe.Slice(unsafe.StringData(id), len(id)))         // read only
	m.h.Write(unsafe.Slice(unsafe.StringData(secret), len(secret))) // read only
	key := string(m.h.Sum(m.sum[:0]))
	c.macs.Put(m)
	return key
}

// pooledMAC is an HMAC of a Checker's key and room for its sum.
type pooledMAC struct {
	h   hash.Hash
	sum [sha256.Size]byte
}
