// Package jwtauth is Keyward's Bearer JWT method: it verifies JWT access
// tokens (RFC 9068, with the checks of RFC 8725) against the key sets of
// trusted issuers, remembers the tokens that passed, and answers package
// dualauth's core (dualauth.Config.Tokens) with a *dualauth.Principal or a
// *dualauth.Error.
//
// A token is checked in this order, each step cheaper than the next: its
// size and form (a JWS in compact form; a JWE is refused), its header
// (algorithm allowlist, explicit type, no critical extensions), the key set
// of the issuer its unverified "iss" names, the signature with the key the
// set gives for its "kid", and then the claims: exp (required), nbf and iat
// with the leeway, iss exactly, aud naming a configured audience, and no cnf
// (a sender-constrained token, RFC 7800, whose proof of possession is not
// checked here), except a DPoP-bound one's cnf.jkt with Config.DPoP (see
// DPoP), whose proof is checked on every request, and a certificate-bound
// one's cnf."x5t#S256" (see CertificateBound), whose client certificate is
// checked on every request.
//
// An issuer with an Introspection also has its opaque access tokens
// checked at its RFC 7662 endpoint (see Introspection).
//
//	tokens, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{{
//		Issuer: "https://auth.example.com", Audiences: []string{"bookings-api"}, Keys: keys,
//	}}})
//	...
//	a, err := dualauth.New(dualauth.Config{Tokens: tokens})
package jwtauth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/internal/fielderr"
	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/internal/shares"
	"github.com/keyward/keyward/jwks"
)

// NoLeeway, as Config.Leeway, allows no clock skew at all.
const NoLeeway time.Duration = -1

// defaultMaxTokenBytes is Config.MaxTokenBytes when zero.
const defaultMaxTokenBytes = 8 << 10

// MaxLeeway is the largest Config.Leeway: a larger clock skew would keep
// expired tokens alive.
const MaxLeeway = 5 * time.Minute

// Config configures a Verifier. The zero value of every field but Issuers
// is useful.
type Config struct {
	// Issuers are the trusted token issuers, each with its own key set; at
	// least one is required.
	Issuers []Issuer
	// Algorithms is the JWS "alg" allowlist, a subset of RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA; empty means
	// all of them. "none" and the HMAC algorithms are never accepted.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means 30
	// seconds and NoLeeway (any negative value) means none. It may not
	// exceed 5 minutes.
	Leeway time.Duration
	// ScopeClaims are the claims scopes are read from; empty means
	// scopes.DefaultClaims ("scope", "scp", "scopes").
	ScopeClaims []string
	// RequireType, if set, is the media type the token's "typ" header must
	// name, such as "at+jwt" (RFC 9068 §4); the "application/" prefix is
	// optional and case is ignored.
	RequireType string
	// MaxTokenBytes caps a token's size, checked before any parsing; 0 means
	// 8 KiB.
	MaxTokenBytes int
	// TokenCache configures the cache of verified tokens, on by default.
	TokenCache TokenCache
	// Now is the clock of token expiry and cache lifetimes; nil means
	// time.Now.
	Now func() time.Time
	// Throttle, if set, counts opaque tokens that the introspection
	// endpoint does not know (or calls inactive) against the caller's
	// address, as wrong client secrets are counted: once the address has
	// spent its budget it is answered 429 without the endpoint being asked.
	// A *clientauth.Guard is one. If it has a Close method it is closed
	// when the last Verifier holding it is closed, as Keys are.
	Throttle Throttle
	// DPoP, if set, accepts DPoP-bound tokens (RFC 9449) with a proof of
	// possession on every request; see DPoP. Nil: a DPoP-bound token is
	// refused, as every token with a cnf claim is.
	DPoP *DPoP
	// CertificateBound, if set, names the header a trusted proxy forwards
	// the client certificate in, for certificate-bound tokens (RFC 8705
	// §3, cnf."x5t#S256"); see CertificateBound. Nil: such a token is
	// still checked, against the TLS connection's client certificate only.
	CertificateBound *CertificateBound
	// Logger receives verification failures at debug level, and every
	// failed introspection call at error level (never tokens nor secrets);
	// nil means no logging.
	Logger *slog.Logger
}

// Issuer is one trusted authorization server.
type Issuer struct {
	// Issuer is the exact "iss" value its tokens carry.
	Issuer string
	// Audiences are the "aud" values this API accepts from the issuer; a
	// token's aud must contain at least one of them.
	Audiences []string
	// Keys verifies the issuer's signatures. If it has a Close method, as a
	// *jwks.Remote has, it is closed when the last Verifier holding it is
	// closed, or by a New that fails (see New). It may be nil only with an
	// Introspection, when the issuer's tokens are all opaque; its JWTs and
	// signed introspection answers (RFC 9701) are then refused.
	Keys jwks.Set
	// Introspection, if set, checks the issuer's opaque access tokens at
	// its introspection endpoint (RFC 7662); without it they are refused.
	Introspection *Introspection
}

// TokenCache configures the cache of verified tokens. A client sends the
// same token on every call for as long as it lives, so a token that passed
// every check is remembered under its SHA-256 hash and answered from memory
// when presented again: its exp and nbf are checked again (with the leeway)
// on every use, and the entry is dropped once the key that verified it
// leaves its issuer's key set. A token that failed is never remembered. The
// zero value turns the cache on with the defaults.
type TokenCache struct {
	// Disabled turns the cache off.
	Disabled bool
	// MaxEntries bounds the tokens remembered; 0 means 100,000. At the bound
	// the oldest entry makes room for the new one (counted in
	// dualauth.CacheStatus.Evictions).
	MaxEntries int
	// MaxTTL bounds how long one verification is reused; 0 means 10
	// minutes. An entry never outlives its token's exp plus the leeway.
	MaxTTL time.Duration
}

// Validate checks c as New does, without building anything; Issuer.Keys
// may still be nil (New refuses that). Every error is a
// *dualauth.ConfigError whose Package is "jwtauth".
func (c Config) Validate() error {
	if len(c.Issuers) == 0 {
		return &dualauth.ConfigError{Package: "jwtauth", Field: "Issuers", Reason: "at least one issuer is required"}
	}
	if err := c.internal().Validate(); err != nil {
		return configError(err)
	}
	if err := c.validateDPoP(); err != nil {
		return err
	}
	if err := c.validateCertificateBound(); err != nil {
		return err
	}
	return c.validateIntrospection()
}

// internal is what package internal/jwtverify is built from.
func (c Config) internal() jwtverify.Config {
	issuers := make([]jwtverify.Issuer, len(c.Issuers))
	for i, iss := range c.Issuers {
		issuers[i] = jwtverify.Issuer{Issuer: iss.Issuer, Audiences: iss.Audiences, Keys: iss.Keys}
	}
	return c.verifierOf(issuers)
}

// verifierOf is the jwtverify.Config of c for issuers.
func (c Config) verifierOf(issuers []jwtverify.Issuer) jwtverify.Config {
	return jwtverify.Config{
		Issuers: issuers, Algorithms: c.Algorithms, Leeway: c.Leeway, ScopeClaims: c.ScopeClaims,
		RequireType: c.RequireType, MaxTokenBytes: c.MaxTokenBytes, Cache: jwtverify.CacheConfig(c.TokenCache),
		AcceptJKT: c.DPoP != nil, AcceptX5T: true, Now: c.Now, Logger: c.Logger,
	}
}

// configError is err, a *fielderr.Error, as a *dualauth.ConfigError; any
// other error as it is.
func configError(err error) error {
	var fe *fielderr.Error
	if errors.As(err, &fe) {
		return &dualauth.ConfigError{Package: "jwtauth", Field: fe.Field, Reason: fe.Reason}
	}
	return err
}

// Verifier verifies Bearer JWTs, and opaque tokens at introspection
// endpoints, for dualauth (a dualauth.TokenVerifier).
// It is safe for concurrent use; Close it when done.
type Verifier struct {
	v       *jwtverify.Verifier
	keySets map[string]jwks.Set // by issuer
	release func() error        // gives back the shares of the key sets and the throttle

	// Introspection (see introspection.go): the issuers that introspect
	// opaque tokens, in the order they are tried, and those whose JWTs
	// are introspected too (nil when none).
	opaque        []*introspector
	jwtIntrospect map[string]*introspector
	throttle      Throttle
	maxTokenBytes int

	proofs       *dpop.Checker // nil without Config.DPoP
	nonces       *nonces       // nil without DPoP.Nonces
	dpopRequired bool
	certHeader   string // CertificateBound.Header, or ""
}

// New checks cfg (see Validate; every Issuers[i].Keys must be set) and
// returns a Verifier for it.
//
// New takes a share of cfg's key sets that have a Close method (as
// *jwks.Remote has), whether it succeeds or fails: each is closed when the
// last Verifier holding it is closed, or at once if New fails and no other
// Verifier holds it. Key sets are told apart by identity (a pointer, as
// *jwks.Remote is).
func New(cfg Config) (*Verifier, error) {
	var held shares.List
	for _, iss := range cfg.Issuers {
		held = addCloser(held, iss.Keys)
	}
	held = addCloser(held, cfg.Throttle)
	release := sync.OnceValue(held.Hold())
	if err := cfg.Validate(); err != nil {
		_ = release()
		return nil, err
	}
	// Issuers whose tokens are all opaque have no keys: their JWTs are
	// refused as an untrusted issuer's.
	var keyed []jwtverify.Issuer
	for i, iss := range cfg.Issuers {
		switch {
		case iss.Keys != nil:
			keyed = append(keyed, jwtverify.Issuer{Issuer: iss.Issuer, Audiences: iss.Audiences, Keys: iss.Keys})
		case iss.Introspection == nil:
			_ = release()
			return nil, &dualauth.ConfigError{Package: "jwtauth", Field: fmt.Sprintf("Issuers[%d].Keys", i),
				Reason: "no key set (it may be nil only with an Introspection)"}
		}
	}
	v, err := jwtverify.New(cfg.verifierOf(keyed))
	if err != nil {
		_ = release()
		return nil, configError(err)
	}
	keySets := make(map[string]jwks.Set, len(cfg.Issuers))
	for _, iss := range cfg.Issuers {
		if iss.Keys != nil {
			keySets[iss.Issuer] = iss.Keys
		}
	}
	proofs, nonces, err := newProofChecker(cfg)
	if err != nil {
		_ = release()
		return nil, err
	}
	verifier := &Verifier{v: v, keySets: keySets, release: release, throttle: cfg.Throttle,
		maxTokenBytes: cmp.Or(cfg.MaxTokenBytes, defaultMaxTokenBytes),
		proofs:        proofs, nonces: nonces, dpopRequired: cfg.DPoP != nil && cfg.DPoP.Required}
	if cfg.CertificateBound != nil {
		verifier.certHeader = cfg.CertificateBound.Header
	}
	if err := verifier.buildIntrospection(cfg); err != nil {
		_ = release()
		return nil, err
	}
	return verifier, nil
}

// addCloser adds x to l if it has a Close method (as *jwks.Remote and
// *clientauth.Guard have).
func addCloser(l shares.List, x any) shares.List {
	switch k := x.(type) {
	case interface{ Close() }: // as *jwks.Remote has
		return l.Add(k, func() error { k.Close(); return nil })
	case io.Closer:
		return l.Add(k, k.Close)
	}
	return l
}

var _ interface {
	dualauth.TokenVerifier
	io.Closer
} = (*Verifier)(nil)

// VerifyToken checks a raw Bearer token and returns the caller it names,
// a new Principal on every call; cached reports whether the cache of
// verified tokens (or of introspection answers) answered. Every failure is
// a *dualauth.Error: 401 invalid_token with its cause in Err for logs, 429
// too_many_requests when from's address has spent its budget of refused
// opaque tokens (Config.Throttle), or 503 temporarily_unavailable when the
// issuer's keys cannot be fetched or its introspection endpoint cannot
// answer. A token with a cnf claim (a sender-constrained token, RFC 7800),
// or an introspection answer with a cnf member, is refused: this server
// does not check the proof of possession such a token needs, except a DPoP
// proof with Config.DPoP (see DPoP; its refusals are 401
// invalid_dpop_proof and invalid_token, 429 and 503 when the replay store
// is full or cannot answer) and the client certificate of a
// certificate-bound token (see CertificateBound; 401 invalid_token).
//
// An opaque token goes to its issuer's introspection endpoint (see
// Introspection), and from.Addr is asked only when a call is made; a JWT
// never asks it, nor does a value outside RFC 6750's b64token syntax,
// which is refused without a call.
//
// A token that passed every check is remembered (see TokenCache) and, when
// presented again, answered from memory after its exp and nbf are checked
// again, as long as the key that verified it is still in its issuer's set.
func (v *Verifier) VerifyToken(ctx context.Context, raw string, from dualauth.Origin) (*dualauth.Principal, bool, error) {
	p, bound, cached, err := v.verifyToken(ctx, raw, from)
	if err == nil {
		err = v.checkBinding(ctx, raw, bound, from)
	}
	if err != nil {
		return nil, cached, err
	}
	return p, cached, nil
}

// binding is what a token is bound to: the thumbprint of a DPoP key (jkt)
// or of a client certificate (x5t, of x5t#S256), "" for none.
type binding struct{ jkt, x5t string }

// verifyToken is VerifyToken less the binding: the caller raw names and
// what it is bound to.
func (v *Verifier) verifyToken(ctx context.Context, raw string, from dualauth.Origin) (_ *dualauth.Principal, _ binding, cached bool, _ error) {
	if v.opaque != nil && len(raw) <= v.maxTokenBytes && !jwtverify.JOSEShaped(raw) {
		// A value outside RFC 6750's b64token syntax is no token any
		// server issued: it is refused without a call and without a
		// count (dualauth answers it invalid_request), as is an opaque
		// token no endpoint takes, as before there was introspection.
		if authheader.NotToken68At(raw) < 0 {
			if in := v.route(raw); in != nil {
				return v.verifyOpaque(ctx, in, raw, from)
			}
		}
	}
	c, cached, err := v.v.Verify(ctx, raw)
	if err != nil {
		return nil, binding{}, cached, refusal(err)
	}
	p := principal(c)
	if v.jwtIntrospect != nil {
		if in := v.jwtIntrospect[c.Issuer]; in != nil {
			answer, found, err := v.introspectJWT(ctx, in, raw)
			if err != nil {
				return nil, binding{}, cached && found, refusal(err)
			}
			p.Introspected, cached = true, cached && found
			token, said := binding{c.JKT, c.X5T}, binding{answer.JKT, answer.X5T}
			if token != said && token != (binding{}) && said != (binding{}) {
				return nil, binding{}, cached, bindingRefusal("the access token and its introspection answer bind it to different keys")
			}
			c.JKT, c.X5T = cmp.Or(c.JKT, answer.JKT), cmp.Or(c.X5T, answer.X5T)
		}
	}
	return p, binding{c.JKT, c.X5T}, cached, nil
}

// principal is a new Principal of what c says.
func principal(c jwtverify.Claims) *dualauth.Principal {
	p := dualauth.NewPrincipal(dualauth.MethodJWT, c.JSON)
	p.Subject, p.ClientID, p.Issuer, p.Scopes, p.ExpiresAt = c.Subject, c.ClientID, c.Issuer, c.Scopes, c.ExpiresAt
	return p
}

// refusal is the *dualauth.Error of a token refused with err; a
// *dualauth.Error (the throttle's) as it is.
func refusal(err error) *dualauth.Error {
	var de *dualauth.Error
	if errors.As(err, &de) && de != nil {
		return de
	}
	e := &dualauth.Error{Status: http.StatusUnauthorized, Code: dualauth.CodeInvalidToken, Err: err}
	var ve *jwtverify.Error
	switch {
	case !errors.As(err, &ve):
	case ve.Unavailable:
		e.Status, e.Code = http.StatusServiceUnavailable, dualauth.CodeTemporarilyUnavailable
		e.Description, e.RetryAfter, e.Err = ve.Description, ve.RetryAfter, ve.Err
	default:
		e.Description, e.Err = ve.Description, ve.Err
	}
	return e
}

// KeyStatus reports the state of every trusted issuer's key set, keyed by
// issuer, for health and readiness checks.
func (v *Verifier) KeyStatus() map[string]jwks.Status {
	status := make(map[string]jwks.Status, len(v.keySets))
	for name, keys := range v.keySets {
		status[name] = keys.Status()
	}
	return status
}

// KeySet returns the key set of issuer, and whether issuer is trusted:
// for a program that refreshes it on a notice from the issuer
// (jwks.Remote.Refresh), say. The set stays the Verifier's: do not close
// it (Verifier.Close does when no one else holds it).
func (v *Verifier) KeySet(issuer string) (jwks.Set, bool) {
	set, ok := v.keySets[issuer]
	return set, ok
}

// CacheStatus reports the verified-token cache; all zero when it is off.
func (v *Verifier) CacheStatus() dualauth.CacheStatus {
	var s dualauth.CacheStatus
	s.Entries, s.Hits, s.Misses, s.Evictions = v.v.CacheStatus()
	return s
}

// Close gives back v's share of its key sets and stops the refreshes of
// each that no other Verifier holds, waiting for them to end; it closes
// its Throttle likewise, and the idle connections to introspection
// endpoints. Tokens can still be verified afterwards with the keys held.
// Close is idempotent.
func (v *Verifier) Close() error {
	for _, in := range v.opaque {
		in.client.Close()
	}
	if err := v.release(); err != nil {
		return fmt.Errorf("jwtauth: %w", err)
	}
	return nil
}
