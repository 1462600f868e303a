package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/MicahParks/keyfunc/v3"
)

// Remote is the key set of one issuer, fetched from a JWK Set URL and kept
// fresh by one background goroutine that owns every fetch, so at most one
// runs at a time. A Remote whose fetches fail keeps its last good keys; one
// that never loaded any refuses every token with ErrNoKeys.
//
// A fetch fails unless the response is a 200 whose body is a JSON object with
// a "keys" array. Each member of the array is read on its own: keys that
// cannot be read (unsupported type or curve, missing or malformed parameters,
// unregistered "use" or "key_ops" values, a bad "x5c") and RSA keys above
// 8192 bits are skipped, logged and counted in Status.Skipped, as RFC 7517 §5
// has keys that are not understood ignored; encryption and symmetric keys are
// dropped. The remaining keys replace the set.
//
// A set left with no usable signature key also fails while the Remote holds
// usable keys: they are kept and Status.LastError says so. An issuer may
// revoke all its keys by publishing an empty set, but an empty or unreadable
// set served by mistake is far more likely, and wiping the keys would refuse
// every token. To drop a compromised key, the issuer publishes its successor
// (the set then replaces the old keys), or the Remote is restarted. A first
// load that yields no usable key succeeds with no keys and logs a warning.
//
// Create it with NewRemote or NewDiscovered; stop it with Close or by
// cancelling the context given to the constructor.
type Remote struct {
	source string
	opts   Options
	client *http.Client
	owned  *http.Transport // nil when the caller supplied the transport
	store  *store
	kf     keyfunc.Keyfunc
	kids   *kidGate // when unknown key ids start a refresh
	url    resolver // yields the JWK Set URL

	ctx        context.Context // lifetime of the set
	cancel     context.CancelFunc
	done       chan struct{}   // closed when the goroutine has stopped
	refreshReq chan chan error // forced refreshes from Refresh

	mu          sync.Mutex // guards the fields below
	lastAttempt time.Time
	lastErr     string
	skipped     int // keys skipped by the last successful load
}

// NewRemote returns the key set published at jwksURL. It fetches the set
// once, bounded by opts.Timeout, before it returns; if that fetch fails the
// Remote is returned anyway, holding no keys, and a background goroutine
// retries with backoff (1s doubling, capped at opts.RefreshInterval). After a
// success the set is refetched every opts.RefreshInterval.
//
// The error is non-nil only for a bad URL or bad options, never because the
// server is down. The background goroutine stops when ctx is done or Close is
// called.
func NewRemote(ctx context.Context, jwksURL string, opts Options) (*Remote, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := checkURL(jwksURL, o.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	return start(ctx, jwksURL, o, fixedURL(u.String()))
}

// NewDiscovered returns the key set of issuer, whose JWK Set URL is the
// "jwks_uri" of its OpenID Connect Discovery document
// ({issuer}/.well-known/openid-configuration) or, if that fails, of its
// RFC 8414 authorization server metadata
// (/.well-known/oauth-authorization-server inserted before the issuer's
// path). The document's "issuer" must equal issuer exactly.
//
// Discovery happens in the refresh path, so a failing discovery does not fail
// construction; once it succeeded its jwks_uri is kept for the Remote's
// lifetime. Otherwise NewDiscovered behaves like NewRemote.
func NewDiscovered(ctx context.Context, issuer string, opts Options) (*Remote, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := checkURL(issuer, o.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("jwks: issuer %q must not have a query or fragment", u.Redacted())
	}
	return start(ctx, issuer, o, &discoverer{issuer: issuer, urls: metadataURLs(u), opts: o})
}

// start builds the Remote, runs the first fetch and launches the goroutine.
func start(ctx context.Context, source string, o Options, res resolver) (*Remote, error) {
	if ctx == nil {
		return nil, errors.New("jwks: nil context")
	}
	client, owned := newClient(o.Client, o)
	st := newStore(o.Logger)
	lctx, cancel := context.WithCancel(ctx)
	kf, err := keyfunc.New(keyfunc.Options{Ctx: lctx, Storage: st})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks: %w", err)
	}
	r := &Remote{
		source:     source,
		opts:       o,
		client:     client,
		owned:      owned,
		store:      st,
		kf:         kf,
		kids:       newKIDGate(o.UnknownKIDInterval, o.Now),
		url:        res,
		ctx:        lctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		refreshReq: make(chan chan error),
	}
	firstErr := r.attempt()
	go r.run(firstErr)
	return r, nil
}

// Status reports the set's state. It is safe for concurrent use.
func (r *Remote) Status() Status {
	r.mu.Lock()
	s := Status{Source: r.source, LastAttempt: r.lastAttempt, LastError: r.lastErr, Skipped: r.skipped}
	r.mu.Unlock()
	s.Keys = r.store.keys().len()
	s.LastRefresh = r.store.lastLoad()
	return s
}

// Close stops the background goroutine and waits for it to end, cancelling a
// fetch in flight. The keys held stay usable. Close is idempotent.
func (r *Remote) Close() {
	r.cancel()
	<-r.done
}
