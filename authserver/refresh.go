package authserver

import (
	"container/list"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/dpop"
)

// A refresh token is base64url, without padding, of a family id followed
// by a secret, both random. Every token rotated from one grant carries the
// grant's family id; only the secret of the family's live token (its
// newest) is usable.
const (
	familyIDBytes      = 16
	refreshSecretBytes = 32
	refreshTokenBytes  = familyIDBytes + refreshSecretBytes
)

// refreshTokenLen is the length of a refresh token's text.
var refreshTokenLen = base64.RawURLEncoding.EncodedLen(refreshTokenBytes)

// familyID names a refresh-token family: one grant and every token rotated
// from it. It is not a secret on its own: it is only ever seen inside a
// token of the family, by whoever holds that token.
type familyID [familyIDBytes]byte

// refreshStore holds refresh tokens in memory, one entry per family: the
// family's client, scopes and expiry, and the SHA-256 of its live token's
// secret, so that a copy of the store reveals no usable token.
//
// A family's used tokens take no room: a token that names a known family
// but is not its live token can only be one the family used already (or
// one made up by someone who has seen a token of the family, who could
// present that token instead), and presenting it revokes the family
// (RFC 6749 §10.4, RFC 9700 §4.14.2). So reuse is detected however many
// times the family rotated since, for as long as the family lives.
//
// It is bounded: at most maxOwn families per client and max in all.
// Starting one past a bound revokes the least recently used family (issued
// or rotated longest ago) of the client, or of all: its live token is then
// refused like an unknown one. Expired families are dropped whenever a
// family is started or rotated: every token lives the same RefreshTTL from
// its issue, so the least recently used families are the first to expire,
// and the sweep only looks at those.
type refreshStore struct {
	max, maxOwn int

	mu       sync.Mutex
	families map[familyID]*refreshFamily
	all      list.List             // every family, least recently used first
	byClient map[string]*list.List // each client's families, least recently used first
}

// refreshFamily is one grant's refresh tokens: what its live token stands
// for.
type refreshFamily struct {
	id       familyID
	live     [sha256.Size]byte // SHA-256 of the live token's secret
	clientID string
	scopes   []string  // the scopes of the original grant, kept through rotations
	jkt      string    // the thumbprint of the DPoP key the family is bound to; "" if none
	expires  time.Time // the live token's

	inAll, inClient *list.Element
}

func newRefreshStore(max, maxOwn int) *refreshStore {
	return &refreshStore{
		max:      max,
		maxOwn:   maxOwn,
		families: map[familyID]*refreshFamily{},
		byClient: map[string]*list.List{},
	}
}

// newSecret gives f a fresh live token, in place of the previous one, and
// returns it.
func (f *refreshFamily) newSecret() string {
	b := make([]byte, refreshTokenBytes)
	copy(b, f.id[:])
	_, _ = rand.Read(b[familyIDBytes:]) // crypto/rand.Read never fails
	f.live = sha256.Sum256(b[familyIDBytes:])
	return base64.RawURLEncoding.EncodeToString(b)
}

// parseRefreshToken splits raw into its family id and secret; false if raw
// is not shaped as this server's refresh tokens are.
func parseRefreshToken(raw string) (familyID, []byte, bool) {
	var id familyID
	// The length check comes first: the decoder skips line breaks, and a
	// token is only ever read in its one spelling.
	if len(raw) != refreshTokenLen {
		return id, nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(raw)
	if err != nil || len(b) != refreshTokenBytes {
		return id, nil, false
	}
	copy(id[:], b)
	return id, b[familyIDBytes:], true
}

// issue starts a family for a new grant, bound to the DPoP key of
// thumbprint jkt unless it is "", and returns its first refresh token.
func (st *refreshStore) issue(clientID string, scopes []string, jkt string, expires, now time.Time) string {
	f := &refreshFamily{clientID: clientID, scopes: scopes, jkt: jkt, expires: expires}
	_, _ = rand.Read(f.id[:]) // crypto/rand.Read never fails; 128 bits never collide in practice
	raw := f.newSecret()

	st.mu.Lock()
	defer st.mu.Unlock()
	st.sweepLocked(now)
	own := st.byClient[clientID]
	if own == nil {
		own = list.New()
		st.byClient[clientID] = own
	}
	st.families[f.id] = f
	f.inAll = st.all.PushBack(f)
	f.inClient = own.PushBack(f)
	if own.Len() > st.maxOwn {
		st.revokeLocked(own.Front().Value.(*refreshFamily))
	}
	if st.all.Len() > st.max {
		st.revokeLocked(st.all.Front().Value.(*refreshFamily))
	}
	return raw
}

// revokeLocked forgets f: none of its tokens is usable any more.
func (st *refreshStore) revokeLocked(f *refreshFamily) {
	delete(st.families, f.id)
	st.all.Remove(f.inAll)
	own := st.byClient[f.clientID]
	own.Remove(f.inClient)
	if own.Len() == 0 {
		delete(st.byClient, f.clientID)
	}
}

// sweepLocked drops the expired families at the least recently used end of
// the store. (A family rotated after the clock went back may outlive its
// expiry there; its token is still refused, and it still counts in the
// bounds.)
func (st *refreshStore) sweepLocked(now time.Time) {
	for el := st.all.Front(); el != nil; el = st.all.Front() {
		f := el.Value.(*refreshFamily)
		if now.Before(f.expires) {
			return
		}
		st.revokeLocked(f)
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
	redeemUnproven // a DPoP-bound token without a proof, or with a proof of another key
)

// redemption is one refresh_token grant.
type redemption struct {
	raw string
	// clientID is the client that authenticated, or that identified itself
	// with client_id without authenticating; "" if neither.
	clientID string
	// requested is the scope parameter; nil if there was none.
	requested []string
	// jkt is the thumbprint of the key of the request's DPoP proof, which
	// the checker accepted; "" if it had none.
	jkt string
	// now is the time of the request; the successor expires at expires.
	now, expires time.Time
	// allowed returns the scopes the registry allows the client now, or
	// false if the registry has no enabled client of that id any more.
	allowed func(clientID string) ([]string, bool)
}

// refreshGrant is what redeem grants.
type refreshGrant struct {
	// clientID is the token's client, also on a refusal once the token is
	// known (for logs).
	clientID string
	scopes   []string // of the access token
	next     string   // the successor refresh token
}

// redeem exchanges r.raw for its successor in the same family, with the
// same scopes, and grants the access token the scopes requested, which
// must be among the original grant's (all of them if none were requested),
// less those the registry no longer allows the client. A refusal for the
// wrong client or scope leaves r.raw usable. A token of the family that is
// not its live one (one already redeemed) revokes the whole family: every
// token rotated from the same grant, the live one included; so does a token
// whose client the registry has disabled or removed.
func (st *refreshStore) redeem(r redemption) (g refreshGrant, res redeemResult, e *oauthError) {
	id, secret, ok := parseRefreshToken(r.raw)
	if !ok {
		return g, redeemUnknown, errUnknownRefreshToken()
	}
	presented := sha256.Sum256(secret)
	st.mu.Lock()
	defer st.mu.Unlock()
	f, ok := st.families[id]
	if !ok {
		return g, redeemUnknown, errUnknownRefreshToken()
	}
	switch {
	case !r.now.Before(f.expires):
		st.revokeLocked(f)
		return g, redeemExpired, errInvalidGrant("the refresh token expired")
	case r.clientID != "" && f.clientID != r.clientID:
		return g, redeemWrongClient, errInvalidGrant("the refresh token was issued to another client")
	}
	g.clientID = f.clientID
	// A family bound to a DPoP key is refused to whoever does not prove
	// they hold the key, and left as it is: whoever stole one of its
	// tokens can neither use it nor revoke the family.
	switch {
	case f.jkt != "" && r.jkt == "":
		return g, redeemUnproven, errInvalidGrant("the refresh token is bound to a DPoP key: send a DPoP proof signed with it")
	case f.jkt != "" && r.jkt != f.jkt:
		return g, redeemUnproven, &oauthError{status: http.StatusBadRequest, code: dpop.CodeInvalidProof,
			description: "the DPoP proof is not signed with the key the refresh token is bound to"}
	}
	if subtle.ConstantTimeCompare(presented[:], f.live[:]) != 1 {
		st.revokeLocked(f)
		return g, redeemReused, errInvalidGrant("the refresh token was already used; every token issued from it is revoked")
	}
	allowed, ok := r.allowed(f.clientID)
	if !ok {
		st.revokeLocked(f)
		return g, redeemClientGone, errInvalidGrant("the refresh token is revoked: its client is disabled or no longer registered")
	}
	scopes, e := grantScopes(r.requested, f.scopes)
	if e != nil {
		// The access token may narrow the grant (RFC 6749 §6), never widen it.
		return g, redeemScope, e
	}
	// Nor does it outgrow what the registry allows the client now.
	g.scopes = intersect(scopes, allowed)
	g.next = f.newSecret()
	f.expires = r.expires
	st.all.MoveToBack(f.inAll)
	st.byClient[f.clientID].MoveToBack(f.inClient)
	st.sweepLocked(r.now)
	return g, redeemed, nil
}

// errUnknownRefreshToken is the refusal of a token the store does not hold.
func errUnknownRefreshToken() *oauthError {
	return errInvalidGrant("the refresh token is unknown, expired or revoked")
}

// len returns how many families are stored: how many refresh tokens are
// live.
func (st *refreshStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.families)
}
