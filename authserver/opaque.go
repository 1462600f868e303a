package authserver

import (
	"container/heap"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"
)

// OpaqueTokenPrefix starts every opaque access token the server issues
// (Keyward access token), so that a resource server can tell them from
// other opaque tokens and a secret scanner can find them. The rest is 32
// random bytes in base64url without padding: 48 characters in all, none of
// them a dot, so an opaque token never looks like a JWS.
const OpaqueTokenPrefix = "kwat_"

const opaqueSecretBytes = 32

// opaqueTokenLen is the length of an opaque token's text.
var opaqueTokenLen = len(OpaqueTokenPrefix) + base64.RawURLEncoding.EncodedLen(opaqueSecretBytes)

// opaqueGrant is what one live opaque token stands for. The issuer and
// audience are the server's, the same for every token, and the subject is
// the client (RFC 9068 §2.2 for a client credentials grant), so they are not
// stored.
type opaqueGrant struct {
	clientID string
	scope    string // space-delimited, "" for none
	iat, exp int64  // Unix seconds; nbf is iat
	cnf      confirmation
}

// opaqueEntry is a stored opaque token: its grant under the SHA-256 of the
// token's text, and its place in the expiry heap.
type opaqueEntry struct {
	hash [sha256.Size]byte
	opaqueGrant
	index int
}

// opaqueStore holds the live opaque access tokens in memory, by the SHA-256
// of their text only, so that a copy of the store reveals no usable token.
// It holds at most max: issuing one past the bound first drops the
// expired tokens, then, if none had expired, the token closest to its
// expiry. Expired tokens are also dropped as they are looked up.
type opaqueStore struct {
	max int

	mu     sync.Mutex
	tokens map[[sha256.Size]byte]*opaqueEntry
	byExp  expiryHeap
}

func newOpaqueStore(max int) *opaqueStore {
	return &opaqueStore{max: max, tokens: map[[sha256.Size]byte]*opaqueEntry{}}
}

// issue stores a new opaque token for g and returns its text. now is the
// server's clock, for dropping expired tokens.
func (st *opaqueStore) issue(g opaqueGrant, now time.Time) string {
	b := make([]byte, opaqueSecretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	raw := OpaqueTokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	e := &opaqueEntry{hash: sha256.Sum256([]byte(raw)), opaqueGrant: g}

	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.tokens) >= st.max {
		st.dropExpiredLocked(now.Unix())
	}
	for len(st.tokens) >= st.max {
		st.removeLocked(st.byExp[0]) // the one closest to its expiry
	}
	st.tokens[e.hash] = e
	heap.Push(&st.byExp, e)
	return raw
}

// lookup returns the grant of the live token raw; false if raw is not a
// token of this store's shape, unknown, evicted or expired at now (a token
// is live while now is before its exp).
func (st *opaqueStore) lookup(raw string, now time.Time) (opaqueGrant, bool) {
	if !isOpaqueToken(raw) {
		return opaqueGrant{}, false
	}
	h := sha256.Sum256([]byte(raw))
	st.mu.Lock()
	defer st.mu.Unlock()
	e, ok := st.tokens[h]
	if !ok {
		return opaqueGrant{}, false
	}
	if now.Unix() >= e.exp {
		st.removeLocked(e)
		return opaqueGrant{}, false
	}
	return e.opaqueGrant, true
}

// isOpaqueToken reports whether raw is shaped as the server's opaque tokens
// are.
func isOpaqueToken(raw string) bool {
	if len(raw) != opaqueTokenLen || !strings.HasPrefix(raw, OpaqueTokenPrefix) {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(raw[len(OpaqueTokenPrefix):])
	return err == nil && len(b) == opaqueSecretBytes
}

// dropExpiredLocked drops every token whose exp is at or before now (Unix
// seconds).
func (st *opaqueStore) dropExpiredLocked(now int64) {
	for len(st.byExp) > 0 && st.byExp[0].exp <= now {
		st.removeLocked(st.byExp[0])
	}
}

func (st *opaqueStore) removeLocked(e *opaqueEntry) {
	heap.Remove(&st.byExp, e.index)
	delete(st.tokens, e.hash)
}

// len returns how many opaque tokens are stored.
func (st *opaqueStore) len() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.tokens)
}

// expiryHeap orders stored tokens by exp, the soonest first
// (container/heap).
type expiryHeap []*opaqueEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].exp < h[j].exp }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}

func (h *expiryHeap) Push(x any) {
	e := x.(*opaqueEntry)
	e.index = len(*h)
	*h = append(*h, e)
}

func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}
