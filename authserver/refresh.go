package authserver

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"
)

// refreshTokenBytes is the entropy of a refresh token.
const refreshTokenBytes = 32

// refreshStore holds refresh tokens in memory, by the SHA-256 of the token:
// a copy of the store reveals no usable token.
//
// It is bounded: at most maxOwn tokens per client and max in all, redeemed
// ones (kept until they expire, to detect reuse) included. Storing one past
// a bound forgets the oldest token of the client, or of all. Expired tokens
// are dropped whenever a token is stored or redeemed: since every token
// lives the same RefreshTTL, the oldest are the first to expire, and the
// sweep only looks at those.
type refreshStore struct {
	max, maxOwn int

	mu       sync.Mutex
	tokens   map[[sha256.Size]byte]*refreshEntry
	all      list.List             // every entry, oldest first
	byClient map[string]*list.List // each client's entries, oldest first
	families uint64                // families started so far
}

// refreshEntry is what a refresh token stands for.
type refreshEntry struct {
	hash     [sha256.Size]byte
	clientID string
	scopes   []string // the scopes of the original grant, kept through rotations
	family   uint64   // shared by every token rotated from the same grant
	expires  time.Time
	used     bool // redeemed: kept until it expires, to detect reuse

	inAll, inClient *list.Element
}

func newRefreshStore(max, maxOwn int) *refreshStore {
	return &refreshStore{
		max:      max,
		maxOwn:   maxOwn,
		tokens:   map[[sha256.Size]byte]*refreshEntry{},
		byClient: map[string]*list.List{},
	}
}

// newRefreshToken returns a fresh opaque refresh token: 32 random bytes,
// base64url without padding.
func newRefreshToken() string {
	b := make([]byte, refreshTokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// issue stores raw, a new grant's refresh token, in a new family.
func (st *refreshStore) issue(raw, clientID string, scopes []string, expires, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.families++
	st.addLocked(raw, clientID, scopes, st.families, expires, now)
}

// addLocked sweeps, stores raw, then forgets the oldest tokens past the
// bounds.
func (st *refreshStore) addLocked(raw, clientID string, scopes []string, family uint64, expires, now time.Time) {
	st.sweepLocked(now)
	e := &refreshEntry{
		hash:     sha256.Sum256([]byte(raw)),
		clientID: clientID,
		scopes:   scopes,
		family:   family,
		expires:  expires,
	}
	own := st.byClient[clientID]
	if own == nil {
		own = list.New()
		st.byClient[clientID] = own
	}
	st.tokens[e.hash] = e
	e.inAll = st.all.PushBack(e)
	e.inClient = own.PushBack(e)
	if own.Len() > st.maxOwn {
		st.removeLocked(own.Front().Value.(*refreshEntry))
	}
	if st.all.Len() > st.max {
		st.removeLocked(st.all.Front().Value.(*refreshEntry))
	}
}

// removeLocked forgets e.
func (st *refreshStore) removeLocked(e *refreshEntry) {
	delete(st.tokens, e.hash)
	st.all.Remove(e.inAll)
	own := st.byClient[e.clientID]
	own.Remove(e.inClient)
	if own.Len() == 0 {
		delete(st.byClient, e.clientID)
	}
}

// revokeLocked forgets every token of family.
func (st *refreshStore) revokeLocked(family uint64) {
	for el := st.all.Front(); el != nil; {
		next := el.Next()
		if e := el.Value.(*refreshEntry); e.family == family {
			st.removeLocked(e)
		}
		el = next
	}
}

// sweepLocked drops the expired tokens at the old end of the store. (A
// token stored after the clock went back may outlive its expiry there; it
// is still refused, and still counted in the bounds.)
func (st *refreshStore) sweepLocked(now time.Time) {
	for el := st.all.Front(); el != nil; el = st.all.Front() {
		e := el.Value.(*refreshEntry)
		if now.Before(e.expires) {
			return
		}
		st.removeLocked(e)
	}
}

// redeemResult says why redeem refused a token, for logs.
type redeemResult int

const (
	redeemed redeemResult = iota
	redeemUnknown
	redeemExpired
	redeemWrongClient
	redeemReused
	redeemClientGone
	redeemScope
)

// redemption is one refresh_token grant.
type redemption struct {
	raw string
	// clientID is the client that authenticated, or that identified itself
	// with client_id without authenticating; "" if neither.
	clientID string
	// requested is the scope parameter; nil if there was none.
	requested []string
	// next is the successor token, stored expiring at expires.
	next         string
	now, expires time.Time
	// allowed returns the scopes the registry allows the client now, or
	// false if the registry has no enabled client of that id any more.
	allowed func(clientID string) ([]string, bool)
}

// redeem exchanges r.raw for r.next, its successor in the same family with
// the same scopes, and returns the token's client and the access token's
// scopes: those requested, which must be among the original grant's (all of
// them if none were requested), less those the registry no longer allows
// the client. A refusal for the wrong client or scope leaves r.raw usable. A
// token that was already redeemed revokes its whole family (RFC 9700
// §4.14.2): every token rotated from the same grant; so does a token whose
// client the registry has disabled or removed.
func (st *refreshStore) redeem(r redemption) (clientID string, scopes []string, res redeemResult, e *oauthError) {
	hash := sha256.Sum256([]byte(r.raw))
	st.mu.Lock()
	defer st.mu.Unlock()
	entry, ok := st.tokens[hash]
	switch {
	case !ok:
		return "", nil, redeemUnknown, errInvalidGrant("the refresh token is unknown, expired or revoked")
	case !r.now.Before(entry.expires):
		st.removeLocked(entry)
		return "", nil, redeemExpired, errInvalidGrant("the refresh token expired")
	case r.clientID != "" && entry.clientID != r.clientID:
		return "", nil, redeemWrongClient, errInvalidGrant("the refresh token was issued to another client")
	case entry.used:
		st.revokeLocked(entry.family)
		return entry.clientID, nil, redeemReused, errInvalidGrant("the refresh token was already used; every token issued from it is revoked")
	}
	allowed, ok := r.allowed(entry.clientID)
	if !ok {
		st.revokeLocked(entry.family)
		return entry.clientID, nil, redeemClientGone, errInvalidGrant("the refresh token is revoked: its client is disabled or no longer registered")
	}
	scopes, e = grantScopes(r.requested, entry.scopes)
	if e != nil {
		// The access token may narrow the grant (RFC 6749 §6), never widen it.
		return entry.clientID, nil, redeemScope, e
	}
	entry.used = true
	st.addLocked(r.next, entry.clientID, entry.scopes, entry.family, r.expires, r.now)
	// Nor does it outgrow what the registry allows the client now.
	return entry.clientID, intersect(scopes, allowed), redeemed, nil
}

// len returns how many tokens are stored, used ones included.
func (st *refreshStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.tokens)
}
