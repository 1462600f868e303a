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

	tel *telemetry
	// storeErrors, if set, returns the errors the throttle's store has
	// returned so far, reported as keyward.throttle.store_errors (0 while
	// nil). Set it before New registers the telemetry.
	storeErrors func() uint64

	closers   []func() error
	closeOnce sync.Once
	closeErr  error
}

// New checks cfg (see Config.Validate) and returns an Authenticator for it.
func New(cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &core{
		realm:                 cmp.Or(cfg.Realm, defaultRealm),
		issuers:               make(map[string]*Issuer, len(cfg.Issuers)),
		algorithms:            slices.Clone(cfg.Algorithms),
		scopeClaims:           slices.Clone(cfg.ScopeClaims),
		maxTokenBytes:         cmp.Or(cfg.MaxTokenBytes, defaultMaxTokenBytes),
		now:                   cfg.Now,
		authenticatePreflight: cfg.AuthenticatePreflight,
		logger:                cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
	}
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
		if closer, ok := iss.Keys.(interface{ Close() }); ok {
			c.closers = append(c.closers, func() error { closer.Close(); return nil })
		}
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
		c.idHeader = cmp.Or(cred.ClientIDHeader, defaultClientIDHeader)
		c.secretHeader = cmp.Or(cred.ClientSecretHeader, defaultClientSecretHeader)
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
			if closer, ok := cred.Verifier.(io.Closer); ok {
				c.closers = append(c.closers, closer.Close)
			}
		}
		var err error
		if c.clients, err = newClientChecker(c, verify, generation, cred); err != nil {
			return nil, err
		}
	}
	a.setMode(cmp.Or(cfg.Mode, ModeJWT))
	tel, err := newTelemetry(c, cfg.MeterProvider, cfg.TracerProvider)
	if err != nil {
		return nil, fmt.Errorf("dualauth: telemetry: %w", err)
	}
	c.tel = tel
	c.closers = append(c.closers, tel.close)
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

// Close stops the background work of what a was built with — the key sets
// of Config.Issuers that have a Close method (as *jwks.Remote has), and a
// Credentials.Verifier with a Close() error method (as the one package
// config builds has: it stops watching the clients file) — and waits for it
// to end; it also unregisters the callback of its observable metrics.
// Closing one mode's view closes them all. Requests can still be verified
// afterwards with the keys and clients held. Close is idempotent.
func (a *Authenticator) Close() error {
	a.closeOnce.Do(func() {
		var errs []error
		for _, c := range a.closers {
			errs = append(errs, c())
		}
		a.closeErr = errors.Join(errs...)
	})
	return a.closeErr
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
