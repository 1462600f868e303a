package clients

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultReloadInterval is how often Watch polls the file when
// Options.ReloadInterval is 0.
const DefaultReloadInterval = 5 * time.Second

// DefaultHashWait is how long Verify waits for a hash slot when
// Options.HashWait is 0.
const DefaultHashWait = 2 * time.Second

// Client is a registered client as Verify and Lookup return it: a copy, which
// the caller may keep and modify.
type Client struct {
	// ID is the client_id.
	ID string
	// Scopes are the client's scopes, in file order without duplicates; nil
	// if it has none.
	Scopes []string
	// Disabled is set for clients the file disables. Verify never returns a
	// disabled client; Lookup does.
	Disabled bool
}

// Options configure Open.
type Options struct {
	// ReloadInterval is how often Watch polls the file for changes; 0 means
	// DefaultReloadInterval (5s), a negative interval turns polling off
	// (Watch then reloads on its signals only).
	ReloadInterval time.Duration
	// Logger receives loads and reloads; nil discards them. Client ids,
	// counts and errors are logged, never secrets or hashes.
	Logger *slog.Logger
	// OnReload, if set, is called after every reload attempt: each Reload
	// call, each signal Watch was given, and each poll of Watch that found the file changed,
	// newly unreadable or readable again, with what Reload would return. It runs on the
	// reloading goroutine, so it should return quickly.
	OnReload func(error)
	// MaxConcurrentHashes bounds how many secret hashes Verify computes at
	// once (an argon2id check holds its whole memory cost); further calls wait
	// for a slot (see HashWait). 0 means runtime.GOMAXPROCS(0), since hashing
	// is CPU-bound and more at once only costs memory, but for a file with
	// argon2id entries no more than 1 GiB of them: 1 GiB divided by the
	// largest argon2id memory in the file, at least 1 (4 at the maximum
	// MaxArgon2Memory, 16 at HashSecret's default 64 MiB). The default is
	// worked out again at every reload.
	MaxConcurrentHashes int
	// HashWait bounds how long Verify waits for a hash slot before it
	// returns ErrBusy; 0 means DefaultHashWait (2s), a negative wait has no
	// bound but the caller's context.
	HashWait time.Duration
}

// Registry is a registry of clients and their hashed secrets, loaded from a
// file (Open) or from bytes (Parse). Its methods are safe for concurrent use:
// a reload builds a new immutable snapshot and swaps it in atomically, so a
// Verify sees either the old registry or the new one, never a mix.
type Registry struct {
	path     string // "" for Parse
	log      *slog.Logger
	opts     Options
	hashWait time.Duration // resolved Options.HashWait; not positive: no bound
	slots    *hashSlots
	clock    clock
	snap     atomic.Pointer[snapshot]
	mu       sync.Mutex // serialises reloads and guards the fields below
	// lastSum is the SHA-256 of the file content last read; Watch reloads
	// when the content differs.
	lastSum [sha256.Size]byte
	// lastPollErr is the last read error Watch reported, so that a missing
	// file is reported once, not at every poll.
	lastPollErr string

	// Instrumentation, read by tests through export_test.go.
	hashChecks  atomic.Uint64 // checks against a real entry
	dummyChecks atomic.Uint64 // checks against the dummy hash
	watching    func()        // called once Watch has registered for its signals

	warnMu sync.Mutex
	warned string // the cheap entries last warned of (see warnMixed)
}

// snapshot is one state of the registry: immutable but for the failure
// floor, which only grows.
type snapshot struct {
	gen     uint64
	clients map[string]*entry
	// dummy has the algorithm and parameters of the most expensive entry;
	// Verify checks the secret of an unknown id against it.
	dummy *secretHash
	// maxArgonMemory is the largest argon2id memory of an entry in KiB, 0
	// if there is none; it sets the default number of hash slots.
	maxArgonMemory uint32
	// floor is the least time a failed Verify takes (see floor.go).
	floor failureFloor
}

// entry is one client and its parsed hash.
type entry struct {
	client   Client
	hashText string
	hash     *secretHash
}

// Open loads and checks the registry file at path. The file must list at
// least one client; an error names the file, the client and the problem. Use
// Watch (or Reload) to pick up later changes. Open checks one secret against
// the dummy hash to measure the failure floor (see Verify).
func Open(path string, opts Options) (*Registry, error) {
	r := newRegistry(path, opts)
	data, err := readFile(path)
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	s, err := build(data)
	if err != nil {
		return nil, fmt.Errorf("clients: %s: %w", path, err)
	}
	s.gen = 1
	r.install(s)
	r.lastSum = sha256.Sum256(data)
	_, slots := r.slots.counts()
	r.log.Info("clients: loaded", "path", path, "clients", len(s.clients), "generation", s.gen,
		"failure_floor", s.floor.get(), "hash_slots", slots)
	r.warnMixed(s)
	return r, nil
}

// Parse checks a registry file's content as Open does and returns a registry
// with default Options and no file: Reload fails and Watch only waits. Like
// Open, it checks one secret against the dummy hash to measure the failure
// floor.
func Parse(data []byte) (*Registry, error) {
	s, err := build(data)
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	s.gen = 1
	r := newRegistry("", Options{})
	r.install(s)
	return r, nil
}

func newRegistry(path string, opts Options) *Registry {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	wait := opts.HashWait
	if wait == 0 {
		wait = DefaultHashWait
	}
	return &Registry{path: path, log: log, opts: opts, hashWait: wait,
		slots: newHashSlots(opts.MaxConcurrentHashes), clock: systemClock}
}

// build parses a file into a snapshot (without generation or floor).
func build(data []byte) (*snapshot, error) {
	entries, err := parseFile(data)
	if err != nil {
		return nil, err
	}
	s := &snapshot{clients: entries}
	var most *secretHash
	for _, e := range entries {
		if most == nil || costlier(e.hash, most) {
			most = e.hash
		}
		if e.hash.alg == AlgArgon2id {
			s.maxArgonMemory = max(s.maxArgonMemory, e.hash.argon.Memory)
		}
	}
	s.dummy = most.dummy()
	return s, nil
}

// install measures s's failure floor, sets the default number of hash slots
// for it, and makes it the registry's snapshot.
func (r *Registry) install(s *snapshot) {
	r.measure(s)
	if r.opts.MaxConcurrentHashes <= 0 {
		r.slots.setLimit(defaultHashSlots(s.maxArgonMemory))
	}
	r.snap.Store(s)
}

// costlier orders hashes by estimated cost, then by fewer Argon2 lanes
// (fewer run slower), then by parameters, so that the choice of the dummy
// does not depend on map order.
func costlier(a, b *secretHash) bool {
	if ca, cb := a.estimatedCost(), b.estimatedCost(); ca != cb {
		return ca > cb
	}
	if a.argon.Threads != b.argon.Threads {
		return a.argon.Threads < b.argon.Threads
	}
	return a.params() > b.params()
}

// warnMixed warns of entries whose hashes cost less than half the most
// expensive one, naming them: response times do not tell them apart (every
// failure waits out the floor), but they are cheaper to crack from a leaked
// file. hash-secret's two defaults (bcrypt cost 12, argon2id m=64MiB t=3)
// are within that margin of each other. The warning is logged once per
// distinct set of such entries, not at every reload.
func (r *Registry) warnMixed(s *snapshot) {
	var cheap []string
	for id, e := range s.clients {
		if e.hash.estimatedCost() < s.dummy.estimatedCost()/2 {
			cheap = append(cheap, id)
		}
	}
	slices.Sort(cheap)
	key := strings.Join(cheap, "\x00")
	r.warnMu.Lock()
	defer r.warnMu.Unlock()
	if key == r.warned {
		return
	}
	r.warned = key
	if len(cheap) == 0 {
		return
	}
	const most = 20 // the log line stays short; the count says how many
	r.log.Warn("clients: some entries are hashed at less than half the cost of the most expensive one; they are cheaper to crack if the file leaks, and every failed verification waits as long as the most expensive check: rehash them at the highest cost",
		"path", r.path, "entries", cheap[:min(len(cheap), most)], "count", len(cheap),
		"most_expensive", s.dummy.params(), "failure_floor", s.floor.get())
}

// Lookup returns the client with the id, disabled or not, without checking
// any secret: for administration and health checks, never to authenticate.
func (r *Registry) Lookup(clientID string) (Client, bool) {
	e := r.snap.Load().clients[clientID]
	if e == nil {
		return Client{}, false
	}
	return e.client.clone(), true
}

// Len returns the number of clients, disabled ones included.
func (r *Registry) Len() int { return len(r.snap.Load().clients) }

// Generation identifies the registry's content: it starts at 1 and increases
// on every reload that changed anything (a client added, removed, disabled or
// enabled, a secret hash or the scopes changed). Callers that cache
// verifications drop them when it changes. Edits that change nothing (comments,
// order) keep it.
func (r *Registry) Generation() uint64 { return r.snap.Load().gen }
