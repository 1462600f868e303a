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
// This package reads the request, asks the method it names and answers;
// each method is a package of its own that knows nothing of requests:
// internal/jwtverify verifies JWTs and caches them (its Verify reads top to
// bottom), internal/clientcheck checks client ids and secrets behind its
// cache and throttle. methods.go turns their answers into a Principal or
// an *Error.
//
// Nothing here knows of a web framework: package middleware adapts it to
// net/http, and middleware/echokw to Echo.
package dualauth

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/clientcheck"
	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/internal/shares"
	"github.com/keyward/keyward/jwks"
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
	realm   string
	logger  *slog.Logger
	keySets map[string]jwks.Set // by issuer

	tokens *jwtverify.Verifier // the JWT method; trusts no issuer when none is configured

	// The client-credentials method; clients is nil when none is configured.
	clients        *clientcheck.Checker[*Principal]
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
	c := &core{closers: []func() error{cfg.closables().Hold()}}
	a, err := c.build(cfg)
	if err != nil {
		_ = c.close() // the shares New took, and what build opened
		return nil, err
	}
	return a, nil
}

// build checks cfg and fills in c from it, building its methods. What it
// opens it adds to c.closers, for New to close if build fails.
func (c *core) build(cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c.realm = cmp.Or(cfg.Realm, defaultRealm)
	c.authenticatePreflight = cfg.AuthenticatePreflight
	c.logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	var err error
	if c.tokens, err = jwtverify.New(cfg.jwtConfig()); err != nil {
		return nil, fieldErr("", err)
	}
	c.keySets = make(map[string]jwks.Set, len(cfg.Issuers))
	for _, iss := range cfg.Issuers {
		c.keySets[iss.Issuer] = iss.Keys
	}
	a := &Authenticator{core: c}
	if cred := cfg.Credentials; cred.Verifier != nil || cred.Exchange != nil {
		c.basicOn = !cred.DisableBasic
		c.idHeader = cmp.Or(cred.ClientIDHeader, DefaultClientIDHeader)
		c.secretHeader = cmp.Or(cred.ClientSecretHeader, DefaultClientSecretHeader)
		c.addrFunc = cred.ClientAddr
		c.trustedProxies = clientaddr.Normalize(cred.TrustedProxies)
		c.exchange = cred.Exchange
		if c.clients, err = a.newClients(cred, cfg.Now); err != nil {
			return nil, err
		}
		c.closers = append(c.closers, c.clients.Close)
		c.storeErrors = c.clients.StoreErrors
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
	case mode.allowsJWT() && len(a.keySets) == 0:
		return nil, fmt.Errorf("dualauth: mode %q needs trusted issuers, and none are configured", mode)
	case mode.allowsCredentials() && a.clients == nil:
		return nil, fmt.Errorf("dualauth: mode %q needs client credentials, and none are configured", mode)
	}
	v := &Authenticator{core: a.core}
	v.setMode(mode)
	return v, nil
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
	status := make(map[string]jwks.Status, len(a.keySets))
	for name, keys := range a.keySets {
		status[name] = keys.Status()
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
func (cfg Config) Close() error { return cfg.closables().CloseUnheld() }

// closables returns cfg's key sets that have a Close method and its
// verifier if it has a Close() error method, each once.
func (cfg Config) closables() shares.List {
	var l shares.List
	for _, iss := range cfg.Issuers {
		if k, ok := iss.Keys.(interface{ Close() }); ok {
			l = l.Add(k, func() error { k.Close(); return nil })
		}
	}
	if v, ok := cfg.Credentials.Verifier.(io.Closer); ok {
		l = l.Add(v, v.Close)
	}
	return l
}
