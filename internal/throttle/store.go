package throttle

import (
	"context"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/clockcache"
)

// Budget is one failure counter a check draws on: its key and the most
// failures it allows per window.
type Budget struct {
	Key string
	Max int
}

// Claim is one failure a Store counted: its key and the id of the window it
// was counted in, so that a refund never lands in a later window.
type Claim struct {
	Key    string
	Window uint64
}

// Taken is the answer of Store.Take.
type Taken struct {
	// OK is true if a failure was counted under every budget.
	OK bool
	// Claims are the failures counted, one per budget and in their order,
	// if OK.
	Claims []Claim
	// Retry is, if not OK, how long until the window of the spent budget
	// ends (a whole window if the store is at its memory bound).
	Retry time.Duration
}

// Store holds the failure counters of a Throttle, and the markers of a
// Known. A Store shared by several processes (a SharedStore) makes their
// budgets one. Every method is safe for concurrent use, and each one is
// atomic: Take counts under all its budgets or under none.
type Store interface {
	// Take counts one failure under each budget's key, in the key's
	// current window, starting a window of length window where none is
	// live, if every budget has room for one more failure. If one has not
	// (its key holds Max failures in its window), Take counts nothing and
	// answers not OK.
	Take(ctx context.Context, window time.Duration, budgets []Budget) (Taken, error)
	// Refund takes back each claim's failure, if the claim's window is
	// still its key's current one (a window that ended took its counts with
	// it). Counts never go below zero.
	Refund(ctx context.Context, claims []Claim) error
	// Mark sets a marker under key for ttl.
	Mark(ctx context.Context, key string, ttl time.Duration) error
	// Marked reports whether a marker is set under key.
	Marked(ctx context.Context, key string) (bool, error)
	// Unmark removes the marker under key.
	Unmark(ctx context.Context, key string) error
}

// MaxCounters bounds the failure counters a MemoryStore holds at once (one
// per address, and one per client id tried from an address). A counter
// costs about 200 bytes, so the store holds at most about 20 MB whatever it
// is sent. At the bound the counter made longest ago makes room: refusing
// new counters instead would let one flood of fresh addresses (an IPv6 /48
// holds 65,536 /64s) lock every client out, and the addresses it takes to
// push a counter out are budgets of their own anyway.
const MaxCounters = 100_000

// MemoryStore is a Store in this process's memory, on an injected clock:
// the default, and the fallback of every Throttle while a shared store is
// unavailable. Its methods never return an error.
type MemoryStore struct {
	now         func() time.Time
	maxCounters int

	mu       sync.Mutex
	order    []string          // counter keys in the order they were made, up to maxCounters
	next     int               // once order is full, the slot the next counter takes
	counters *clockcache.Cache // key → counter
	markers  *clockcache.Cache // key → struct{}
	windows  uint64            // windows started so far, to tell them apart
}

// counter is the failures counted under a key since its window began.
type counter struct {
	n  int
	id uint64
}

var _ Store = (*MemoryStore)(nil)

// NewMemoryStore returns an empty MemoryStore on the clock now.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	return &MemoryStore{now: now, maxCounters: MaxCounters, counters: clockcache.New(now), markers: clockcache.New(now)}
}

// Take implements Store. At MaxCounters, a new counter pushes out the one
// made longest ago.
func (s *MemoryStore) Take(_ context.Context, window time.Duration, budgets []Budget) (Taken, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	type current struct {
		c    counter
		ends time.Time
		live bool
	}
	var buf [2]current
	cur := buf[:0]
	// Every budget is checked before any is counted, in order: an address
	// over its budget is refused before a counter for the client id is
	// made, so its requests cost no memory.
	for _, b := range budgets {
		v, ends, live := s.counters.GetWithExpiry(b.Key)
		if live {
			c := v.(counter)
			if c.n >= b.Max {
				return Taken{Retry: ends.Sub(now)}, nil
			}
			cur = append(cur, current{c, ends, true})
			continue
		}
		if b.Max < 1 {
			return Taken{Retry: window}, nil
		}
		cur = append(cur, current{})
	}
	claims := make([]Claim, len(budgets))
	for i, b := range budgets {
		c := cur[i]
		if c.live {
			c.c.n++
		} else {
			s.windows++
			c.c = counter{n: 1, id: s.windows}
			c.ends = now.Add(window)
			s.made(b.Key)
		}
		s.counters.Set(b.Key, c.c, c.ends)
		claims[i] = Claim{Key: b.Key, Window: c.c.id}
	}
	return Taken{OK: true, Claims: claims}, nil
}

// made records a new counter under key, pushing out the oldest at the
// bound.
func (s *MemoryStore) made(key string) {
	if len(s.order) < s.maxCounters {
		s.order = append(s.order, key)
		return
	}
	s.counters.Delete(s.order[s.next])
	s.order[s.next] = key
	s.next = (s.next + 1) % len(s.order)
}

// Refund implements Store.
func (s *MemoryStore) Refund(_ context.Context, claims []Claim) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, cl := range claims {
		v, ends, live := s.counters.GetWithExpiry(cl.Key)
		if !live {
			continue
		}
		if c := v.(counter); c.id == cl.Window && c.n > 0 {
			c.n--
			s.counters.Set(cl.Key, c, ends)
		}
	}
	return nil
}

// Mark implements Store.
func (s *MemoryStore) Mark(_ context.Context, key string, ttl time.Duration) error {
	s.markers.Set(key, struct{}{}, s.now().Add(ttl))
	return nil
}

// Marked implements Store.
func (s *MemoryStore) Marked(_ context.Context, key string) (bool, error) {
	_, ok := s.markers.Get(key)
	return ok, nil
}

// Unmark implements Store.
func (s *MemoryStore) Unmark(_ context.Context, key string) error {
	s.markers.Delete(key)
	return nil
}
