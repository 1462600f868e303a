package dualauth

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clockcache"
	"github.com/keyward/keyward/internal/throttle"
)

// Errors a ClientVerifier wraps.
var (
	// ErrInvalidClient is wrapped by every ClientVerifier error that means
	// the client id and secret are not good (unknown client, wrong secret,
	// disabled client). The response never says which. A clients.Registry's
	// errors wrap it.
	ErrInvalidClient = errors.New("invalid client")
	// ErrVerifierBusy is wrapped by a ClientVerifier error that means the
	// check could not run for want of capacity (such as a registry whose
	// hash slots stayed taken). It is answered 503 with Retry-After, and,
	// unlike other errors, does not count against the caller's failure
	// budget: nothing was checked.
	ErrVerifierBusy = errors.New("dualauth: too many credential checks in progress")
)

// The longest client id and secret a request may present: longer ones are
// refused as an invalid client before any verifier sees them.
const (
	MaxClientIDBytes = 256
	MaxSecretBytes   = 1024
)

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

// exchangeVerify trades client credentials for an access token at the token
// endpoint and verifies it like a Bearer token.
func (a *Authenticator) exchangeVerify(ctx context.Context, id, secret string) (*Principal, error) {
	tok, err := a.exchange.Exchange(ctx, id, secret)
	if errors.Is(err, exchange.ErrRejected) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidClient, err)
	}
	var busy *exchange.RetryError
	if errors.As(err, &busy) {
		// The endpoint throttled this caller (429) or is overloaded (503):
		// pass its word on, with its Retry-After.
		wait := max(busy.RetryAfter, time.Second)
		if busy.Status == http.StatusTooManyRequests {
			e := errTooMany(wait)
			e.Err = err
			return nil, e
		}
		e := errUnavailable(err)
		e.RetryAfter = wait
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	p, err := a.Verify(ctx, tok.AccessToken)
	if err != nil {
		// The endpoint issued a token this server does not accept: a
		// configuration fault, not the client's.
		return nil, errUnavailable(fmt.Errorf("dualauth: the exchanged token did not verify: %w", err))
	}
	if p.ClientID != "" && p.ClientID != id {
		return nil, errUnavailable(errors.New("dualauth: the exchanged token names another client"))
	}
	p.Method = MethodCredentials
	p.ClientID = id
	return p, nil
}

// clientChecker checks client credentials through a ClientVerifier: answers
// from a cache of verified pairs when it can, coalesces concurrent checks of
// the same pair, bounds the checks in flight, and throttles failures.
type clientChecker struct {
	owner      *core
	verify     func(ctx context.Context, id, secret string) (*Principal, error)
	generation func() uint64
	ttl        time.Duration
	hmacKey    [32]byte
	verified   *clockcache.Cache // cache key → cachedClient
	known      *throttle.Known   // pairs verified within knownTTL, not failed since
	throttle   *throttle.Throttle
	slots      chan struct{}
	inflight   singleflight.Group // cache key → the check in progress
}

type cachedClient struct {
	p          *Principal
	generation uint64
}

func newClientChecker(owner *core, verify func(context.Context, string, string) (*Principal, error), generation func() uint64, cred Credentials) (*clientChecker, error) {
	limits := throttle.Limits{
		MaxClientFailures: cmp.Or(cred.Throttle.MaxClientFailures, defaultMaxClientFailures),
		MaxAddrFailures:   cmp.Or(cred.Throttle.MaxAddrFailures, defaultMaxAddrFailures),
		Window:            cmp.Or(cred.Throttle.Window, defaultThrottleWindow),
	}
	var store throttle.Store // nil: this process's memory
	var pairKey []byte
	if r := cred.Throttle.Redis; r != nil {
		limits.Replicas = r.Replicas
		rs, err := r.open(owner.logger)
		if err != nil {
			return nil, err
		}
		store, pairKey = rs, r.PairKey
		owner.closers = append(owner.closers, rs.Close)
		owner.storeErrors = rs.StoreErrors
	}
	known, err := throttle.NewKnown(throttle.KnownOptions{TTL: knownTTL, Now: owner.now, Store: store, PairKey: pairKey})
	if err != nil {
		return nil, configErr("Credentials.Throttle.Redis.PairKey", "%s", strings.TrimPrefix(err.Error(), "throttle: "))
	}
	c := &clientChecker{
		known:      known,
		owner:      owner,
		verify:     verify,
		generation: generation,
		ttl:        cred.CacheTTL,
		verified:   clockcache.New(owner.now),
		throttle:   throttle.NewWithStore(limits, store, owner.now),
		slots:      make(chan struct{}, maxChecksInFlight),
	}
	if c.ttl == 0 {
		c.ttl = defaultCacheTTL
	}
	_, _ = rand.Read(c.hmacKey[:]) // crypto/rand.Read never fails
	return c, nil
}

// check verifies id and secret for a request from addr; cached reports
// whether the cache of verified pairs answered.
func (c *clientChecker) check(ctx context.Context, id, secret, addr string) (_ *Principal, cached bool, _ error) {
	key := c.cacheKey(id, secret)
	generation := c.generation()
	if v, ok := c.verified.Get(key); ok {
		if hit := v.(cachedClient); hit.generation == generation {
			return hit.p.clone(), true, nil
		}
		c.verified.Delete(key)
	}
	p, err := c.checkShared(ctx, key, generation, id, secret, addr)
	return p, false, err
}

// checkShared checks a pair the cache did not answer, sharing the check
// with concurrent requests of the same pair.
func (c *clientChecker) checkShared(ctx context.Context, key string, generation uint64, id, secret, addr string) (*Principal, error) {
	// Concurrent requests with the same pair share one verification.
	for {
		ch := c.inflight.DoChan(key, func() (any, error) {
			return c.checkUncached(ctx, key, generation, id, secret, addr)
		})
		var res singleflight.Result
		select {
		case res = <-ch:
		case <-ctx.Done():
			return nil, errUnavailable(ctx.Err())
		}
		if res.Err != nil && canceled(res.Err) && ctx.Err() == nil {
			// The request that ran the check went away; this one has not.
			continue
		}
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*Principal).clone(), nil
	}
}

// checkUncached runs the verifier under the throttle and the in-flight
// bounds, and caches a success.
func (c *clientChecker) checkUncached(ctx context.Context, key string, generation uint64, id, secret, addr string) (*Principal, error) {
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
			e := errUnavailable(err)
			e.RetryAfter = retry
			return nil, e
		case reservation == nil:
			return nil, errTooMany(retry)
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
			return nil, errUnavailable(ErrVerifierBusy)
		case <-ctx.Done():
			reservation.Cancel()
			return nil, errUnavailable(ctx.Err())
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
		return nil, errInvalidClient(err)
	case canceled(err):
		reservation.Cancel() // the caller went away: nothing was learnt
		return nil, errUnavailable(err)
	case errors.Is(err, ErrVerifierBusy):
		reservation.Cancel() // the server's load, not the pair's doing
		return nil, errUnavailable(err)
	case err != nil:
		// Not the pair's fault as far as we know, but it cost a check: it
		// stays counted, so that errors cannot be farmed without limit.
		reservation.Fail()
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, errUnavailable(err)
	case p == nil:
		reservation.Fail()
		return nil, errUnavailable(errors.New("dualauth: the client verifier returned no caller"))
	}
	reservation.Cancel()
	now := c.owner.now()
	c.known.Mark(id, secret)
	p = c.stamp(p)
	ttl := c.ttl
	if !p.ExpiresAt.IsZero() {
		// An exchanged token is remembered until shortly before it
		// expires, unless the cache is off.
		ttl = p.ExpiresAt.Sub(now) - expiryMargin
		if c.ttl < 0 {
			ttl = 0
		}
	}
	if ttl > 0 {
		c.verified.Set(key, cachedClient{p: p, generation: generation}, now.Add(ttl))
	}
	return p, nil
}

// canceled reports whether err comes from a context that ended.
func canceled(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// stamp returns a copy of a verifier's caller marked as a client-credential
// caller of this authenticator.
func (c *clientChecker) stamp(p *Principal) *Principal {
	cp := p.clone()
	cp.Method = MethodCredentials
	cp.by = c.owner
	return cp
}

// cacheKey is an HMAC of id and secret under a per-process random key: the
// cache never holds a secret, nor a hash of one that could be attacked
// offline. The id's length is written first, so "a"+"bc" and "ab"+"c"
// differ.
func (c *clientChecker) cacheKey(id, secret string) string {
	mac := hmac.New(sha256.New, c.hmacKey[:])
	var n [binary.MaxVarintLen64]byte
	mac.Write(n[:binary.PutUvarint(n[:], uint64(len(id)))])
	mac.Write([]byte(id))
	mac.Write([]byte(secret))
	return string(mac.Sum(nil))
}
