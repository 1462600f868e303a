// Package dualauth is Keyward's framework-free core: it takes an
// *http.Request, finds the caller's credentials, has the method they belong
// to verify them, and returns the caller as a *Principal, or an *Error that
// says, in RFC 6750 terms, what was wrong and how to answer.
//
// The mode decides what a route accepts: ModeJWT a Bearer JWT, ModeCredentials
// a client id and secret (two headers, or HTTP Basic), ModeDual either. The
// methods are packages of their own behind the interfaces TokenVerifier and
// ClientChecker: jwtauth verifies JWTs, clientauth checks client ids and
// secrets. Package config builds all three from a YAML file:
//
//	cfg, err := config.Load(ctx, "keyward.yaml", config.Options{Logger: logger})
//	...
//	a, err := dualauth.New(cfg) // or Config{Tokens: t, Clients: c} from jwtauth.New, clientauth.New
//	...
//	defer a.Close()
//	kw := middleware.New(a, middleware.Options{Logger: logger})
//	mux.Handle("GET /v1/bookings", kw.Require(scopes.All("bookings:read"))(h))
//
// Nothing here knows of a web framework: package middleware adapts it to
// net/http, and middleware/echokw to Echo.
package dualauth

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/shares"
)

// Authenticator verifies the credentials of requests. It is safe for
// concurrent use; build it once with New and Close it when done.
type Authenticator struct {
	*core
	mode Mode
	// The bare challenges of the schemes mode accepts (`Bearer realm="…"`,
	// `DPoP realm="…", algs="…"`, `Basic realm="…"`); "" for one it does not.
	bearer, basic, dpop string
}

// core is what every mode's view of one Authenticator shares.
type core struct {
	realm    string
	tokens   TokenVerifier // nil when none is configured
	clients  ClientChecker // nil when none is configured
	dpopAlgs string        // of tokens' DPoPAlgorithms; "" for none
	dpopOnly bool          // DPoP required: Bearer is not read

	basicOn                bool
	idHeader, secretHeader string
	addrFunc               func(r *http.Request) string
	trustedProxies         clientaddr.Proxies
	authenticatePreflight  bool

	tel     recorder
	closers []func() error
	close   func() error // runs closers, once
}

// New checks cfg (see Config.Validate) and returns an Authenticator for it.
//
// New takes a share of cfg.Tokens and cfg.Clients that have a Close()
// error method, succeeding or not: each (told apart by pointer identity) is
// closed when the last Authenticator holding it is closed, or at once if
// New fails and no other holds it.
func New(cfg Config) (*Authenticator, error) {
	c := &core{closers: []func() error{cfg.closables().Hold()}}
	c.close = sync.OnceValue(func() error {
		errs := make([]error, len(c.closers))
		for i, stop := range c.closers {
			errs[i] = stop()
		}
		return errors.Join(errs...)
	})
	a, err := c.build(cfg)
	if err != nil {
		_ = c.close() // the shares New took, and what build opened
		return nil, err
	}
	return a, nil
}

// build checks cfg and fills in c; New closes c.closers if it fails.
func (c *core) build(cfg Config) (*Authenticator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c.realm = cmp.Or(cfg.Realm, defaultRealm)
	c.authenticatePreflight = cfg.AuthenticatePreflight
	c.tokens, c.clients = cfg.Tokens, cfg.Clients
	if d, ok := c.tokens.(dpopVerifier); ok {
		c.dpopAlgs, c.dpopOnly = d.DPoPAlgorithms()
	}
	// In every mode: a token verifier may count failures too.
	c.addrFunc, c.trustedProxies = cfg.ClientAddr, clientaddr.Normalize(cfg.TrustedProxies)
	if c.clients != nil {
		c.basicOn = !cfg.DisableBasic
		c.idHeader = cmp.Or(cfg.ClientIDHeader, DefaultClientIDHeader)
		c.secretHeader = cmp.Or(cfg.ClientSecretHeader, DefaultClientSecretHeader)
	}
	a := &Authenticator{core: c}
	a.setMode(cmp.Or(cfg.Mode, ModeJWT))
	tel, err := newRecorder(c, cfg)
	if err != nil {
		return nil, fmt.Errorf("dualauth: telemetry: %w", err)
	}
	c.tel = tel
	c.closers = append(c.closers, tel.Close)
	return a, nil
}

// ForMode returns an Authenticator for routes that accept only the methods
// of mode, such as an admin route that takes only JWTs in a dual-mode API.
// It shares a's methods, and a caller verified by either is taken on trust
// by the other where its method is accepted. It fails if a cannot serve
// mode: Bearer tokens need Config.Tokens, client credentials Config.Clients.
func (a *Authenticator) ForMode(mode Mode) (*Authenticator, error) {
	switch {
	case !mode.allowsJWT() && !mode.allowsCredentials():
		return nil, fmt.Errorf("dualauth: unknown mode %q", mode)
	case mode.allowsJWT() && a.tokens == nil:
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
	a.bearer, a.basic, a.dpop = "", "", ""
	if mode.allowsJWT() && !a.dpopOnly {
		a.bearer = authheader.Challenge("Bearer", a.realm)
	}
	if mode.allowsJWT() && a.dpopAlgs != "" {
		a.dpop = authheader.Challenge("DPoP", a.realm, "algs", a.dpopAlgs)
	}
	if mode.allowsCredentials() && a.clients != nil && a.basicOn {
		a.basic = authheader.Challenge("Basic", a.realm)
	}
}

// Mode is the mode whose methods a accepts.
func (a *Authenticator) Mode() Mode { return a.mode }

// Close gives back a's share of Config.Tokens and Config.Clients, closing
// each that no other Authenticator holds (which stops key refreshes, a
// clients file watcher, a Redis store, and waits), and unregisters a's
// observable metrics. Closing one mode's view closes them all. Requests can
// still be verified afterwards with what is held. Close is idempotent.
func (a *Authenticator) Close() error { return a.close() }

// Close closes cfg.Tokens and cfg.Clients where no Authenticator holds
// them, and waits: for a Config never given to New (config.Load's, in a
// program that stops first). A deferred cfg.Close() is safe wherever New is
// called; the Config may not be given to New afterwards.
func (cfg Config) Close() error { return cfg.closables().CloseUnheld() }

// closables returns cfg's methods that have a Close() error method.
func (cfg Config) closables() shares.List {
	var l shares.List
	for _, m := range []any{cfg.Tokens, cfg.Clients} {
		if c, ok := m.(io.Closer); ok {
			l = l.Add(c, c.Close)
		}
	}
	return l
}
