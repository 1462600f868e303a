package authserver

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"maps"
	"sync"
	"time"
)

// refreshTokenBytes is the entropy of a refresh token.
const refreshTokenBytes = 32

// sweepInterval is how often, at most, issuing a refresh token also drops
// the expired ones.
const sweepInterval = time.Minute

// refreshStore holds refresh tokens in memory, by the SHA-256 of the token:
// a copy of the store reveals no usable token.
type refreshStore struct {
	mu        sync.Mutex
	tokens    map[[sha256.Size]byte]*refreshEntry
	lastSweep time.Time
}

// refreshEntry is what a refresh token stands for.
type refreshEntry struct {
	clientID string
	scopes   []string // the scopes of the original grant, kept through rotations
	family   string   // shared by every token rotated from the same grant
	expires  time.Time
	used     bool // redeemed: kept until it expires, to detect reuse
}

func newRefreshStore() *refreshStore {
	return &refreshStore{tokens: map[[sha256.Size]byte]*refreshEntry{}}
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
	st.sweepLocked(now)
	st.tokens[sha256.Sum256([]byte(raw))] = &refreshEntry{
		clientID: clientID,
		scopes:   scopes,
		family:   rand.Text(),
		expires:  expires,
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
	redeemScope
)

// redeem exchanges raw, presented by clientID at now, for next, its
// successor in the same family with the same scopes, expiring at expires.
// grant picks the access token's scopes from the refresh token's; if it
// refuses, raw stays usable. A token that was already redeemed revokes its
// whole family (RFC 9700 §4.14.2): every token rotated from the same grant.
func (st *refreshStore) redeem(raw, clientID string, now time.Time, next string, expires time.Time,
	grant func(scopes []string) ([]string, *oauthError)) ([]string, redeemResult, *oauthError) {
	hash := sha256.Sum256([]byte(raw))
	st.mu.Lock()
	defer st.mu.Unlock()
	entry, ok := st.tokens[hash]
	switch {
	case !ok:
		return nil, redeemUnknown, errInvalidGrant("the refresh token is unknown, expired or revoked")
	case !now.Before(entry.expires):
		delete(st.tokens, hash)
		return nil, redeemExpired, errInvalidGrant("the refresh token expired")
	case entry.clientID != clientID:
		return nil, redeemWrongClient, errInvalidGrant("the refresh token was issued to another client")
	case entry.used:
		maps.DeleteFunc(st.tokens, func(_ [sha256.Size]byte, e *refreshEntry) bool { return e.family == entry.family })
		return nil, redeemReused, errInvalidGrant("the refresh token was already used; every token issued from it is revoked")
	}
	scopes, e := grant(entry.scopes)
	if e != nil {
		return nil, redeemScope, e
	}
	entry.used = true
	st.sweepLocked(now)
	st.tokens[sha256.Sum256([]byte(next))] = &refreshEntry{
		clientID: clientID,
		scopes:   entry.scopes,
		family:   entry.family,
		expires:  expires,
	}
	return scopes, redeemed, nil
}

// sweepLocked drops expired tokens, at most once per sweepInterval.
func (st *refreshStore) sweepLocked(now time.Time) {
	if now.Sub(st.lastSweep) < sweepInterval {
		return
	}
	st.lastSweep = now
	maps.DeleteFunc(st.tokens, func(_ [sha256.Size]byte, e *refreshEntry) bool { return !now.Before(e.expires) })
}

// len returns how many tokens are stored, used ones included.
func (st *refreshStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.tokens)
}
