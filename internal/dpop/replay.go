package dpop

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"time"
)

// replayStore remembers the proofs a Checker accepted, by the thumbprint
// of their key and their jti, for as long as each could still pass the
// iat check.
type replayStore interface {
	// remember records (thumbprint, jti) for ttl. It returns nil the first
	// time; an error wrapping errReplayed while the pair is recorded;
	// a *storeFull wrapping errKeyShareFull or errCacheFull when the pair
	// cannot be recorded without forgetting a live one; any other error
	// when the store could not answer.
	remember(ctx context.Context, thumbprint, jti string, ttl time.Duration) error
}

// storeFull is a replay store's refusal to record one more proof, with
// how long until it may have room.
type storeFull struct {
	cause error
	retry time.Duration
}

func (e *storeFull) Error() string { return e.cause.Error() }
func (e *storeFull) Unwrap() error { return e.cause }

// Defaults of the memory replay cache's bounds.
const (
	DefaultMaxEntries = 100_000
	// defaultKeyShareDivisor makes a key's default share a tenth of the
	// cache.
	defaultKeyShareDivisor = 10
)

// memoryReplay is the replay cache of one process, bounded by maxEntries
// proofs in all and maxPerKey proofs of one key.
//
// At a bound it refuses the new proof rather than forget a recorded one:
// forgetting a proof whose iat still passes would let it be replayed,
// whereas a refusal costs a retry. A key over its share gets 429 and
// spends only its own share, so that one client (a caller checks the
// proof's key against the token's cnf.jkt before recording, so a share
// is a bound token's holder's) cannot deny the others; the cache full,
// which takes more than maxEntries/maxPerKey keys each with a token bound
// to it, answers 503 until its oldest entries expire.
//
// An entry costs about 110 bytes (its map entry, its place in the expiry
// heap); entries leave when their time is up, swept by the calls that
// record new ones (no goroutine).
type memoryReplay struct {
	maxEntries, maxPerKey int
	now                   func() time.Time

	mu     sync.Mutex
	seen   map[[16]byte]struct{}
	shares map[string]*keyShare // by thumbprint
	queue  expiryQueue
}

// keyShare counts the live entries of one key.
type keyShare struct {
	thumbprint string
	n          int
}

// entry is one recorded proof, in the expiry queue.
type entry struct {
	id      [16]byte
	share   *keyShare
	expires int64 // unix nanoseconds on the cache's clock
}

// expiryQueue is a min-heap of entries by expiry.
type expiryQueue []entry

func (q expiryQueue) Len() int           { return len(q) }
func (q expiryQueue) Less(i, j int) bool { return q[i].expires < q[j].expires }
func (q expiryQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)        { *q = append(*q, x.(entry)) }
func (q *expiryQueue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

func newMemoryReplay(maxEntries, maxPerKey int, now func() time.Time) *memoryReplay {
	return &memoryReplay{
		maxEntries: maxEntries,
		maxPerKey:  maxPerKey,
		now:        now,
		seen:       map[[16]byte]struct{}{},
		shares:     map[string]*keyShare{},
	}
}

// replayID identifies (thumbprint, jti) in 128 bits: a fixed size whatever
// the jti's length, and no collision short of SHA-256's.
func replayID(thumbprint, jti string) [16]byte {
	var buf [128 + MaxJTIBytes]byte // thumbprints are 43 bytes
	sum := sha256.Sum256(append(append(append(buf[:0], thumbprint...), 0), jti...))
	return [16]byte(sum[:16])
}

func (m *memoryReplay) remember(_ context.Context, thumbprint, jti string, ttl time.Duration) error {
	id := replayID(thumbprint, jti)
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now().UnixNano()
	m.sweep(now)
	if _, seen := m.seen[id]; seen {
		return errReplayed
	}
	share := m.shares[thumbprint]
	switch {
	case share != nil && share.n >= m.maxPerKey:
		return &storeFull{cause: errKeyShareFull, retry: ttl}
	case len(m.seen) >= m.maxEntries:
		return &storeFull{cause: errCacheFull, retry: time.Duration(m.queue[0].expires - now)}
	}
	if share == nil {
		share = &keyShare{thumbprint: thumbprint}
		m.shares[thumbprint] = share
	}
	share.n++
	m.seen[id] = struct{}{}
	heap.Push(&m.queue, entry{id: id, share: share, expires: now + int64(max(ttl, time.Millisecond))})
	return nil
}

// sweep drops the entries whose time is up.
func (m *memoryReplay) sweep(now int64) {
	for len(m.queue) > 0 && m.queue[0].expires <= now {
		e := heap.Pop(&m.queue).(entry)
		delete(m.seen, e.id)
		if e.share.n--; e.share.n == 0 {
			delete(m.shares, e.share.thumbprint)
		}
	}
}

// len is the number of live entries, for tests.
func (m *memoryReplay) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(m.now().UnixNano())
	return len(m.seen)
}

// OnceSetter is the one operation a replay store shared by replicas needs:
// Redis's SET key value NX PX ttl. The Redis store of package
// internal/throttle/redisstore has it.
type OnceSetter interface {
	// SetOnce sets key for ttl unless it is set, and reports whether it
	// did. An error says the store could not answer.
	SetOnce(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// sharedReplay records proofs in a OnceSetter, under "dpop:" followed by
// the key's thumbprint, ":" and the SHA-256 of the jti, base64url: a key
// of 93 bytes whatever the jti, of characters that need no quoting.
type sharedReplay struct{ store OnceSetter }

func (s sharedReplay) remember(ctx context.Context, thumbprint, jti string, ttl time.Duration) error {
	sum := sha256.Sum256([]byte(jti))
	set, err := s.store.SetOnce(ctx, "dpop:"+thumbprint+":"+b64.EncodeToString(sum[:]), max(ttl, time.Millisecond))
	switch {
	case err != nil:
		return fmt.Errorf("the shared replay store did not answer: %w", err)
	case !set:
		return errReplayed
	}
	return nil
}
