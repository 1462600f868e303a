package dualauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/telemetry"
	"github.com/keyward/keyward/jwks"
)

// TokenVerifier verifies Bearer tokens (Config.Tokens; a *jwtauth.Verifier
// is one). VerifyToken returns the caller raw names, new on every call (the
// core sets its Method to MethodJWT), and whether its cache answered. Every
// refusal is an *Error: 401 invalid_token, 429, or 503
// temporarily_unavailable when the token cannot be checked now; any other
// error is answered as invalid_token. from is the request and the address
// failures count against (a guessed opaque token). The core also uses
// KeyStatus() map[string]jwks.Status, CacheStatus() CacheStatus, Close()
// error and DPoPAlgorithms() (algs string, required bool; see Origin.DPoP)
// of a verifier that has them.
type TokenVerifier interface {
	VerifyToken(ctx context.Context, raw string, from Origin) (p *Principal, cached bool, err error)
}

// Origin is where a request came from. Its Addr is keyed as failed client
// credentials are counted (an IP, IPv6 by its /64, through TrustedProxies
// and ClientAddr), only when asked; the zero Origin's is "".
type Origin struct {
	a          *Authenticator
	r          *http.Request
	remoteAddr string // without r
	dpop       bool
}

// DPoP reports whether the token came as `Authorization: DPoP` (RFC
// 9449), which the core reads (and offers `DPoP algs="…"`) when
// Config.Tokens' DPoPAlgorithms gives algs; required, it reads no Bearer.
func (o Origin) DPoP() bool { return o.dpop }

// Request is the request that carried the token; nil for Verify.
func (o Origin) Request() *http.Request { return o.r }

// URI is the request's URI without query as the client used it: scheme and
// host forwarded by a trusted proxy (X-Forwarded-Proto, -Host), else its own.
func (o Origin) URI() string {
	if o.r == nil {
		return ""
	}
	return o.a.trustedProxies.RequestURI(o.r)
}

// ViaTrustedProxy reports whether Request's direct peer is one of
// Config.TrustedProxies (whose forwarded headers count).
func (o Origin) ViaTrustedProxy() bool {
	return o.r != nil && o.a.trustedProxies.TrustsPeer(o.r)
}

// Addr is the key of the caller's address.
func (o Origin) Addr() string {
	if o.r != nil {
		return o.a.trustedProxies.KeyOf(o.r, o.a.addrFunc)
	}
	return clientaddr.Key(o.remoteAddr)
}

// ClientChecker checks client ids and secrets (Config.Clients; a
// *clientauth.Checker is one). CheckClient returns the caller that id and
// secret name, for a request from addr (failures count against it: an IP,
// IPv6 by its /64), and whether its cache answered; the Principal may be
// shared (the core sets a copy's Method to MethodCredentials). Every
// refusal is an *Error: invalid_client (401), too_many_requests (429) or
// temporarily_unavailable (503; its Err wraps ErrVerifierBusy when no
// capacity was left); any other error is answered as 503. The core also
// uses StoreErrors() uint64 and Close() error of a checker that has them.
type ClientChecker interface {
	CheckClient(ctx context.Context, id, secret, addr string) (p *Principal, cached bool, err error)
}

// NewPrincipal returns a Principal of method for a method to fill in;
// claims is the verified claims set as a JSON object ("" for none), which
// Principal.Claim, Claims and DecodeClaims decode afresh on every call.
func NewPrincipal(method Method, claims string) *Principal {
	return &Principal{Method: method, payload: claims}
}

// Errors a client verifier (clientauth.Verifier) wraps.
var (
	// ErrInvalidClient is wrapped by every verifier error that means the
	// client id and secret are not good (unknown client, wrong secret,
	// disabled client); the response never says which.
	ErrInvalidClient = errors.New("invalid client")
	// ErrVerifierBusy is wrapped by a verifier error that means the check
	// could not run for want of capacity (a registry whose hash slots stayed
	// taken): answered 503 with Retry-After, and, as nothing was checked,
	// not counted against the caller's failure budget.
	ErrVerifierBusy = errors.New("dualauth: too many credential checks in progress")
)

// The longest client id and secret a request may present: longer ones are
// refused as an invalid client before any verifier sees them.
const (
	MaxClientIDBytes = 256
	MaxSecretBytes   = 1024
)

// CacheStatus reports a verified-token cache (health routes, metrics).
type CacheStatus struct {
	Entries   int    `json:"entries"`   // the tokens held
	Hits      uint64 `json:"hits"`      // lookups answered from memory
	Misses    uint64 `json:"misses"`    // lookups not answered from memory
	Evictions uint64 `json:"evictions"` // live entries dropped to make room at the bound
}

// cacheReporter and keyReporter are what the core reads of a verifier.
type (
	cacheReporter interface{ CacheStatus() CacheStatus }
	keyReporter   interface{ KeyStatus() map[string]jwks.Status }
	dpopVerifier  interface{ DPoPAlgorithms() (string, bool) }
)

// TokenCacheStatus reports the verified-token cache of Config.Tokens; all
// zero when it is off or Tokens has none.
func (a *Authenticator) TokenCacheStatus() CacheStatus {
	if c, ok := a.tokens.(cacheReporter); ok {
		return c.CacheStatus()
	}
	return CacheStatus{}
}

// KeyStatus reports every trusted issuer's key set, keyed by issuer, for
// health and readiness checks: Config.Tokens' answer, empty when none.
func (a *Authenticator) KeyStatus() map[string]jwks.Status {
	if k, ok := a.tokens.(keyReporter); ok {
		return k.KeyStatus()
	}
	return map[string]jwks.Status{}
}

// Verify checks a raw Bearer token with Config.Tokens and returns the
// caller it names; remoteAddr (as http.Request.RemoteAddr) is what failures
// count against where the verifier counts them (opaque tokens). Every
// failure is an *Error: 401 invalid_token (its cause in Err, for logs), 429
// too_many_requests, or 503 temporarily_unavailable (package jwtauth says when).
func (a *Authenticator) Verify(ctx context.Context, raw, remoteAddr string) (*Principal, error) {
	return a.verify(ctx, raw, Origin{a: a, remoteAddr: remoteAddr}, false)
}

// verify is Verify, timed in keyward.verify.duration. A refused value of an
// Authorization header (bearer) outside RFC 6750's b64token syntax is
// invalid_request; the syntax is only looked at then, so that a cached
// token costs no scan.
func (a *Authenticator) verify(ctx context.Context, raw string, from Origin, bearer bool) (*Principal, error) {
	if a.tokens == nil {
		return nil, errInvalidToken("Bearer tokens are not accepted here", errors.New("dualauth: no token verifier is configured"))
	}
	start := a.tel.Begin(ctx)
	p, cached, err := a.tokens.VerifyToken(ctx, raw, from)
	a.tel.Verified(ctx, telemetry.JWT, cached, start)
	if err != nil {
		if at := authheader.NotToken68At(raw); bearer && at >= 0 {
			e := errInvalidRequest("the Bearer token has characters RFC 6750 does not allow")
			e.Err = fmt.Errorf("byte %d of the %d-byte Bearer value is outside the b64token syntax", at, len(raw))
			return nil, e
		}
		var e *Error
		if !errors.As(err, &e) || e == nil {
			return nil, errInvalidToken("", err)
		}
		return nil, e
	}
	if p == nil {
		return nil, errInvalidToken("", errors.New("dualauth: the token verifier returned no caller"))
	}
	p.by, p.Method = a.core, MethodJWT // the core says how, whatever the verifier wrote
	return p, nil
}

// VerifyClient checks a client id and secret as Authenticate checks client
// credentials (through Config.Clients, its cache and throttle), for a
// server that receives them elsewhere than in headers, such as a token
// endpoint reading a form. remoteAddr, as in http.Request.RemoteAddr, is
// what failures count against. Every failure is an *Error: invalid_client
// (401), too_many_requests (429) or temporarily_unavailable (503). Each
// call is counted in keyward.requests as a credentials request, with a span.
func (a *Authenticator) VerifyClient(ctx context.Context, id, secret, remoteAddr string) (*Principal, error) {
	ctx, span := a.tel.Start(ctx)
	var p *Principal
	var err error
	switch {
	case a.clients == nil:
		err = errUnavailable(errors.New("dualauth: client credentials are not configured"))
	case id == "" || secret == "":
		err = errInvalidClient(nil)
	default:
		p, err = a.checkClient(ctx, id, secret, clientaddr.Key(remoteAddr))
	}
	a.tel.request(span, telemetry.Credentials, p, err)
	return p, err
}

// checkClient bounds the pair's size before any hashing, then checks it,
// and counts the check.
func (a *Authenticator) checkClient(ctx context.Context, id, secret, addr string) (p *Principal, err error) {
	start := a.tel.Begin(ctx)
	var cached bool
	if len(id) > MaxClientIDBytes || len(secret) > MaxSecretBytes {
		err = errInvalidClient(nil)
	} else if p, cached, err = a.clients.CheckClient(ctx, id, secret, addr); err != nil {
		var e *Error
		if !errors.As(err, &e) || e == nil {
			e = errUnavailable(err)
		}
		p, err = nil, e
	} else if p == nil {
		err = errUnavailable(errors.New("dualauth: the client checker returned no caller"))
	} else {
		p = p.clone() // the checker's may be shared
		p.by, p.Method = a.core, MethodCredentials
	}
	a.tel.checkedClient(err)
	a.tel.Verified(ctx, telemetry.Credentials, cached, start)
	return p, err
}
