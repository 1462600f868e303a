package introspect

import (
	"cmp"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/internal/ring"
)

// maxCachedAnswer bounds an answer the cache keeps: a larger one is
// answered but not remembered.
const maxCachedAnswer = 64 << 10

// entry is one answer: a refusal (an inactive token, or an active one that
// is not for this server), or the claims of an accepted token with its nbf
// less the leeway and its exp plus the leeway (zero when absent).
type entry struct {
	key       tokenKey
	claims    jwtverify.Claims
	refusal   *jwtverify.Error
	notBefore time.Time
	expiry    time.Time
	ends      time.Time // when the cache lets go of it
}

// cache holds answers by token hash, each until its end on the Client's
// clock, bounded by a ring of the entries in the order they were stored:
// storing into a full ring drops the entry stored longest ago.
type cache struct {
	now                     func() time.Time
	maxTTL, negativeTTL     time.Duration
	mu                      sync.RWMutex
	m                       map[tokenKey]*entry
	ring                    ring.Ring[*entry] // in the order they were stored
	hits, misses, evictions atomic.Uint64
}

func newCache(cfg CacheConfig, now func() time.Time) *cache {
	c := &cache{now: now, maxTTL: cfg.MaxTTL, negativeTTL: cfg.NegativeTTL, m: map[tokenKey]*entry{},
		ring: ring.New[*entry](cmp.Or(cfg.MaxEntries, DefaultMaxEntries), 1024)}
	if c.maxTTL <= 0 {
		c.maxTTL = DefaultMaxTTL
	}
	if c.negativeTTL <= 0 {
		c.negativeTTL = DefaultNegativeTTL
	}
	return c
}

// get returns the live entry of key, counting a hit or a miss.
func (c *cache) get(key tokenKey) (*entry, bool) {
	e, ok := c.peek(key)
	if !ok {
		c.misses.Add(1)
		return nil, false
	}
	c.hits.Add(1)
	return e, true
}

// peek is get without counting.
func (c *cache) peek(key tokenKey) (*entry, bool) {
	c.mu.RLock()
	e := c.m[key]
	c.mu.RUnlock()
	if e == nil || !c.now().Before(e.ends) {
		return nil, false
	}
	return e, true
}

// put remembers e: a refusal for the negative TTL, an accepted token until
// its exp or the maximum TTL, whichever comes first (never past exp).
func (c *cache) put(e *entry) {
	now := c.now()
	if e.refusal != nil {
		e.ends = now.Add(c.negativeTTL)
	} else {
		if len(e.claims.JSON) > maxCachedAnswer {
			return
		}
		e.ends = now.Add(c.maxTTL)
		if exp := e.claims.ExpiresAt; !exp.IsZero() && exp.Before(e.ends) {
			e.ends = exp
		}
	}
	if !now.Before(e.ends) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, pushed := c.ring.Add(e); pushed && c.m[old.key] == old {
		delete(c.m, old.key)
		if now.Before(old.ends) {
			c.evictions.Add(1)
		}
	}
	c.m[e.key] = e
}

func (c *cache) status() (entries int, hits, misses, evictions uint64) {
	c.mu.RLock()
	n := len(c.m)
	c.mu.RUnlock()
	return n, c.hits.Load(), c.misses.Load(), c.evictions.Load()
}
