// Package dualauth is Keyward's framework-free core: it takes an
// *http.Request, finds the caller's credentials, verifies them and returns
// the verified caller as a *Principal, or an *Error that says, in RFC 6750
// terms, what was wrong and how to answer.
//
// A program builds a Config (in Go, or from a YAML file with package
// config), turns it into an Authenticator with New and hands that to package
// middleware:
//
//	cfg, err := config.Load(ctx, "keyward.yaml", config.Options{Logger: logger})
//	...
//	a, err := dualauth.New(cfg)
//	...
//	defer a.Close()
//	kw := middleware.New(a, middleware.Options{Logger: logger})
//	mux.Handle("GET /v1/bookings", kw.Require(scopes.All("bookings:read"))(h))
//
// The mode decides what a route accepts: ModeJWT a Bearer JWT, ModeCredentials
// a client id and secret (two headers, or HTTP Basic), ModeDual either.
//
// The JWT path checks, in order: the token's size and shape (a JWS in compact
// form; JWE is refused), its header (algorithm allowlist, explicit type,
// critical extensions), the key set of the issuer the token names, the
// signature, and the claims (exp required, nbf and iat with leeway, exact iss,
// aud containing a configured audience, and no cnf: a sender-constrained
// token, RFC 7800, is refused, since the proof of possession its binding
// asks for is not checked). The credentials path checks the
// pair through a ClientVerifier (a registry of hashed secrets) or a token
// exchange, behind a cache of verified pairs and a throttle on failures.
//
// Nothing here knows of a web framework: package middleware adapts it to
// net/http, and middleware/echokw to Echo.
package dualauth

import (
	"cmp"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/scopes"
)

// Authenticator verifies the credentials of requests. It is safe for
// concurrent use; build it once with New and Close it when done.
type Authenticator struct {
	*core
	mode Mode
	// bearer is `Bearer realm="<realm>"` when mode accepts Bearer tokens,
	// else ""; basic is `Basic realm="<realm>"` when mode accepts client
	// credentials in HTTP Basic, else "".
	bearer, basic string
}

// core is what every mode's view of one Authenticator shares.
type core struct {
	realm         string
	issuers       map[string]*Issuer
	algorithms    []string
	scopeClaims   []string
	requireType   string
	maxTokenBytes int
	methods       map[string]jwt.SigningMethod // the accepted algorithms
	leeway        time.Duration
	tokens        *tokenCache // nil when off
	now           func() time.Time
	logger        *slog.Logger

	// Client credentials; clients is nil when none are configured.
	clients        *clientChecker
	exchange       *exchange.Client
	basicOn        bool
	idHeader       string
	secretHeader   string
	addrFunc       func(r *http.Request) string
	trustedProxies clientaddr.Proxies

	authenticatePreflight bool

	tel recorder
	// storeErrors, if set, returns the errors the throttle's store has
	// returned so far, reported as keyward.throttle.store_errors (0 while
	// nil). Set it before New registers the telemetry.
	storeErrors func() uint64

	closers   []func() error
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg (see Config.Validate) and returns an Authenticator for it.
//
// New takes a share of cfg's key sets that have a Close method (as
// *jwks.Remote has) and of a Credentials.Verifier with a Close() error
// method (as the one package config builds has), whether it succeeds or
// fails: each is closed when the last Authenticator holding it is closed,
// or at once if New fails and no other Authenticator holds it. So two
// Authenticators built from one Config share its key sets, and closing one
// leaves the other's refreshing. Key sets and verifiers are told apart by
// identity (a pointer, as *jwks.Remote is).
func New(cfg Config) (*Authenticator, error) {
	c := &core{closers: []func() error{hold(cfg.closables())}}
	a, err := c.build(cfg)
	if err != nil {
		_ = c.close() // the shares New took, and what build opened
		return nil, err
	}
	return a, nil
}

// build checks cfg and fills in c from it. What it opens it adds to
// c.closers, for New to close if build fails.
func (c *core) build(cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c.realm = cmp.Or(cfg.Realm, defaultRealm)
	c.issuers = make(map[string]*Issuer, len(cfg.Issuers))
	c.algorithms = slices.Clone(cfg.Algorithms)
	c.scopeClaims = slices.Clone(cfg.ScopeClaims)
	c.maxTokenBytes = cmp.Or(cfg.MaxTokenBytes, defaultMaxTokenBytes)
	c.now = cfg.Now
	c.authenticatePreflight = cfg.AuthenticatePreflight
	c.logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if len(c.algorithms) == 0 {
		c.algorithms = slices.Clone(defaultAlgorithms)
	}
	if len(c.scopeClaims) == 0 {
		c.scopeClaims = scopes.DefaultClaims
	}
	if c.now == nil {
		c.now = time.Now
	}
	if cfg.RequireType != "" {
		c.requireType = canonicalType(cfg.RequireType)
	}
	leeway := cmp.Or(cfg.Leeway, defaultLeeway)
	if leeway < 0 {
		leeway = 0 // NoLeeway
	}
	for i, iss := range cfg.Issuers {
		if isNil(iss.Keys) {
			return nil, configErr(fmt.Sprintf("Issuers[%d].Keys", i), "no key set")
		}
		iss.Audiences = slices.Clone(iss.Audiences)
		c.issuers[iss.Issuer] = &iss
	}
	c.methods = make(map[string]jwt.SigningMethod, len(c.algorithms))
	for _, alg := range c.algorithms {
		c.methods[alg] = signingMethod(alg)
	}
	c.leeway = leeway
	if !cfg.TokenCache.Disabled && len(c.issuers) > 0 {
		c.tokens = newTokenCache(cfg.TokenCache, leeway, c.now)
	}
	a := &Authenticator{core: c}
	if cred := cfg.Credentials; cred.Verifier != nil || cred.Exchange != nil {
		c.basicOn = !cred.DisableBasic
		c.idHeader = cmp.Or(cred.ClientIDHeader, DefaultClientIDHeader)
		c.secretHeader = cmp.Or(cred.ClientSecretHeader, DefaultClientSecretHeader)
		c.addrFunc = cred.ClientAddr
		c.trustedProxies = clientaddr.Normalize(cred.TrustedProxies)
		verify, generation := a.exchangeVerify, func() uint64 { return 0 }
		if cred.Exchange != nil {
			c.exchange = cred.Exchange
		} else {
			verify = cred.Verifier.VerifyClient
			if g, ok := cred.Verifier.(interface{ Generation() uint64 }); ok {
				generation = g.Generation
			}
		}
		var err error
		if c.clients, err = newClientChecker(c, verify, generation, cred); err != nil {
			return nil, err
		}
	}
	a.setMode(cmp.Or(cfg.Mode, ModeJWT))
	tel, err := newRecorder(a, cfg)
	if err != nil {
		return nil, fmt.Errorf("dualauth: telemetry: %w", err)
	}
	c.tel = tel
	c.closers = append(c.closers, tel.Close)
	return a, nil
}

// ForMode returns an Authenticator for routes that accept only the methods
// of mode, whatever the configured mode: for example an admin route that
// takes only JWTs in a dual-mode API. It shares a's key sets, caches and
// throttle, and a caller verified by either is taken on trust by the other
// where its method is accepted. It fails if a cannot serve mode: Bearer
// tokens need issuers, client credentials a verifier or an exchange.
func (a *Authenticator) ForMode(mode Mode) (*Authenticator, error) {
	switch {
	case !mode.allowsJWT() && !mode.allowsCredentials():
		return nil, fmt.Errorf("dualauth: unknown mode %q", mode)
	case mode.allowsJWT() && len(a.issuers) == 0:
		return nil, fmt.Errorf("dualauth: mode %q needs trusted issuers, and none are configured", mode)
	case mode.allowsCredentials() && a.clients == nil:
		return nil, fmt.Errorf("dualauth: mode %q needs client credentials, and none are configured", mode)
	}
	v := &Authenticator{core: a.core}
	v.setMode(mode)
	return v, nil
}

// signingMethod is golang-jwt's method for alg, except that RSASSA-PSS
// signatures must use a salt as long as the hash (RFC 7518 §3.5), where
// golang-jwt's own PS256/384/512 accept any salt length.
func signingMethod(alg string) jwt.SigningMethod {
	m := jwt.GetSigningMethod(alg)
	if pss, ok := m.(*jwt.SigningMethodRSAPSS); ok {
		exact := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return &jwt.SigningMethodRSAPSS{SigningMethodRSA: pss.SigningMethodRSA, Options: exact, VerifyOptions: exact}
	}
	return m
}

// setMode sets a's mode and the challenges it offers.
func (a *Authenticator) setMode(mode Mode) {
	a.mode = mode
	a.bearer, a.basic = "", ""
	if mode.allowsJWT() {
		a.bearer = challenge("Bearer", a.realm)
	}
	if mode.allowsCredentials() && a.clients != nil && a.basicOn {
		a.basic = challenge("Basic", a.realm)
	}
}

// Mode is the mode whose methods a accepts.
func (a *Authenticator) Mode() Mode { return a.mode }

// KeyStatus reports the state of every trusted issuer's key set, keyed by
// issuer, for health and readiness checks.
func (a *Authenticator) KeyStatus() map[string]jwks.Status {
	status := make(map[string]jwks.Status, len(a.issuers))
	for name, iss := range a.issuers {
		status[name] = iss.Keys.Status()
	}
	return status
}

// Close gives back a's share of the key sets and the verifier New took
// from its Config, and stops the background work of each that no other
// Authenticator holds (a *jwks.Remote's refreshes; the watcher of the
// clients file package config starts) and waits for it to end; it also
// closes the Redis throttle store a opened and unregisters the callback of
// its observable metrics. Closing one mode's view closes them all. Requests
// can still be verified afterwards with the keys and clients held. Close is
// idempotent.
func (a *Authenticator) Close() error { return a.close() }

// close runs c's closers once and returns their errors.
func (c *core) close() error {
	c.closeOnce.Do(func() {
		var errs []error
		for _, stop := range c.closers {
			errs = append(errs, stop())
		}
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// Close stops the background work of cfg's key sets and verifier (those
// New would take, see there) that no Authenticator holds, and waits for it
// to end: for a Config never given to New, such as one config.Load built
// for a program that stops before New. What an Authenticator holds is left
// to it, so a deferred cfg.Close() is safe wherever New is called. The
// Config may not be given to New afterwards.
func (cfg Config) Close() error {
	var free []closable
	holders.Lock()
	for _, c := range cfg.closables() {
		if !c.shared() || holders.n[c.id] == 0 {
			free = append(free, c)
		}
	}
	holders.Unlock()
	return closeAll(free)
}

// closable is a key set or verifier whose background work Close stops.
type closable struct {
	id    any // the key set or verifier
	close func() error
}

// shared reports whether c can be told apart by identity, and so shared by
// Authenticators; one that cannot is closed by whichever lets it go first.
func (c closable) shared() bool { return reflect.ValueOf(c.id).Comparable() }

// closables returns cfg's key sets that have a Close method and its
// verifier if it has a Close() error method, each once.
func (cfg Config) closables() []closable {
	var cs []closable
	add := func(id any, close func() error) {
		if v := reflect.ValueOf(id); v.Kind() == reflect.Pointer && v.IsNil() {
			return // New refuses a nil key set; a nil verifier has nothing to stop
		}
		for _, c := range cs {
			if c.shared() && c.id == id {
				return
			}
		}
		cs = append(cs, closable{id: id, close: close})
	}
	for _, iss := range cfg.Issuers {
		if k, ok := iss.Keys.(interface{ Close() }); ok {
			add(k, func() error { k.Close(); return nil })
		}
	}
	if v, ok := cfg.Credentials.Verifier.(io.Closer); ok {
		add(v, v.Close)
	}
	return cs
}

// holders counts the Authenticators holding each shared closable.
var holders = struct {
	sync.Mutex
	n map[any]int
}{n: make(map[any]int)}

// hold takes a share of each of cs and returns the function that gives
// them back and closes each that no other Authenticator holds then.
func hold(cs []closable) func() error {
	holders.Lock()
	for _, c := range cs {
		if c.shared() {
			holders.n[c.id]++
		}
	}
	holders.Unlock()
	return func() error {
		var last []closable
		holders.Lock()
		for _, c := range cs {
			if !c.shared() {
				last = append(last, c)
				continue
			}
			if holders.n[c.id]--; holders.n[c.id] == 0 {
				delete(holders.n, c.id)
				last = append(last, c)
			}
		}
		holders.Unlock()
		return closeAll(last)
	}
}

// closeAll closes cs, outside the lock of holders, and joins their errors.
func closeAll(cs []closable) error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.close())
	}
	return errors.Join(errs...)
}

// isNil reports whether set is nil or a nil *jwks.Remote or *jwks.Static, as
// a key set returned with an error would be.
func isNil(set jwks.Set) bool {
	switch s := set.(type) {
	case nil:
		return true
	case *jwks.Remote:
		return s == nil
	case *jwks.Static:
		return s == nil
	}
	return false
}
