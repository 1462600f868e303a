package dualauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/clientcheck"
	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/internal/telemetry"
)

// The core reaches its two methods through these: the JWT method (package
// internal/jwtverify) and the client-credentials method (package
// internal/clientcheck). Each knows nothing of requests nor of Principal;
// this file turns their answers into Principals and *Errors.

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
	// CacheStatus.Evictions).
	MaxEntries int
	// MaxTTL bounds how long one verification is reused; 0 means 10
	// minutes. An entry never outlives its token's exp plus the leeway.
	MaxTTL time.Duration
}

// CacheStatus reports the verified-token cache, for health routes and
// metrics.
type CacheStatus struct {
	// Entries is the number of tokens held (at most TokenCache.MaxEntries).
	Entries int `json:"entries"`
	// Hits and Misses count the lookups answered from memory and not.
	Hits   uint64 `json:"hits"`
	Misses uint64 `json:"misses"`
	// Evictions counts live entries dropped to make room at the bound.
	Evictions uint64 `json:"evictions"`
}

// TokenCacheStatus reports the verified-token cache; all zero when it is
// off.
func (a *Authenticator) TokenCacheStatus() CacheStatus {
	var s CacheStatus
	s.Entries, s.Hits, s.Misses, s.Evictions = a.tokens.CacheStatus()
	return s
}

// Verify checks a raw Bearer token and returns the caller it names. Every
// failure is an *Error: 401 invalid_token with its cause in Err for logs,
// or 503 temporarily_unavailable when the issuer's keys cannot be fetched.
// A token with a cnf claim (a DPoP or certificate-bound token, RFC 7800) is
// refused: this server does not check the proof of possession such a token
// needs.
//
// A token that passed every check is remembered (see TokenCache) and, when
// presented again, answered from memory after its exp and nbf are checked
// again, as long as the key that verified it is still in its issuer's set.
func (a *Authenticator) Verify(ctx context.Context, raw string) (*Principal, error) {
	return a.verify(ctx, raw, false)
}

// verify is Verify, its duration recorded in keyward.verify.duration. For
// a value from an Authorization header (bearer), a refused token outside
// RFC 6750's b64token syntax is invalid_request: such a token never
// verifies, and the syntax is only looked at then, so that a token the
// cache holds costs no scan.
func (a *Authenticator) verify(ctx context.Context, raw string, bearer bool) (*Principal, error) {
	timing := a.tel.Timing(ctx)
	var start time.Duration
	if timing {
		start = telemetry.Monotonic()
	}
	c, cached, err := a.tokens.Verify(ctx, raw)
	if timing {
		a.tel.Verified(ctx, methodJWT, cached, start)
	}
	if err != nil {
		if at := notToken68At(raw); bearer && at >= 0 {
			e := errInvalidRequest("the Bearer token has characters RFC 6750 does not allow")
			e.Err = fmt.Errorf("byte %d of the %d-byte Bearer value is outside the b64token syntax", at, len(raw))
			return nil, e
		}
		var ve *jwtverify.Error
		if !errors.As(err, &ve) {
			return nil, errInvalidToken("", err)
		}
		if ve.Unavailable {
			e := errUnavailable(ve.Err)
			e.Description, e.RetryAfter = ve.Description, ve.RetryAfter
			return nil, e
		}
		return nil, errInvalidToken(ve.Description, ve.Err)
	}
	return &Principal{
		by:        a.core,
		Method:    MethodJWT,
		Subject:   c.Subject,
		ClientID:  c.ClientID,
		Issuer:    c.Issuer,
		Scopes:    c.Scopes,
		ExpiresAt: c.ExpiresAt,
		payload:   c.JSON,
	}, nil
}

// Errors a ClientVerifier wraps.
var (
	// ErrInvalidClient is wrapped by every ClientVerifier error that means
	// the client id and secret are not good (unknown client, wrong secret,
	// disabled client). The response never says which. A clients.Registry's
	// errors wrap it.
	ErrInvalidClient = clientcheck.ErrInvalidClient
	// ErrVerifierBusy is wrapped by a ClientVerifier error that means the
	// check could not run for want of capacity (such as a registry whose
	// hash slots stayed taken). It is answered 503 with Retry-After, and,
	// unlike other errors, does not count against the caller's failure
	// budget: nothing was checked.
	ErrVerifierBusy = clientcheck.ErrVerifierBusy
)

// The longest client id and secret a request may present: longer ones are
// refused as an invalid client before any verifier sees them.
const (
	MaxClientIDBytes = 256
	MaxSecretBytes   = 1024
)

// newClients builds the client-credentials method of cred around its
// verifier or exchange, for a's core.
func (a *Authenticator) newClients(cred Credentials, now func() time.Time) (*clientcheck.Checker[*Principal], error) {
	verify := a.exchangeVerify
	if cred.Exchange == nil {
		verify = cred.Verifier.VerifyClient
	}
	// What the checker keeps is a copy marked as this core's.
	stamped := func(ctx context.Context, id, secret string) (*Principal, error) {
		p, err := verify(ctx, id, secret)
		switch {
		case err != nil:
			return nil, err
		case p == nil:
			return nil, errors.New("dualauth: the client verifier returned no caller")
		}
		cp := p.clone()
		cp.Method, cp.by = MethodCredentials, a.core
		return cp, nil
	}
	checker, err := clientcheck.New(cred.checkerConfig(stamped, now, a.logger))
	return checker, fieldErr("Credentials.", err)
}

// exchangeVerify trades client credentials for an access token at the token
// endpoint and verifies it like a Bearer token.
func (a *Authenticator) exchangeVerify(ctx context.Context, id, secret string) (*Principal, error) {
	tok, err := a.exchange.Exchange(ctx, id, secret)
	if errors.Is(err, exchange.ErrRejected) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidClient, err)
	}
	var busy *exchange.RetryError
	if errors.As(err, &busy) {
		// The endpoint throttled this caller (429) or is overloaded (503):
		// pass its word on, with its Retry-After.
		wait := max(busy.RetryAfter, time.Second)
		if busy.Status == http.StatusTooManyRequests {
			e := errTooMany(wait)
			e.Err = err
			return nil, e
		}
		e := errUnavailable(err)
		e.RetryAfter = wait
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	p, err := a.Verify(ctx, tok.AccessToken)
	if err != nil {
		// The endpoint issued a token this server does not accept: a
		// configuration fault, not the client's.
		return nil, errUnavailable(fmt.Errorf("dualauth: the exchanged token did not verify: %w", err))
	}
	if p.ClientID != "" && p.ClientID != id {
		return nil, errUnavailable(errors.New("dualauth: the exchanged token names another client"))
	}
	p.ClientID = id
	return p, nil
}

// VerifyClient checks a client id and secret as Authenticate checks client
// credentials — through the configured verifier, with the verified-pair
// cache, the failure throttle and the bounds on checks in flight — for a
// server that receives the pair somewhere else than in request headers,
// such as a token endpoint reading it from a form or JSON body. remoteAddr
// is the caller's address as in http.Request.RemoteAddr, which failures
// are counted against. Every failure is an *Error: invalid_client (401),
// too_many_requests (429) or temporarily_unavailable (503). Each call is
// counted in keyward.requests as a credentials request, with a span.
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
	a.tel.request(span, methodCredentials, p, err)
	return p, err
}

// checkClient bounds the pair's size before any hashing, then checks it,
// and counts the check.
func (a *Authenticator) checkClient(ctx context.Context, id, secret, addr string) (*Principal, error) {
	timing := a.tel.Timing(ctx)
	var start time.Duration
	if timing {
		start = telemetry.Monotonic()
	}
	var p *Principal
	var cached bool
	var err error
	if len(id) > MaxClientIDBytes || len(secret) > MaxSecretBytes {
		err = errInvalidClient(nil)
	} else if p, cached, err = a.clients.Check(ctx, id, secret, addr); err == nil {
		p = p.clone() // the checker's is shared
	} else {
		err = clientRefusal(err)
	}
	a.tel.checkedClient(err)
	if timing {
		a.tel.Verified(ctx, methodCredentials, cached, start)
	}
	return p, err
}

// clientRefusal is the *Error of a client-credentials check that failed
// with err.
func clientRefusal(err error) *Error {
	var e *Error
	var ce *clientcheck.Error
	switch {
	case !errors.As(err, &ce):
		return errUnavailable(err)
	case ce.Kind == clientcheck.Invalid:
		return errInvalidClient(ce.Err)
	case ce.Kind == clientcheck.Throttled:
		return errTooMany(ce.RetryAfter)
	case errors.As(ce.Err, &e): // the verifier's own answer, such as an exchange's 429
		return e
	}
	e = errUnavailable(ce.Err)
	if ce.RetryAfter > 0 {
		e.RetryAfter = ce.RetryAfter
	}
	return e
}
