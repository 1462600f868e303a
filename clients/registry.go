package clients

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultReloadInterval is how often Watch polls the file when
// Options.ReloadInterval is 0.
const DefaultReloadInterval = 5 * time.Second

// Errors of Verify. Every failed verification wraps ErrInvalidClient and
// exactly one of ErrUnknownClient, ErrWrongSecret and ErrDisabled, in an
// error of the same type whatever the cause. Answer callers by
// ErrInvalidClient alone (as OAuth's invalid_client); the causes are for
// logs, and telling them apart to a caller would let it enumerate client ids.
var (
	// ErrInvalidClient is wrapped by every error of a failed Verify.
	ErrInvalidClient = errors.New("clients: invalid client")
	// ErrUnknownClient is the cause when no client has the id (or the id is
	// empty or longer than MaxClientIDBytes).
	ErrUnknownClient = errors.New("unknown client_id")
	// ErrWrongSecret is the cause when the secret does not match (or is empty,
	// longer than MaxSecretBytes, or longer than MaxBcryptSecretBytes for a
	// bcrypt entry). It is also the cause for a disabled client given a wrong
	// secret.
	ErrWrongSecret = errors.New("wrong client_secret")
	// ErrDisabled is the cause when the secret matches but the client is
	// disabled.
	ErrDisabled = errors.New("client disabled")
)

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
	// (Watch then reloads on SIGHUP only).
	ReloadInterval time.Duration
	// Logger receives loads and reloads; nil discards them. Client ids,
	// counts and errors are logged, never secrets or hashes.
	Logger *slog.Logger
	// OnReload, if set, is called after every reload attempt: each Reload
	// call, each SIGHUP, and each poll of Watch that found the file changed,
	// newly unreadable or readable again, with what Reload would return. It runs on the
	// reloading goroutine, so it should return quickly.
	OnReload func(error)
	// MaxConcurrentHashes bounds how many secret hashes Verify computes at
	// once (an argon2id check holds its whole memory cost); further calls wait
	// for a slot or for their context. 0 means runtime.GOMAXPROCS(0), since
	// hashing is CPU-bound and more at once only costs memory.
	MaxConcurrentHashes int
}

// Registry is a registry of clients and their hashed secrets, loaded from a
// file (Open) or from bytes (Parse). Its methods are safe for concurrent use:
// a reload builds a new immutable snapshot and swaps it in atomically, so a
// Verify sees either the old registry or the new one, never a mix.
type Registry struct {
	path string // "" for Parse
	log  *slog.Logger
	opts Options
	sem  chan struct{}
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serialises reloads and guards the fields below
	// lastSum is the SHA-256 of the file content last read; Watch reloads
	// when the content differs.
	lastSum [sha256.Size]byte
	// lastPollErr is the last read error Watch reported, so that a missing
	// file is reported once, not at every poll.
	lastPollErr string

	// Instrumentation, read by tests through export_test.go.
	hashChecks  atomic.Uint64 // checks against a real entry
	dummyChecks atomic.Uint64 // checks against the dummy hash
	watching    func()        // called once Watch has registered for SIGHUP
}

// snapshot is one immutable state of the registry.
type snapshot struct {
	gen     uint64
	clients map[string]*entry
	// dummy has the algorithm and parameters of the most expensive entry;
	// Verify checks the secret of an unknown id against it.
	dummy *secretHash
}

// entry is one client and its parsed hash.
type entry struct {
	client   Client
	hashText string
	hash     *secretHash
}

// Open loads and checks the registry file at path. The file must list at
// least one client; an error names the file, the client and the problem. Use
// Watch (or Reload) to pick up later changes.
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
	r.snap.Store(s)
	r.lastSum = sha256.Sum256(data)
	r.log.Info("clients: loaded", "path", path, "clients", len(s.clients), "generation", s.gen)
	r.warnMixed(s)
	return r, nil
}

// Parse checks a registry file's content as Open does and returns a registry
// with default Options and no file: Reload fails and Watch only waits.
func Parse(data []byte) (*Registry, error) {
	s, err := build(data)
	if err != nil {
		return nil, fmt.Errorf("clients: %w", err)
	}
	s.gen = 1
	r := newRegistry("", Options{})
	r.snap.Store(s)
	return r, nil
}

func newRegistry(path string, opts Options) *Registry {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n := opts.MaxConcurrentHashes
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Registry{path: path, log: log, opts: opts, sem: make(chan struct{}, n)}
}

// build parses a file into a snapshot (without generation).
func build(data []byte) (*snapshot, error) {
	entries, err := parseFile(data)
	if err != nil {
		return nil, err
	}
	var most *secretHash
	for _, e := range entries {
		if most == nil || costlier(e.hash, most) {
			most = e.hash
		}
	}
	return &snapshot{clients: entries, dummy: most.dummy()}, nil
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

func (r *Registry) warnMixed(s *snapshot) {
	for _, e := range s.clients {
		if e.hash.params() != s.dummy.params() {
			r.log.Warn("clients: entries use different hash parameters; unknown client ids are checked at the cost of the most expensive, so response times can tell cheaper entries from unknown ids",
				"path", r.path, "dummy", s.dummy.params())
			return
		}
	}
}

// readFile reads a regular file of at most MaxFileBytes, following symlinks.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: the file is larger than %d bytes", path, MaxFileBytes)
	}
	return data, nil
}

// Verify checks clientID and secret and returns the client. Every failure
// wraps ErrInvalidClient (see there for the causes) and takes, apart from
// the cheap refusals below, one secret hash: an unknown id is checked
// against a dummy hash with the algorithm and parameters of the registry's
// most expensive entry, and a disabled client's secret is checked before it
// is refused, so response times do not reveal which ids exist.
//
// Refused without hashing, whatever the registry holds: an empty clientID or
// one longer than MaxClientIDBytes, an empty secret or one longer than
// MaxSecretBytes. A secret longer than MaxBcryptSecretBytes never matches a
// bcrypt entry (it is hashed, then refused): bcrypt reads only 72 bytes, and
// a longer secret whose first 72 bytes match must not pass. Ids and secrets
// are compared byte for byte: no case folding, trimming or Unicode
// normalisation.
//
// Verify waits for one of Options.MaxConcurrentHashes slots; if ctx ends
// first (or has ended), it returns ctx's error, which does not wrap
// ErrInvalidClient.
func (r *Registry) Verify(ctx context.Context, clientID, secret string) (Client, error) {
	if err := ctx.Err(); err != nil {
		return Client{}, fmt.Errorf("clients: verify: %w", err)
	}
	switch {
	case clientID == "":
		return Client{}, refuse(ErrUnknownClient, "the client_id is empty")
	case len(clientID) > MaxClientIDBytes:
		return Client{}, refuse(ErrUnknownClient, fmt.Sprintf("the client_id is longer than %d bytes", MaxClientIDBytes))
	case secret == "":
		return Client{}, refuse(ErrWrongSecret, "the client_secret is empty")
	case len(secret) > MaxSecretBytes:
		return Client{}, refuse(ErrWrongSecret, fmt.Sprintf("the client_secret is longer than %d bytes", MaxSecretBytes))
	}
	select {
	case r.sem <- struct{}{}:
	case <-ctx.Done():
		return Client{}, fmt.Errorf("clients: verify: %w", ctx.Err())
	}
	defer func() { <-r.sem }()

	s := r.snap.Load()
	e := s.clients[clientID]
	if e == nil {
		r.dummyChecks.Add(1)
		s.dummy.check(secret)
		return Client{}, refuse(ErrUnknownClient, "")
	}
	r.hashChecks.Add(1)
	ok := e.hash.check(secret)
	switch {
	case e.hash.alg == AlgBcrypt && len(secret) > MaxBcryptSecretBytes:
		return Client{}, refuse(ErrWrongSecret, fmt.Sprintf("the client_secret is longer than the %d bytes bcrypt reads", MaxBcryptSecretBytes))
	case !ok:
		return Client{}, refuse(ErrWrongSecret, "")
	case e.client.Disabled:
		return Client{}, refuse(ErrDisabled, "")
	}
	return e.client.clone(), nil
}

// refuse builds Verify's error: always the same type, wrapping
// ErrInvalidClient and cause. detail must not hold the id or the secret.
func refuse(cause error, detail string) error {
	if detail != "" {
		return fmt.Errorf("%w: %w (%s)", ErrInvalidClient, cause, detail)
	}
	return fmt.Errorf("%w: %w", ErrInvalidClient, cause)
}

func (c Client) clone() Client {
	c.Scopes = slices.Clone(c.Scopes)
	return c
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

// Reload reads and checks the file again now and swaps the new registry in.
// If the file cannot be read or is broken, the registry keeps what it had and
// Reload returns (and logs) why. A registry from Parse has no file to reload.
func (r *Registry) Reload() error {
	if r.path == "" {
		return errors.New("clients: the registry was parsed from bytes; there is no file to reload")
	}
	r.mu.Lock()
	err := r.reloadLocked(false)
	r.mu.Unlock()
	r.reported(err)
	return err
}

// poll reloads if the file's content changed since it was last read, or
// reports a read error not reported yet.
func (r *Registry) poll() {
	r.mu.Lock()
	err := r.reloadLocked(true)
	r.mu.Unlock()
	if !errors.Is(err, errNoChange) {
		r.reported(err)
	}
}

// errNoChange tells poll there was nothing to report.
var errNoChange = errors.New("no change")

// reloadLocked reads the file and, unless onlyIfChanged and its content is
// what was last read, rebuilds the registry. It holds r.mu.
func (r *Registry) reloadLocked(onlyIfChanged bool) error {
	data, err := readFile(r.path)
	if err != nil {
		err = fmt.Errorf("clients: %w", err)
		if onlyIfChanged {
			if err.Error() == r.lastPollErr {
				return errNoChange
			}
			r.lastPollErr = err.Error()
		}
		return r.failed(err)
	}
	recovered := r.lastPollErr != "" // a poll reported the file unreadable
	r.lastPollErr = ""
	sum := sha256.Sum256(data)
	if onlyIfChanged && sum == r.lastSum && !recovered {
		return errNoChange
	}
	r.lastSum = sum
	next, err := build(data)
	if err != nil {
		return r.failed(fmt.Errorf("clients: %s: %w", r.path, err))
	}
	cur := r.snap.Load()
	added, removed, changed := diff(cur, next)
	if added+removed+changed == 0 {
		r.log.Debug("clients: reloaded; nothing changed", "path", r.path, "generation", cur.gen)
		return nil
	}
	next.gen = cur.gen + 1
	r.snap.Store(next)
	r.log.Info("clients: reloaded", "path", r.path, "clients", len(next.clients), "added", added,
		"removed", removed, "changed", changed, "generation", next.gen)
	r.warnMixed(next)
	return nil
}

func (r *Registry) failed(err error) error {
	cur := r.snap.Load()
	r.log.Error("clients: reload failed; keeping the loaded clients", "path", r.path, "error", err,
		"clients", len(cur.clients), "generation", cur.gen)
	return err
}

func (r *Registry) reported(err error) {
	if r.opts.OnReload != nil {
		r.opts.OnReload(err)
	}
}

// diff counts the clients added, removed and changed (secret hash, scopes
// as a set, disabled) from a to b.
func diff(a, b *snapshot) (added, removed, changed int) {
	for id, eb := range b.clients {
		ea := a.clients[id]
		switch {
		case ea == nil:
			added++
		case ea.hashText != eb.hashText || ea.client.Disabled != eb.client.Disabled || !sameSet(ea.client.Scopes, eb.client.Scopes):
			changed++
		}
	}
	for id := range a.clients {
		if b.clients[id] == nil {
			removed++
		}
	}
	return added, removed, changed
}

// sameSet compares two lists without duplicates as sets.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, s := range a {
		if !slices.Contains(b, s) {
			return false
		}
	}
	return true
}

// Watch keeps the registry in step with its file until ctx is done: every
// ReloadInterval it reads the file and reloads if the content (by SHA-256)
// changed, which catches editors that replace the file and Kubernetes
// ConfigMap symlink swaps alike, and it reloads at once on SIGHUP. A broken
// or unreadable file is logged (once per distinct problem) and the registry
// keeps what it had. Watch registers for SIGHUP with signal.Notify only while
// it runs. For a registry from Parse it only waits for ctx.
func (r *Registry) Watch(ctx context.Context) {
	if r.path == "" {
		<-ctx.Done()
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var tick <-chan time.Time
	if interval := r.opts.ReloadInterval; interval >= 0 {
		if interval == 0 {
			interval = DefaultReloadInterval
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	if r.watching != nil {
		r.watching()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("clients: SIGHUP; reloading", "path", r.path)
			_ = r.Reload() // logged and reported
		case <-tick:
			r.poll()
		}
	}
}
