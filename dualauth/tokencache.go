package dualauth

import (
	"cmp"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	gocache "github.com/patrickmn/go-cache"
)

// Defaults of TokenCache fields left zero.
const (
	defaultMaxCachedTokens = 100_000
	defaultTokenCacheTTL   = 10 * time.Minute
)

// TokenCache configures the cache of verified tokens. A client sends the
// same token on every call for as long as it lives, so a token that passed
// every check is remembered under its SHA-256 hash and answered from memory
// when presented again: its exp and nbf are checked again (with the leeway)
// on every use, and the entry is dropped once the key that verified it
// leaves its issuer's key set. A token that failed is never remembered. The
// zero value turns the cache on with the defaults.
type TokenCache struct {
	// Disabled turns the cache off.
	Disabled bool
	// MaxEntries bounds the tokens remembered; 0 means 100,000. At the bound
	// the oldest entry makes room for the new one (counted in
	// CacheStatus.Evictions).
	MaxEntries int
	// MaxTTL bounds how long one verification is reused; 0 means 10
	// minutes. An entry never outlives its token's exp plus the leeway.
	MaxTTL time.Duration
}

// CacheStatus reports the verified-token cache, for health routes and
// metrics.
type CacheStatus struct {
	// Entries is the number of tokens held (at most TokenCache.MaxEntries).
	Entries int `json:"entries"`
	// Hits and Misses count the lookups answered from memory and not.
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	// Evictions counts live entries dropped to make room at the bound.
	Evictions uint64 `json:"evictions"`
}

// TokenCacheStatus reports the verified-token cache; all zero when it is
// off.
func (a *Authenticator) TokenCacheStatus() CacheStatus {
	c := a.tokens
	if c == nil {
		return CacheStatus{}
	}
	return CacheStatus{Entries: c.c.ItemCount(), Hits: c.hits.Load(), Misses: c.misses.Load(), Evictions: c.evictions.Load()}
}

// tokenKey is the SHA-256 hash of a raw token: the cache never holds tokens.
type tokenKey [sha256.Size]byte

func hashToken(raw string) tokenKey {
	// The hash only reads the token's bytes: no copy is needed.
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw)))
}

// tokenCache holds verified callers by token hash, on go-cache as a map
// with no expiry of its own (the entries carry theirs, on the
// authenticator's clock) and no janitor goroutine. It is bounded by a ring
// of the keys in the order they were stored: storing into a full ring drops
// the entry stored longest ago.
type tokenCache struct {
	c      *gocache.Cache // string(tokenKey) → *cachedToken
	now    func() time.Time
	leeway time.Duration
	maxTTL time.Duration

	mu   sync.Mutex
	max  int      // the most entries held
	ring []string // keys by the slot they were stored in
	next int      // once the ring is full, the slot the next entry takes

	hits, misses, evictions atomic.Uint64
}

// cachedToken is one verified token.
type cachedToken struct {
	p          *Principal // read-only: every hit gets a clone
	issuer     *Issuer
	generation uint64    // of the issuer's key set before the token's key was looked up
	notBefore  time.Time // nbf less the leeway
	expires    time.Time // exp plus the leeway, or sooner by maxTTL
	slot       int
}

func newTokenCache(cfg TokenCache, leeway time.Duration, now func() time.Time) *tokenCache {
	c := &tokenCache{
		c:      gocache.New(gocache.NoExpiration, 0),
		now:    now,
		leeway: leeway,
		maxTTL: cmp.Or(cfg.MaxTTL, defaultTokenCacheTTL),
		max:    cmp.Or(cfg.MaxEntries, defaultMaxCachedTokens),
	}
	c.ring = make([]string, 0, min(c.max, 1024))
	return c
}

// get returns the caller of the token hashed to key, if it is held and
// still good now.
func (c *tokenCache) get(key tokenKey) *Principal {
	k := unsafe.String(&key[0], len(key)) // only looked up, never kept
	v, ok := c.c.Get(k)
	if !ok {
		c.misses.Add(1)
		return nil
	}
	e := v.(*cachedToken)
	if !e.good(c.now()) {
		c.misses.Add(1)
		c.drop(k, e)
		return nil
	}
	c.hits.Add(1)
	return e.p
}

// good reports whether e may still be served at now.
func (e *cachedToken) good(now time.Time) bool {
	return !now.Before(e.notBefore) && now.Before(e.expires) && e.issuer.generation() == e.generation
}

// drop deletes the entry under k if it is still e.
func (c *tokenCache) drop(k string, e *cachedToken) {
	if v, ok := c.c.Get(k); ok && v == e {
		c.c.Delete(k)
	}
}

// put remembers p, whose token's nbf is nbf (zero if none), verified with
// a key of issuer's set at generation.
func (c *tokenCache) put(key tokenKey, p *Principal, nbf time.Time, issuer *Issuer, generation uint64) {
	now := c.now()
	e := &cachedToken{p: p, issuer: issuer, generation: generation, expires: now.Add(c.maxTTL)}
	if exp := p.ExpiresAt.Add(c.leeway); exp.Before(e.expires) {
		e.expires = exp
	}
	if !nbf.IsZero() {
		e.notBefore = nbf.Add(-c.leeway)
	}
	if !e.good(now) {
		return
	}
	k := string(key[:])
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.ring) < c.max {
		e.slot = len(c.ring)
		c.ring = append(c.ring, k)
	} else {
		// The ring is full: the entry stored longest ago makes room, unless
		// it was already dropped or stored again into a later slot.
		e.slot = c.next
		c.next = (c.next + 1) % c.max
		if v, ok := c.c.Get(c.ring[e.slot]); ok && v.(*cachedToken).slot == e.slot {
			if v.(*cachedToken).good(now) {
				c.evictions.Add(1)
			}
			c.c.Delete(c.ring[e.slot])
		}
		c.ring[e.slot] = k
	}
	c.c.Set(k, e, gocache.NoExpiration)
}

// generation is the version of iss's key set, which changes when a key
// leaves it; a set that never changes (jwks.Static) is always at 0.
func (iss *Issuer) generation() uint64 {
	if g, ok := iss.Keys.(interface{ Generation() uint64 }); ok {
		return g.Generation()
	}
	return 0
}
