package dualauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"sync"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// expiryMargin is how long before an exchanged token's expiry its cached
// verification is dropped, so a cached caller never outlives its token.
const expiryMargin = 30 * time.Second

// ErrInvalidClient is wrapped by every ClientVerifier error that means the
// client id and secret are not good (unknown client, wrong secret, disabled
// client). The response never says which.
var ErrInvalidClient = errors.New("dualauth: invalid client credentials")

// errVerifierBusy: no verification slot freed in time.
var errVerifierBusy = errors.New("dualauth: too many credential checks in progress")

// Bounds on credential checks in progress.
const (
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

// clientChecker checks client credentials through a ClientVerifier: answers
// from a cache of verified pairs when it can, coalesces concurrent checks of
// the same pair, bounds the checks in flight, and throttles failures.
type clientChecker struct {
	owner      *Authenticator
	verify     func(ctx context.Context, id, secret string) (*Principal, error)
	generation func() uint64
	ttl        time.Duration
	now        func() time.Time
	hmacKey    [32]byte
	verified   *gocache.Cache // cache key → cachedClient
	known      *gocache.Cache // cache key → struct{}: verified within knownTTL, not failed since
	throttle   *throttle
	slots      chan struct{}

	mu      sync.Mutex
	pending map[string]*pendingCheck // cache key → the check in progress
}

type cachedClient struct {
	p          *Principal
	generation uint64
	expires    time.Time // on the authenticator's clock
}

// pendingCheck is a verification others with the same pair wait for.
type pendingCheck struct {
	done chan struct{}
	p    *Principal
	err  error
}

func newClientChecker(owner *Authenticator, verify func(context.Context, string, string) (*Principal, error), generation func() uint64, cred Credentials, now func() time.Time) *clientChecker {
	c := &clientChecker{
		owner:      owner,
		verify:     verify,
		generation: generation,
		ttl:        cred.CacheTTL,
		now:        now,
		verified:   gocache.New(gocache.NoExpiration, time.Minute),
		known:      gocache.New(gocache.NoExpiration, 10*time.Minute),
		throttle:   newThrottle(cred.Throttle),
		slots:      make(chan struct{}, maxChecksInFlight),
		pending:    map[string]*pendingCheck{},
	}
	if c.generation == nil {
		c.generation = func() uint64 { return 0 }
	}
	if c.ttl == 0 {
		c.ttl = DefaultCacheTTL
	}
	_, _ = rand.Read(c.hmacKey[:]) // crypto/rand.Read never fails
	return c
}

// check verifies id and secret for a request from addr.
func (c *clientChecker) check(ctx context.Context, id, secret, addr string) (*Principal, error) {
	key := c.cacheKey(id, secret)
	generation := c.generation()
	if v, ok := c.verified.Get(key); ok {
		hit := v.(cachedClient)
		if hit.generation == generation && c.now().Before(hit.expires) {
			return clonePrincipal(hit.p), nil
		}
		c.verified.Delete(key)
	}

	// Concurrent requests with the same pair share one verification.
	c.mu.Lock()
	if pc, ok := c.pending[key]; ok {
		c.mu.Unlock()
		select {
		case <-pc.done:
		case <-ctx.Done():
			return nil, errUnavailable(ctx.Err())
		}
		if pc.err != nil && canceled(pc.err) && ctx.Err() == nil {
			// The request that ran the check went away; this one has not.
			return c.check(ctx, id, secret, addr)
		}
		if pc.err != nil {
			return nil, pc.err
		}
		return clonePrincipal(pc.p), nil
	}
	pc := &pendingCheck{done: make(chan struct{})}
	c.pending[key] = pc
	c.mu.Unlock()

	pc.p, pc.err = c.checkUncached(ctx, key, generation, id, secret, addr)
	c.mu.Lock()
	delete(c.pending, key)
	c.mu.Unlock()
	close(pc.done)
	if pc.err != nil {
		return nil, pc.err
	}
	return clonePrincipal(pc.p), nil
}

// checkUncached runs the verifier under the throttle and the in-flight
// bounds, and caches a success.
func (c *clientChecker) checkUncached(ctx context.Context, key string, generation uint64, id, secret, addr string) (*Principal, error) {
	// A pair that verified recently skips the failure gate, so that a
	// guesser cannot lock the real client out, even right after a registry
	// reload emptied the cache; it is still verified, and a failure (a
	// revoked secret, a disabled client) ends the exemption.
	_, known := c.known.Get(key)
	var reservation *reservation
	if !known {
		var e *Error
		if reservation, e = c.throttle.reserve(id, addr); e != nil {
			return nil, e
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
			reservation.cancel()
			return nil, errUnavailable(errVerifierBusy)
		case <-ctx.Done():
			reservation.cancel()
			return nil, errUnavailable(ctx.Err())
		}
	}
	p, err := c.verify(ctx, id, secret)
	<-c.slots

	switch {
	case errors.Is(err, ErrInvalidClient):
		reservation.fail() // the failure stays counted
		c.known.Delete(key)
		return nil, errInvalidClient(err)
	case canceled(err):
		reservation.cancel() // the caller went away: nothing was learnt
		return nil, errUnavailable(err)
	case errors.Is(err, errVerifierBusy):
		reservation.cancel() // the server's load, not the pair's doing
		return nil, errUnavailable(err)
	case err != nil:
		// Not the pair's fault as far as we know, but it cost a check: it
		// stays counted, so that errors cannot be farmed without limit.
		reservation.fail()
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, errUnavailable(err)
	case p == nil:
		reservation.fail()
		return nil, errUnavailable(errors.New("dualauth: the client verifier returned no caller"))
	}
	reservation.cancel()
	c.known.Set(key, struct{}{}, knownTTL)
	p = c.stamp(p)
	ttl := c.ttl
	if !p.ExpiresAt.IsZero() {
		// An exchanged token is remembered until shortly before it
		// expires, unless the cache is off.
		ttl = p.ExpiresAt.Sub(c.now()) - expiryMargin
		if c.ttl < 0 {
			ttl = 0
		}
	}
	if ttl > 0 {
		c.verified.Set(key, cachedClient{p: p, generation: generation, expires: c.now().Add(ttl)}, ttl)
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
	cp := clonePrincipal(p)
	cp.Method = MethodCredentials
	cp.by = c.owner
	if cp.Claims == nil {
		cp.Claims = map[string]any{}
	}
	return cp
}

// clonePrincipal copies p with its own Scopes and Claims, so that a handler
// changing its caller cannot change the cached one.
func clonePrincipal(p *Principal) *Principal {
	cp := *p
	cp.Scopes = slices.Clone(p.Scopes)
	cp.Claims = maps.Clone(p.Claims)
	return &cp
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
