// Package clockcache is a go-cache whose entries expire on an injected
// clock rather than the wall clock, so that every time-dependent decision
// of an Authenticator follows one clock (a fake one in tests). It starts no
// goroutine: a writer sweeps expired entries at most once per SweepEvery.
package clockcache

import (
	"sync/atomic"
	"time"

	gocache "github.com/patrickmn/go-cache"
)

// SweepEvery is the least time between two sweeps of a Cache.
const SweepEvery = time.Minute

// Cache maps keys to values until each one's expiry. It is safe for
// concurrent use.
type Cache struct {
	c         *gocache.Cache // key → entry
	now       func() time.Time
	nextSweep atomic.Int64 // unix nanoseconds, on now's clock
}

type entry struct {
	v       any
	expires time.Time
}

// New returns an empty Cache on the clock now.
func New(now func() time.Time) *Cache {
	// No default expiration and no janitor: go-cache would read the wall
	// clock and start a goroutine that stops only by finalizer.
	return &Cache{c: gocache.New(gocache.NoExpiration, 0), now: now}
}

// Get returns the value under key, if it has not expired.
func (c *Cache) Get(key string) (any, bool) {
	v, _, ok := c.GetWithExpiry(key)
	return v, ok
}

// GetWithExpiry returns the value under key and when it expires, if it has
// not.
func (c *Cache) GetWithExpiry(key string) (any, time.Time, bool) {
	v, ok := c.c.Get(key)
	if !ok {
		return nil, time.Time{}, false
	}
	e := v.(entry)
	if !c.now().Before(e.expires) {
		return nil, time.Time{}, false
	}
	return e.v, e.expires, true
}

// Set stores v under key until expires.
func (c *Cache) Set(key string, v any, expires time.Time) {
	c.c.Set(key, entry{v: v, expires: expires}, gocache.NoExpiration)
	c.sweep()
}

// Delete removes key.
func (c *Cache) Delete(key string) { c.c.Delete(key) }

// Len is the number of entries held, expired ones not yet swept included.
func (c *Cache) Len() int { return c.c.ItemCount() }

// sweep drops expired entries, if the last sweep is SweepEvery old.
func (c *Cache) sweep() {
	now := c.now()
	next := c.nextSweep.Load()
	if now.UnixNano() < next || !c.nextSweep.CompareAndSwap(next, now.Add(SweepEvery).UnixNano()) {
		return
	}
	for k, it := range c.c.Items() {
		if e := it.Object.(entry); !now.Before(e.expires) {
			c.c.Delete(k)
		}
	}
}
