package dualauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net/http"
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

// clientChecker checks client credentials through a ClientVerifier, with a
// cache of verified pairs and a throttle on failures.
type clientChecker struct {
	owner      *Authenticator
	verify     func(ctx context.Context, id, secret string) (*Principal, error)
	generation func() uint64
	ttl        time.Duration
	throttle   Throttle
	now        func() time.Time
	hmacKey    [32]byte
	verified   *gocache.Cache // cache key → cachedClient
	failures   *gocache.Cache // "c\x00"+id or "a\x00"+addr → int failures in the window
}

type cachedClient struct {
	p          *Principal
	generation uint64
}

func newClientChecker(owner *Authenticator, verify func(context.Context, string, string) (*Principal, error), generation func() uint64, cred Credentials, now func() time.Time) *clientChecker {
	c := &clientChecker{
		owner:      owner,
		verify:     verify,
		generation: generation,
		ttl:        cred.CacheTTL,
		throttle:   cred.Throttle,
		now:        now,
		verified:   gocache.New(gocache.NoExpiration, time.Minute),
		failures:   gocache.New(gocache.NoExpiration, time.Minute),
	}
	if c.generation == nil {
		c.generation = func() uint64 { return 0 }
	}
	if c.ttl == 0 {
		c.ttl = DefaultCacheTTL
	}
	if c.throttle.MaxClientFailures == 0 {
		c.throttle.MaxClientFailures = DefaultMaxClientFailures
	}
	if c.throttle.MaxAddrFailures == 0 {
		c.throttle.MaxAddrFailures = DefaultMaxAddrFailures
	}
	if c.throttle.Window == 0 {
		c.throttle.Window = DefaultThrottleWindow
	}
	_, _ = rand.Read(c.hmacKey[:]) // crypto/rand.Read never fails
	return c
}

// check verifies id and secret, answering from the cache when it can.
func (c *clientChecker) check(ctx context.Context, id, secret, addr string) (*Principal, error) {
	key := c.cacheKey(id, secret)
	generation := c.generation()
	if v, ok := c.verified.Get(key); ok {
		hit := v.(cachedClient)
		if hit.generation == generation && (hit.p.ExpiresAt.IsZero() || c.now().Before(hit.p.ExpiresAt.Add(-expiryMargin))) {
			p := *hit.p
			return &p, nil
		}
		c.verified.Delete(key)
	}
	if wait := c.throttled(id, addr); wait > 0 {
		return nil, &Error{
			Status:      http.StatusTooManyRequests,
			Code:        CodeTooManyRequests,
			Description: "too many failed authentication attempts; retry later",
			RetryAfter:  wait,
		}
	}
	p, err := c.verify(ctx, id, secret)
	switch {
	case errors.Is(err, ErrInvalidClient):
		c.fail(id, addr)
		return nil, errInvalidClient(err)
	case err != nil:
		var e *Error
		if errors.As(err, &e) {
			return nil, e
		}
		return nil, errUnavailable(err)
	case p == nil:
		return nil, errUnavailable(errors.New("dualauth: the client verifier returned no caller"))
	}
	p = c.stamp(p)
	ttl := c.ttl
	if !p.ExpiresAt.IsZero() {
		ttl = min(ttl, p.ExpiresAt.Sub(c.now())-expiryMargin)
	}
	if ttl > 0 {
		c.verified.Set(key, cachedClient{p: p, generation: generation}, ttl)
	}
	cp := *p
	return &cp, nil
}

// stamp returns a copy of a verifier's caller marked as a client-credential
// caller of this authenticator.
func (c *clientChecker) stamp(p *Principal) *Principal {
	cp := *p
	cp.Method = MethodCredentials
	cp.by = c.owner
	return &cp
}

// cacheKey is an HMAC of id and secret under a per-process random key: the
// cache never holds a secret, nor a hash of one that could be attacked
// offline.
func (c *clientChecker) cacheKey(id, secret string) string {
	mac := hmac.New(sha256.New, c.hmacKey[:])
	var n [binary.MaxVarintLen64]byte
	mac.Write(n[:binary.PutUvarint(n[:], uint64(len(id)))])
	mac.Write([]byte(id))
	mac.Write([]byte(secret))
	return string(mac.Sum(nil))
}

// throttled returns how long until id or addr may be checked again, or 0.
func (c *clientChecker) throttled(id, addr string) time.Duration {
	var wait time.Duration
	for _, k := range []struct {
		key string
		max int
	}{{"c\x00" + id, c.throttle.MaxClientFailures}, {"a\x00" + addr, c.throttle.MaxAddrFailures}} {
		v, expires, ok := c.failures.GetWithExpiration(k.key)
		if ok && v.(int) >= k.max {
			wait = max(wait, time.Until(expires))
		}
	}
	if wait > 0 && wait < time.Second {
		wait = time.Second
	}
	return wait
}

// fail counts a failed check against id and addr for the window.
func (c *clientChecker) fail(id, addr string) {
	for _, key := range []string{"c\x00" + id, "a\x00" + addr} {
		if c.failures.Add(key, 1, c.throttle.Window) != nil {
			_, _ = c.failures.IncrementInt(key, 1)
		}
	}
}
