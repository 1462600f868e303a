package jwks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults applied to zero fields of [Options].
const (
	// DefaultRefreshInterval is how often a Remote refetches its JWK Set.
	DefaultRefreshInterval = time.Hour
	// DefaultUnknownKIDInterval is the time in which tokens with unknown key
	// ids or an empty set may start one refresh, after a burst of 3.
	DefaultUnknownKIDInterval = 5 * time.Minute
	// DefaultTimeout bounds one refresh attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultUnknownKIDWait bounds how long a lookup of an unknown key id
	// waits for the refresh it starts or joins.
	DefaultUnknownKIDWait = 2 * time.Second
	// DefaultMaxBytes caps the size of a JWK Set or metadata response body.
	DefaultMaxBytes int64 = 1 << 20
)

// Options for remote sets. Zero values mean the defaults.
type Options struct {
	// RefreshInterval is the time between two scheduled refreshes after a
	// successful one (default DefaultRefreshInterval). It also caps the retry
	// backoff after failures.
	RefreshInterval time.Duration
	// UnknownKIDInterval limits the refreshes started by tokens with unknown
	// key ids or by an empty set: at most 3 back to back, then one per
	// interval. A kid still unknown after a refresh it started (or one started
	// after it was seen) starts no other refresh for one interval. Default
	// DefaultUnknownKIDInterval.
	UnknownKIDInterval time.Duration
	// UnknownKIDWait bounds how long a lookup whose "kid" is not in the set
	// (or that finds the set empty) waits for the refresh it starts, or for
	// the one queued or running that will look for its kid: every lookup
	// waiting on the same fetch shares it. A lookup that can start none (the
	// limits of UnknownKIDInterval are spent, or the kid was just proven
	// absent) is answered at once. The wait also ends when the request's
	// context ends or the Remote is closed. Default DefaultUnknownKIDWait; a
	// negative value means never wait; it is capped at Timeout.
	UnknownKIDWait time.Duration
	// Timeout bounds one refresh attempt, discovery included (default
	// DefaultTimeout).
	Timeout time.Duration
	// MaxBytes caps a JWK Set or discovery response body (default
	// DefaultMaxBytes).
	MaxBytes int64
	// Client is the HTTP client to use. A copy is made whose transport is
	// wrapped with the body cap and whose redirect policy allows at most 3
	// redirects and never from https to http. Default: a client of the set's
	// own, not http.DefaultClient.
	Client *http.Client
	// AllowInsecureHTTP permits http:// URLs for hosts other than loopback
	// (127.0.0.0/8, ::1, localhost), which are always permitted.
	AllowInsecureHTTP bool
	// Logger receives refresh outcomes; nil discards. Tokens are never logged.
	Logger *slog.Logger
	// Now is the clock of the unknown-kid limits; nil means time.Now. The
	// UnknownKIDWait bound runs on real time.
	Now func() time.Time
}

// withDefaults checks o and fills in its zero fields.
func (o Options) withDefaults() (Options, error) {
	if o.RefreshInterval < 0 || o.UnknownKIDInterval < 0 || o.Timeout < 0 || o.MaxBytes < 0 {
		return o, errors.New("jwks: negative duration or size in options")
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.UnknownKIDInterval == 0 {
		o.UnknownKIDInterval = DefaultUnknownKIDInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.UnknownKIDWait == 0 {
		o.UnknownKIDWait = DefaultUnknownKIDWait
	}
	o.UnknownKIDWait = min(o.UnknownKIDWait, o.Timeout) // negative stays: never wait
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Remote is the key set of one issuer, fetched from a JWK Set URL and kept
// fresh by one background goroutine that owns every fetch, so at most one
// runs at a time. A Remote whose fetches fail keeps its last good keys; one
// that holds no usable key because its fetches failed refuses every token
// with ErrUnavailable.
//
// A fetch fails unless the response is a 200 whose body is a JSON object with
// a "keys" array. Each member of the array is read on its own: keys that
// cannot be read (unsupported type or curve, missing or malformed parameters,
// unregistered "use" or "key_ops" values, a bad "x5c"), RSA keys above
// 8192 bits and RSA keys with the ROCA fingerprint (CVE-2017-15361) are
// skipped, logged and counted in Status.Skipped, as RFC 7517 §5
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
	source  string
	opts    Options
	client  *http.Client
	owned   *http.Transport // nil when the caller supplied the transport
	url     resolver        // yields the JWK Set URL
	keys    atomic.Pointer[keySet]
	failing atomic.Bool // the last load attempt failed
	kids    *kidGate    // when unknown key ids start a refresh
	keyfunc jwt.Keyfunc // built once; see Keyfunc
	byKID   jwt.Keyfunc // keyfunc's, on keyStore

	ctx        context.Context // lifetime of the set
	cancel     context.CancelFunc
	done       chan struct{}   // closed when the goroutine has stopped
	refreshReq chan chan error // forced refreshes from Refresh

	backoff time.Duration // the next retry delay; only the fetching goroutine uses it

	mu          sync.Mutex // guards the fields below
	lastAttempt time.Time
	lastErr     string
	skipped     int       // keys skipped by the last successful load
	failures    int       // failed attempts since the last success
	nextAttempt time.Time // when the next scheduled fetch is due
	loads       uint64    // attempts that succeeded, for Status.Refreshes
	loadErrors  uint64    // attempts that failed, for Status.RefreshErrors
}

// errClosed is returned by Refresh once the Remote has stopped.
var errClosed = errors.New("jwks: key set closed")

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
// construction. The metadata is read again before every scheduled refresh,
// every Refresh and every attempt after a failed one, and at once when a
// fetch from the jwks_uri found before fails, so that an issuer may move its
// JWK Set; a refresh started by an unknown kid uses the jwks_uri found last.
// If the metadata cannot be read again, the jwks_uri found last is used and a
// warning logged. Otherwise NewDiscovered behaves like NewRemote.
func NewDiscovered(ctx context.Context, issuer string, opts Options) (*Remote, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	u, err := checkIssuer(issuer, o.AllowInsecureHTTP)
	if err != nil {
		return nil, err
	}
	return start(ctx, issuer, o, &discoverer{issuer: issuer, urls: metadataURLs(u), opts: o})
}

// checkIssuer checks the URL of an issuer whose metadata is read.
func checkIssuer(issuer string, allowInsecure bool) (*url.URL, error) {
	u, err := checkURL(issuer, allowInsecure)
	if err != nil {
		return nil, err
	}
	if u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		return nil, fmt.Errorf("jwks: issuer %q must not have a query or fragment", u.Redacted())
	}
	return u, nil
}

// start builds the Remote, runs the first fetch and launches the goroutine,
// the only one a Remote ever starts.
func start(ctx context.Context, source string, o Options, res resolver) (*Remote, error) {
	if ctx == nil {
		return nil, errors.New("jwks: nil context")
	}
	client, owned := newClient(o.Client, o)
	lctx, cancel := context.WithCancel(ctx)
	r := &Remote{
		source:     source,
		opts:       o,
		client:     client,
		owned:      owned,
		url:        res,
		ctx:        lctx,
		cancel:     cancel,
		done:       make(chan struct{}),
		refreshReq: make(chan chan error),
	}
	r.keys.Store(newKeySet(nil, time.Time{}))
	r.kids = newKIDGate(o.UnknownKIDInterval, o.Now, &r.keys)
	kf, err := keyfunc.New(keyfunc.Options{Storage: keyStore{keys: &r.keys}})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jwks: %w", err)
	}
	r.byKID = kf.KeyfuncCtx(context.Background()) // keyStore needs no context
	r.keyfunc = r.lookup
	r.backoff = min(initialBackoff, o.RefreshInterval)
	firstErr := r.attempt(true)
	d := r.schedule(firstErr)
	go r.run(firstErr, d)
	return r, nil
}

// Keyfunc returns the function golang-jwt calls to pick the key for a token,
// for a request with ctx: the answer of Key for the token's "alg" and "kid"
// header parameters, or an error if either is not a string. For a ctx that
// never ends (such as context.Background()), or when
// Options.UnknownKIDWait is negative, it is the same function for every
// request and allocates nothing; otherwise it is built for ctx, which costs
// one small allocation per call of Keyfunc. Callers that can call Key
// directly save that allocation.
func (r *Remote) Keyfunc(ctx context.Context) jwt.Keyfunc {
	if ctx == nil || r.opts.UnknownKIDWait < 0 || ctx.Done() == nil {
		return r.keyfunc
	}
	return func(token *jwt.Token) (any, error) { return r.tokenKey(ctx, token) }
}

// lookup is the function Keyfunc returns for a context that never ends.
func (r *Remote) lookup(token *jwt.Token) (any, error) {
	return r.tokenKey(context.Background(), token)
}

// tokenKey is Key for token's header, which keyfunc reads for a kid one
// key alone has.
func (r *Remote) tokenKey(ctx context.Context, token *jwt.Token) (any, error) {
	alg, kid, err := parseHeader(token)
	if err != nil {
		return nil, err
	}
	return r.key(ctx, alg, kid, token)
}

// Key returns the key for a token whose header has alg and kid ("" when
// it has none), for a request with ctx. It does not allocate unless it
// waits.
//
// A token with a "kid" gets the key of that kid if it fits the token's "alg"
// and the JWK's own "alg", if any (several keys if several with that kid
// fit); ErrKeyMismatch if none does; ErrUnknownKey if the kid is not in the
// set. A token without a "kid" (or with an empty one) gets every key of the
// set that fits its "alg", or ErrNoKeys. An empty set answers ErrNoKeys.
// Whenever the set holds no usable key and its last load attempt failed
// (or none ever succeeded), the answer is ErrUnavailable instead of any of
// these three.
//
// An unknown kid, or an empty set, may start a refresh: at most 3 back to
// back, then one per Options.UnknownKIDInterval, and none for a kid that a
// fetch started after an earlier lookup of it did not find, until
// UnknownKIDInterval has passed since that fetch. Key then waits for the
// fetch that will look for the kid (the one it started, the one already
// queued, or the one running if an earlier lookup of the same kid started
// it), for at most Options.UnknownKIDWait and no longer than ctx lasts, and
// answers from the keys held then. A lookup that can start no refresh and
// finds none to join is answered at once.
func (r *Remote) Key(ctx context.Context, alg, kid string) (any, error) {
	return r.key(ctx, alg, kid, nil)
}

// key is Key, for token when it comes through Keyfunc (nil otherwise).
func (r *Remote) key(ctx context.Context, alg, kid string, token *jwt.Token) (any, error) {
	key, fetched, err := r.find(alg, kid, token, true)
	if fetched == closedChan { // a load replaced the keys meanwhile: look again
		key, fetched, err = r.find(alg, kid, token, true)
	}
	if fetched == nil {
		return key, err
	}
	return r.await(ctx, alg, kid, token, fetched)
}

// await waits for the fetch that closes fetched, for at most
// Options.UnknownKIDWait, as long as ctx lasts and the Remote runs, then
// looks the key up again.
func (r *Remote) await(ctx context.Context, alg, kid string, token *jwt.Token, fetched <-chan struct{}) (any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	timer := time.NewTimer(r.opts.UnknownKIDWait)
	select {
	case <-fetched:
	case <-timer.C:
	case <-ctx.Done():
	case <-r.ctx.Done():
	}
	timer.Stop()
	key, _, err := r.find(alg, kid, token, false)
	return key, err
}

// find is one look at the current key index for alg and kid (token is
// theirs when the lookup comes through Keyfunc, else nil). If request is
// true and kid is unknown (or the set is empty), it may ask for a refresh;
// fetched is then the channel closed when the fetch that looks for the kid
// has ended, if the lookup is to wait for it, or nil.
func (r *Remote) find(alg, kid string, token *jwt.Token, request bool) (key any, fetched <-chan struct{}, err error) {
	ks := r.keys.Load()
	switch {
	case ks.n == 0:
		kid, err = "", ErrNoKeys
	case kid == "":
		key, err = ks.forAlg(alg)
	default:
		key, err = r.forKID(ks, token, alg, kid)
	}
	if err == nil {
		return key, nil, nil
	}
	if request && (ks.n == 0 || err == ErrUnknownKey) {
		fetched = r.requestRefresh(kid, ks)
	}
	if ks.usable == 0 && r.failing.Load() {
		err = ErrUnavailable
	}
	return nil, fetched, err
}

// forKID returns the key of kid in ks that fits alg, or ErrUnknownKey or
// ErrKeyMismatch. The index answers, unless the lookup comes through
// Keyfunc with a token whose kid one key alone has: keyfunc answers then,
// from the same index, as it does for golang-jwt's users.
func (r *Remote) forKID(ks *keySet, token *jwt.Token, alg, kid string) (any, error) {
	if _, unique := ks.unique[kid]; !unique || token == nil {
		// Several keys share the kid (RFC 7517 allows it across key
		// types), or none has it (keyfunc reads one key per kid), or
		// there is no jwt.Token to hand keyfunc: the index answers.
		return ks.forKID(alg, kid)
	}
	// keyfunc reads the key from the index and checks the JWK's "alg"
	// against the token's.
	key, err := r.byKID(token)
	switch {
	case errors.Is(err, ErrUnknownKey): // replaced by a refresh meanwhile
		return nil, ErrUnknownKey
	case err != nil || !fits(alg, key):
		return nil, ErrKeyMismatch
	}
	return key, nil
}

// parseHeader returns the token's "alg" and "kid" ("" if absent or empty).
// Only these two header parameters are read: "jku", "x5u", "jwk" and "x5c"
// are never used to find a key.
func parseHeader(token *jwt.Token) (alg, kid string, err error) {
	if token == nil {
		return "", "", fmt.Errorf("%w: no token", errHeader)
	}
	alg, ok := token.Header["alg"].(string)
	if !ok {
		return "", "", fmt.Errorf(`%w: "alg" is not a string`, errHeader)
	}
	if v, present := token.Header[jwkset.HeaderKID]; present {
		if kid, ok = v.(string); !ok {
			return "", "", fmt.Errorf(`%w: "kid" is not a string`, errHeader)
		}
	}
	return alg, kid, nil
}

// Generation is the version of the set's keys: it changes whenever a load
// drops or replaces a key the set held (a key added beside the others
// leaves it as it was), so that a cache of tokens verified with the set
// knows when one of their keys may have gone.
func (r *Remote) Generation() uint64 { return r.keys.Load().generation }

// Status reports the set's state. It is safe for concurrent use.
func (r *Remote) Status() Status {
	r.mu.Lock()
	s := Status{
		Source: r.source, LastAttempt: r.lastAttempt, LastError: r.lastErr, Skipped: r.skipped, NextAttempt: r.nextAttempt,
		Refreshes: r.loads, RefreshErrors: r.loadErrors,
	}
	r.mu.Unlock()
	if r.ctx.Err() != nil {
		s.NextAttempt = time.Time{}
	}
	ks := r.keys.Load()
	s.Keys = ks.n
	s.LastRefresh = ks.loaded
	return s
}

// Refresh fetches the set now and returns the fetch's error. It shares the
// background goroutine, so it never runs beside another fetch: it waits for a
// fetch that starts after the call, which concurrent Refresh calls share. If
// ctx ends first, Refresh returns ctx's error and the fetch goes on.
func (r *Remote) Refresh(ctx context.Context) error {
	if r.ctx.Err() != nil {
		return errClosed
	}
	w := make(chan error, 1)
	select {
	case r.refreshReq <- w:
	case <-r.done:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the background goroutine and waits for it to end, cancelling a
// fetch in flight and closing the idle connections of the Remote's own
// transport. The keys held stay usable. Close is idempotent.
func (r *Remote) Close() {
	r.cancel()
	<-r.done
}
