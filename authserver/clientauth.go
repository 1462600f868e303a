package authserver

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/keyward/keyward/clients"
	gocache "github.com/patrickmn/go-cache"
)

// Client authentication throttle and cache, as on Keyward's resource side.
const (
	// maxClientFailures failed authentications for one client id, or
	// maxAddrFailures from one remote address, within throttleWindow make
	// further attempts 429 until the window ends.
	maxClientFailures = 10
	maxAddrFailures   = 50
	throttleWindow    = time.Minute
	// verifiedTTL is how long a verified id and secret pair is remembered,
	// so that a known-good client skips the hash and is never throttled.
	verifiedTTL = 5 * time.Minute
)

// clientAuth authenticates clients against the registry, with a throttle on
// failures and a cache of verified pairs keyed by an HMAC under a
// per-process random key (the cache never holds a secret, nor a hash of one
// that could be attacked offline).
type clientAuth struct {
	registry *clients.Registry
	hmacKey  [32]byte
	verified *gocache.Cache // HMAC(id, secret) → cachedClient
	failures *gocache.Cache // "c\x00"+id or "a\x00"+addr → int
}

type cachedClient struct {
	client     clients.Client
	generation uint64
}

func newClientAuth(registry *clients.Registry) *clientAuth {
	a := &clientAuth{
		registry: registry,
		verified: gocache.New(verifiedTTL, time.Minute),
		failures: gocache.New(throttleWindow, time.Minute),
	}
	_, _ = rand.Read(a.hmacKey[:]) // crypto/rand.Read never fails
	return a
}

// authenticate returns the client whose id and secret these are, or the
// refusal, whose cause is for logs.
func (a *clientAuth) authenticate(ctx context.Context, id, secret, addr string) (clients.Client, *oauthError) {
	key := a.cacheKey(id, secret)
	generation := a.registry.Generation()
	if v, ok := a.verified.Get(key); ok {
		if hit := v.(cachedClient); hit.generation == generation {
			c := hit.client
			c.Scopes = slices.Clone(c.Scopes)
			return c, nil
		}
		a.verified.Delete(key)
	}
	if wait := a.throttled(id, addr); wait > 0 {
		return clients.Client{}, errThrottled(wait)
	}
	c, err := a.registry.Verify(ctx, id, secret)
	switch {
	case errors.Is(err, clients.ErrInvalidClient):
		a.fail(id, addr)
		e := errInvalidClient("client authentication failed")
		e.cause = err
		return clients.Client{}, e
	case err != nil: // the request's context ended while waiting for a hash slot
		e := errUnavailable()
		e.cause = err
		return clients.Client{}, e
	}
	a.verified.SetDefault(key, cachedClient{client: clients.Client{ID: c.ID, Scopes: slices.Clone(c.Scopes)}, generation: generation})
	return c, nil
}

// cacheKey is an HMAC of id and secret, the id's length first so that no two
// pairs share a key.
func (a *clientAuth) cacheKey(id, secret string) string {
	mac := hmac.New(sha256.New, a.hmacKey[:])
	var n [binary.MaxVarintLen64]byte
	mac.Write(n[:binary.PutUvarint(n[:], uint64(len(id)))])
	mac.Write([]byte(id))
	mac.Write([]byte(secret))
	return string(mac.Sum(nil))
}

// throttled returns how long until id or addr may try again, or 0.
func (a *clientAuth) throttled(id, addr string) time.Duration {
	var wait time.Duration
	for _, k := range []struct {
		key string
		max int
	}{{"c\x00" + id, maxClientFailures}, {"a\x00" + addr, maxAddrFailures}} {
		v, expires, ok := a.failures.GetWithExpiration(k.key)
		if ok && v.(int) >= k.max {
			wait = max(wait, time.Until(expires))
		}
	}
	if wait > 0 && wait < time.Second {
		wait = time.Second
	}
	return wait
}

// fail counts a failed authentication against id and addr for the window
// that started with their first failure.
func (a *clientAuth) fail(id, addr string) {
	for _, key := range []string{"c\x00" + id, "a\x00" + addr} {
		if a.failures.Add(key, 1, throttleWindow) != nil {
			_, _ = a.failures.IncrementInt(key, 1)
		}
	}
}

// remoteAddr is the address failures are counted against: the peer's IP
// (forwarding headers are not trusted).
func remoteAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
