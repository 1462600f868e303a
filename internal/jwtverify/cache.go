package jwtverify

import (
	"cmp"
	"crypto/sha256"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	gocache "github.com/patrickmn/go-cache"

	"github.com/keyward/keyward/internal/ring"
	"github.com/keyward/keyward/scopes"
)

// Defaults of TokenCache fields left zero.
const (
	defaultMaxCachedTokens = 100_000
	defaultTokenCacheTTL   = 10 * time.Minute
)

// CacheConfig configures the cache of verified tokens (jwtauth.TokenCache
// documents its fields).
type CacheConfig struct {
	Disabled   bool
	MaxEntries int           // 0: 100,000
	MaxTTL     time.Duration // 0: 10 minutes
}

// CacheStatus reports the cache: the entries held, the lookups answered
// from memory and not, and the live entries dropped at the bound. All are
// zero when the cache is off.
func (v *Verifier) CacheStatus() (entries int, hits, misses, evictions uint64) {
	c := v.cache
	if c == nil {
		return 0, 0, 0, 0
	}
	return c.c.ItemCount(), c.hits.Load(), c.misses.Load(), c.evictions.Load()
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
	ring ring.Ring[*cachedToken] // entries in the order they were stored (a dropped one until pushed out)

	hits, misses, evictions atomic.Uint64
}

// cachedToken is one verified token: its Claims, less what every token of
// its issuer shares. Its texts are one string: the
// claims set (Claims.JSON) and, after it, whichever of the
// subject, the client id, the scopes and the binding (DPoP key or certificate) it does not already hold (most
// tokens have them all in their claims, unescaped). Its times are Unix
// nanoseconds, always within maxTTL of the clock.
type cachedToken struct {
	texts                   string // at most maxCachedTexts bytes
	payloadLen              uint16
	subject, clientID, scop span // in texts; scop holds the scope tokens separated by spaces
	jkt, x5t                span // in texts: Claims.JKT and Claims.X5T
	issuer                  *Issuer
	generation              uint64 // of the issuer's key set before the token's key was looked up
	expiresAt               int64  // the token's exp, in Unix seconds
	notBefore               int64  // nbf less the leeway, or math.MinInt64
	expires                 int64  // exp plus the leeway, or sooner by maxTTL
	key                     tokenKey
}

// maxCachedTexts bounds a cachedToken's texts, so that 16 bits place
// anything in them: a token whose claims are larger is not cached.
const maxCachedTexts = math.MaxUint16

// span is a part of a cachedToken's texts.
type span struct{ at, len uint16 }

func (s span) of(texts string) string { return texts[s.at : s.at+s.len] }

// mapKey is e's key in the map: a string over e.key, so that the map key
// costs no allocation of its own.
func (e *cachedToken) mapKey() string {
	return unsafe.String(&e.key[0], len(e.key))
}

// newCachedToken keeps c, sharing its claims set and copying nothing it
// already holds; nil if that is over maxCachedTexts.
func newCachedToken(p Claims) *cachedToken {
	if len(p.JSON) > maxCachedTexts {
		return nil
	}
	e := &cachedToken{texts: p.JSON, payloadLen: uint16(len(p.JSON))}
	var extra []byte
	place := func(s string) span {
		if at, ok := within(s, p.JSON); ok {
			return span{uint16(at), uint16(len(s))}
		}
		at := len(p.JSON) + len(extra)
		extra = append(extra, s...)
		return span{uint16(at), uint16(len(s))} // checked below
	}
	e.subject, e.clientID, e.jkt, e.x5t = place(p.Subject), place(p.ClientID), place(p.JKT), place(p.X5T)
	if text, ok := scopeText(p.Scopes, p.JSON); ok {
		e.scop = place(text)
	} else {
		e.scop = place(strings.Join(p.Scopes, " "))
	}
	if len(extra) > 0 {
		if len(p.JSON)+len(extra) > maxCachedTexts {
			return nil
		}
		e.texts = p.JSON + string(extra)
	}
	return e
}

// scopeText returns the part of payload from the first to the last byte
// of set's tokens, when they all lie in it and splitting it at spaces
// gives set again (as one scope claim, spelled without escapes, does).
func scopeText(set scopes.Set, payload string) (string, bool) {
	if len(set) == 0 {
		return "", true
	}
	lo, hi := len(payload), 0
	for _, t := range set {
		at, ok := within(t, payload)
		if !ok {
			return "", false
		}
		lo, hi = min(lo, at), max(hi, at+len(t))
	}
	text := payload[lo:hi]
	for _, t := range set { // each token is a whole word of text…
		at, _ := within(t, text)
		if end := at + len(t); at > 0 && text[at-1] != ' ' || end < len(text) && text[end] != ' ' {
			return "", false
		}
	}
	for w := range strings.SplitSeq(text, " ") { // …and text has no other word
		if _, found := slices.BinarySearch(set, w); !found && w != "" {
			return "", false
		}
	}
	return text, true
}

// scopeSet is the set of the scope tokens in text, separated by spaces.
func scopeSet(text string) scopes.Set {
	set := make(scopes.Set, 0, strings.Count(text, " ")+1)
	for w := range strings.SplitSeq(text, " ") {
		if w != "" {
			set = append(set, w)
		}
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// within reports whether s lies inside outer (its bytes are outer's own,
// not equal ones elsewhere) and at which offset.
func within(s, outer string) (int, bool) {
	if s == "" {
		return 0, true
	}
	at := int(uintptr(unsafe.Pointer(unsafe.StringData(s))) - uintptr(unsafe.Pointer(unsafe.StringData(outer))))
	return at, at >= 0 && at <= len(outer)-len(s)
}

func newTokenCache(cfg CacheConfig, leeway time.Duration, now func() time.Time) *tokenCache {
	c := &tokenCache{
		c:      gocache.New(gocache.NoExpiration, 0),
		now:    now,
		leeway: leeway,
		maxTTL: cmp.Or(cfg.MaxTTL, defaultTokenCacheTTL),
		ring:   ring.New[*cachedToken](cmp.Or(cfg.MaxEntries, defaultMaxCachedTokens), 1024),
	}
	return c
}

// get returns the claims of the token hashed to key, if it is held and
// still good now.
func (c *tokenCache) get(key tokenKey) (Claims, bool) {
	k := unsafe.String(&key[0], len(key)) // only looked up, never kept
	v, ok := c.c.Get(k)
	if !ok {
		c.misses.Add(1)
		return Claims{}, false
	}
	e := v.(*cachedToken)
	if !e.good(c.now().UnixNano()) {
		c.misses.Add(1)
		c.drop(e.mapKey(), e) // e's key, not k: k must not outlive this call
		return Claims{}, false
	}
	c.hits.Add(1)
	return Claims{
		Subject:   e.subject.of(e.texts),
		ClientID:  e.clientID.of(e.texts),
		Issuer:    e.issuer.Issuer,
		Scopes:    scopeSet(e.scop.of(e.texts)),
		ExpiresAt: time.Unix(e.expiresAt, 0),
		JKT:       e.jkt.of(e.texts),
		X5T:       e.x5t.of(e.texts),
		JSON:      e.texts[:e.payloadLen],
	}, true
}

// good reports whether e may still be served at now (Unix nanoseconds).
func (e *cachedToken) good(now int64) bool {
	return now >= e.notBefore && now < e.expires && e.issuer.generation() == e.generation
}

// drop deletes the entry under k if it is still e.
func (c *tokenCache) drop(k string, e *cachedToken) {
	if v, ok := c.c.Get(k); ok && v == e {
		c.c.Delete(k)
	}
}

// put remembers p, whose token's nbf is nbf (zero if none), verified with
// a key of issuer's set at generation.
func (c *tokenCache) put(key tokenKey, p Claims, nbf time.Time, issuer *Issuer, generation uint64) {
	now := c.now()
	e := newCachedToken(p)
	if e == nil {
		return
	}
	e.issuer, e.generation, e.key = issuer, generation, key
	e.expiresAt, e.notBefore, e.expires = p.ExpiresAt.Unix(), math.MinInt64, now.Add(c.maxTTL).UnixNano()
	// exp and nbf were checked against now with the leeway, so both are
	// within reach of now and of int64 nanoseconds.
	if exp := p.ExpiresAt.Add(c.leeway).UnixNano(); exp < e.expires {
		e.expires = exp
	}
	if !nbf.IsZero() {
		e.notBefore = nbf.Add(-c.leeway).UnixNano()
	}
	if !e.good(now.UnixNano()) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// When the ring is full, the entry stored longest ago makes room,
	// unless it was already dropped or its token stored again since.
	if old, pushed := c.ring.Add(e); pushed {
		if v, ok := c.c.Get(old.mapKey()); ok && v == old {
			if old.good(now.UnixNano()) {
				c.evictions.Add(1)
			}
			c.c.Delete(old.mapKey())
		}
	}
	c.c.Set(e.mapKey(), e, gocache.NoExpiration)
}

// generation is the version of iss's key set, which changes when a key
// leaves it; a set that never changes (jwks.Static) is always at 0.
func (iss *Issuer) generation() uint64 {
	if g, ok := iss.Keys.(interface{ Generation() uint64 }); ok {
		return g.Generation()
	}
	return 0
}
