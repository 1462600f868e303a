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

// DefaultMaxEntries is the default bound of the memory replay cache.
const DefaultMaxEntries = 100_000

// memoryReplay is the replay cache of one process, bounded by maxEntries
// proofs in all and maxPerKey proofs of one key.
//
// It never forgets a proof that could still pass while that proof could
// be replayed. A key over maxPerKey gets 429. While the cache has room a
// key may take any part of it (maxPerKey aside); when it is full, room
// for a key below its fair share (maxEntries over the keys recorded) is
// made by the key holding the most records, if that one is above its
// fair share: its record that expires first is dropped and the key is
// blocked (429) until that record would have expired, so that the
// dropped proof cannot be replayed meanwhile. A caller checks the proof's
// key against the token's cnf.jkt before recording, so a key is a bound
// token's holder's: a few tokens can no longer fill the cache for all
// others. The cache full with every key at or below its share answers
// 503 until its oldest entries expire.
//
// An entry costs about 150 bytes (its map entry, its places in the expiry
// heaps); entries leave when their time is up, swept by the calls that
// record new ones (no goroutine).
type memoryReplay struct {
	maxEntries, maxPerKey int
	now                   func() time.Time

	mu      sync.Mutex
	seen    map[[16]byte]int64   // id -> expiry
	shares  map[string]*keyShare // by thumbprint
	blocked map[string]int64     // thumbprint -> until (unix nanoseconds)
	queue   expiryQueue          // every entry; an evicted one stays until due, then is skipped
}

// keyShare holds the live entries of one key, earliest expiry first.
type keyShare struct {
	thumbprint string
	entries    expiryQueue
}

// entry is one recorded proof, in the expiry queues.
type entry struct {
	id      [16]byte
	share   *keyShare
	expires int64 // unix nanoseconds on the cache's clock
}

// expiryQueue is a min-heap of entries by expiry, then id: one order, so
// that the global queue and a key's queue agree on which entry is first.
type expiryQueue []entry

func (q expiryQueue) Len() int { return len(q) }
func (q expiryQueue) Less(i, j int) bool {
	if q[i].expires != q[j].expires {
		return q[i].expires < q[j].expires
	}
	return string(q[i].id[:]) < string(q[j].id[:])
}
func (q expiryQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *expiryQueue) Push(x any)   { *q = append(*q, x.(entry)) }
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
		seen:       map[[16]byte]int64{},
		shares:     map[string]*keyShare{},
		blocked:    map[string]int64{},
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
	if until, found := m.blocked[thumbprint]; found {
		if until > now {
			return &storeFull{cause: errKeyShareFull, retry: time.Duration(until - now)}
		}
		delete(m.blocked, thumbprint)
	}
	if _, seen := m.seen[id]; seen {
		return errReplayed
	}
	share := m.shares[thumbprint]
	held := 0
	if share != nil {
		held = len(share.entries)
	}
	if held >= m.maxPerKey {
		return &storeFull{cause: errKeyShareFull, retry: time.Duration(share.entries[0].expires - now)}
	}
	if len(m.seen) >= m.maxEntries {
		if err := m.makeRoom(thumbprint, held, now); err != nil {
			return err
		}
	}
	if share == nil {
		share = &keyShare{thumbprint: thumbprint}
		m.shares[thumbprint] = share
	}
	e := entry{id: id, share: share, expires: now + int64(max(ttl, time.Millisecond))}
	m.seen[id] = e.expires
	heap.Push(&m.queue, e)
	heap.Push(&share.entries, e)
	return nil
}

// makeRoom, the cache full, drops the first-expiring entry of the key that
// holds the most when that key is above its fair share and holds more
// than the key thumbprint (which holds held), and blocks it until that
// entry's expiry. Otherwise it says why the proof cannot be recorded.
func (m *memoryReplay) makeRoom(thumbprint string, held int, now int64) error {
	keys := len(m.shares)
	if held == 0 {
		keys++
	}
	fair := max(m.maxEntries/keys, 1)
	var greediest *keyShare
	for _, s := range m.shares {
		if greediest == nil || len(s.entries) > len(greediest.entries) {
			greediest = s
		}
	}
	switch {
	case greediest == nil || len(greediest.entries) <= fair:
		return &storeFull{cause: errCacheFull, retry: time.Duration(m.queue[0].expires - now)}
	case greediest.thumbprint == thumbprint || len(greediest.entries) <= held+1:
		// This key is (one of) the greediest: it waits for its own room.
		return &storeFull{cause: errKeyShareFull, retry: time.Duration(m.shares[thumbprint].entries[0].expires - now)}
	}
	first := heap.Pop(&greediest.entries).(entry)
	delete(m.seen, first.id) // its place in m.queue is skipped when due
	if len(greediest.entries) == 0 {
		delete(m.shares, greediest.thumbprint)
	}
	m.blocked[greediest.thumbprint] = max(m.blocked[greediest.thumbprint], first.expires)
	if len(m.blocked) > 2*len(m.shares)+1024 {
		for k, until := range m.blocked {
			if until <= now {
				delete(m.blocked, k)
			}
		}
	}
	return nil
}

// sweep drops the entries whose time is up.
func (m *memoryReplay) sweep(now int64) {
	for len(m.queue) > 0 && m.queue[0].expires <= now {
		e := heap.Pop(&m.queue).(entry)
		if expires, live := m.seen[e.id]; !live || expires != e.expires {
			continue // dropped by makeRoom
		}
		delete(m.seen, e.id)
		heap.Pop(&e.share.entries) // e is its key's first too: both queues share one order
		if len(e.share.entries) == 0 && m.shares[e.share.thumbprint] == e.share {
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

// CountingSetter is a OnceSetter that also bounds the records one caller
// makes (redisstore.Store has it): see redisstore.Store.SetOnceCounted.
// With one, a shared replay store holds at most a bound of proofs of one
// key within a record's lifetime, so that one bound token cannot fill it.
type CountingSetter interface {
	OnceSetter
	// SetOnceCounted sets key for ttl unless it is set, counting the keys
	// set under counter within window of the first; when limit have been,
	// it sets nothing and says how long until the window ends (spent).
	SetOnceCounted(ctx context.Context, key, counter string, limit int64, window, ttl time.Duration) (set bool, spent time.Duration, err error)
}

// sharedReplay records proofs in a OnceSetter, under "dpop:" followed by
// the key's thumbprint, ":" and the SHA-256 of the jti, base64url: a key
// of 93 bytes whatever the jti, of characters that need no quoting. When
// the store is a CountingSetter, the proofs of one key are counted under
// "dpop:" and its thumbprint, over window (the longest a record lives),
// and refused (429) past perKey.
type sharedReplay struct {
	store  OnceSetter
	perKey int64
	window time.Duration
}

func (s sharedReplay) remember(ctx context.Context, thumbprint, jti string, ttl time.Duration) error {
	sum := sha256.Sum256([]byte(jti))
	key := "dpop:" + thumbprint + ":" + b64.EncodeToString(sum[:])
	var set bool
	var err error
	if counting, ok := s.store.(CountingSetter); ok {
		var spent time.Duration
		set, spent, err = counting.SetOnceCounted(ctx, key, "dpop:"+thumbprint, s.perKey, s.window, max(ttl, time.Millisecond))
		if err == nil && spent > 0 {
			return &storeFull{cause: errKeyShareFull, retry: spent}
		}
	} else {
		set, err = s.store.SetOnce(ctx, key, max(ttl, time.Millisecond))
	}
	switch {
	case err != nil:
		return fmt.Errorf("the shared replay store did not answer: %w", err)
	case !set:
		return errReplayed
	}
	return nil
}
