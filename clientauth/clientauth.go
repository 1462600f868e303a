// Package clientauth is Keyward's client-credentials method: it checks a
// client id and secret, presented in two request headers or in HTTP Basic
// (RFC 6749 §2.3.1), through a Verifier (a registry of hashed secrets,
// package clients) or a token exchange, behind a cache of verified pairs
// and a throttle on failures, and answers package dualauth's core
// (dualauth.Config.Clients) with a *dualauth.Principal or a
// *dualauth.Error.
//
//	reg, err := clients.Open("clients.yaml", clients.Options{})
//	...
//	checker, err := clientauth.New(clientauth.Config{Verifier: reg})
//	...
//	a, err := dualauth.New(dualauth.Config{Mode: dualauth.ModeCredentials, Clients: checker})
package clientauth

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clientcheck"
	"github.com/keyward/keyward/internal/fielderr"
	"github.com/keyward/keyward/internal/shares"
	"github.com/keyward/keyward/internal/throttle"
)

// Verifier checks a client id and secret and returns the caller, or an
// error wrapping dualauth.ErrInvalidClient when they are not good. Other
// errors mean the check could not be made (answered 503; one wrapping
// dualauth.ErrVerifierBusy is not counted against the caller).
// Implementations compare secrets in constant time and never put secrets
// in errors. A *clients.Registry is one.
//
// A verifier whose answers can change, such as a registry that reloads its
// file, may also have a method Generation() uint64: whenever its value
// changes, every cached verification is dropped.
type Verifier interface {
	VerifyClient(ctx context.Context, clientID, secret string) (*dualauth.Principal, error)
}

// Config configures a Checker. The zero value, with a Verifier or an
// Exchange, is useful.
type Config struct {
	// Verifier checks a client id and secret, for example a registry of
	// hashed secrets (a *clients.Registry). Set Verifier or Exchange, not
	// both. If it has a Close() error method it is closed when the last
	// Checker holding it is closed, or by a New that fails (see New).
	Verifier Verifier
	// Exchange, instead of a Verifier, trades the presented credentials for
	// an access token at the authorization server's token endpoint (RFC 6749
	// §4.4) and verifies that token with Tokens, so that both methods yield
	// the same Principal.
	Exchange *exchange.Client
	// Tokens verifies the tokens Exchange obtains (a *jwtauth.Verifier
	// trusting the exchange's issuer): required with Exchange. New takes a
	// share of it, as of Verifier.
	Tokens dualauth.TokenVerifier
	// CacheTTL is how long a verified id and secret are remembered (under an
	// HMAC keyed with a per-process random key, never in the clear); 0 means
	// 5 minutes and a negative value turns the cache off. An exchanged token
	// is remembered until 30 seconds before it expires instead.
	CacheTTL time.Duration
	// Throttle bounds online guessing.
	Throttle Throttle
	// Now is the clock of cache lifetimes and throttle windows; nil means
	// time.Now.
	Now func() time.Time
	// Logger receives the Redis throttle store's messages (never secrets);
	// nil means no logging.
	Logger *slog.Logger
}

// Throttle bounds failed credential checks. When a client id has failed too
// often from one address, or an address too often in all, in the current
// window, further checks from that address are answered 429 with
// Retry-After until the window ends. IPv6 addresses count by their /64. A
// pair that verified within the last 24 hours is never held back.
type Throttle struct {
	// MaxClientFailures per client id from one address per window; 0 means 10.
	MaxClientFailures int
	// MaxAddrFailures per address per window; 0 means 50.
	MaxAddrFailures int
	// Window is how long failures are counted; 0 means one minute.
	Window time.Duration
	// Redis, if set, keeps the counts in a Redis server that every replica
	// shares, so that the limits hold across replicas. While it cannot
	// count a check, see RedisThrottle.Replicas.
	Redis *RedisThrottle
}

// RedisThrottle is the Redis a Throttle shares with other replicas. A
// program that sets it imports package redisthrottle, which links the Redis
// client (package config does).
type RedisThrottle struct {
	// URL is redis://[user:password@]host[:port][/db], or rediss:// for TLS.
	// The password is never logged.
	URL string
	// KeyPrefix starts every key written; "" means "keyward:".
	KeyPrefix string
	// Timeout bounds each call; 0 means 100ms.
	Timeout time.Duration
	// TLSConfig, if set, is used for a rediss:// URL (a private CA, a
	// client certificate).
	TLSConfig *tls.Config
	// PairKey, if set (at least 32 bytes, the same on every replica, never
	// written to Redis), shares the exemption of pairs that verified across
	// replicas; without it each replica remembers its own.
	PairKey []byte
	// MaxCounters bounds the failure counters kept in Redis (about 400
	// bytes each); 0 means 100,000. At the bound the counter whose window
	// ends first makes room, so a flood of addresses cannot fill Redis.
	MaxCounters int
	// Replicas says what happens while Redis cannot count a check (down,
	// or full): 0 refuses the check (503, retry in a second), except for
	// pairs known to have verified; N ≥ 1 lets each process count in its
	// own memory against 1/N of each budget, so that N replicas together
	// allow one budget during the outage (at most two in a window that
	// spans its start: what Redis counted is not seen in memory). Set it
	// to at least the number of replicas.
	Replicas int
}

// configErr is a *dualauth.ConfigError of this package.
func configErr(field, format string, args ...any) *dualauth.ConfigError {
	return &dualauth.ConfigError{Package: "clientauth", Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks c as New does, without connecting to anything. Every
// error is a *dualauth.ConfigError whose Package is "clientauth".
func (c Config) Validate() error {
	switch {
	case c.Verifier != nil && c.Exchange != nil:
		return configErr("Exchange", "is set with a Verifier; use exactly one of them")
	case c.Verifier == nil && c.Exchange == nil:
		return configErr("Verifier", "is required: set a Verifier (a registry of hashed secrets) or an Exchange")
	}
	if err := c.internal(nil).Validate(); err != nil {
		return configError(err)
	}
	if c.Exchange == nil {
		return nil
	}
	if c.Tokens == nil {
		return configErr("Tokens", "is required with Exchange: the token it obtains is verified through them")
	}
	var ee *exchange.ConfigError
	if err := c.Exchange.Validate(); errors.As(err, &ee) {
		return configErr("Exchange."+ee.Field, "%s", ee.Reason)
	} else if err != nil {
		return configErr("Exchange", "%s", strings.TrimPrefix(err.Error(), "exchange: "))
	}
	return nil
}

// configError is err, a *fielderr.Error, as a *dualauth.ConfigError; any
// other error as it is.
func configError(err error) error {
	var fe *fielderr.Error
	if errors.As(err, &fe) {
		return configErr(fe.Field, "%s", fe.Reason)
	}
	return err
}

// internal is what package internal/clientcheck is built from, around
// verify.
func (c Config) internal(verify func(context.Context, string, string) (*dualauth.Principal, error)) clientcheck.Config[*dualauth.Principal] {
	cc := clientcheck.Config[*dualauth.Principal]{
		Verify:    verify,
		ExpiresAt: func(p *dualauth.Principal) time.Time { return p.ExpiresAt },
		CacheTTL:  c.CacheTTL,
		Limits: throttle.Limits{
			MaxClientFailures: c.Throttle.MaxClientFailures,
			MaxAddrFailures:   c.Throttle.MaxAddrFailures,
			Window:            c.Throttle.Window,
		},
		Now: c.Now,
	}
	if g, ok := c.Verifier.(interface{ Generation() uint64 }); ok {
		cc.Generation = g.Generation
	}
	if r := c.Throttle.Redis; r != nil {
		cc.Limits.Replicas, cc.PairKey = r.Replicas, r.PairKey
		cc.Redis = &throttle.RedisOptions{
			URL: r.URL, KeyPrefix: r.KeyPrefix, Timeout: r.Timeout, TLSConfig: r.TLSConfig, Logger: c.Logger,
			MaxCounters: r.MaxCounters,
		}
	}
	return cc
}

// Checker checks client credentials for dualauth (a dualauth.ClientChecker):
// it answers from a cache of verified pairs when it can, coalesces
// concurrent checks of the same pair, bounds the checks in flight, and
// throttles failures. It is safe for concurrent use; Close it when done.
type Checker struct {
	checker  *clientcheck.Checker[*dualauth.Principal]
	exchange *exchange.Client
	tokens   dualauth.TokenVerifier
	release  func() error // gives back the share of the Verifier
	close    func() error // Close, once
}

var _ interface {
	dualauth.ClientChecker
	io.Closer
} = (*Checker)(nil)

// New checks cfg (see Validate) and returns a Checker for it. A Redis
// throttle store it opens connects on first use.
//
// New takes a share of cfg.Verifier if it has a Close() error method (as
// the one package config builds has), and with an Exchange of cfg.Tokens
// (as a *jwtauth.Verifier has), whether it succeeds or fails: each is
// closed when the last holder (a Checker, an Authenticator) lets it go, or
// at once if New fails and nothing else holds it.
func New(cfg Config) (*Checker, error) {
	var l shares.List
	if v, ok := cfg.Verifier.(io.Closer); ok {
		l = l.Add(v, v.Close)
	}
	if t, ok := cfg.Tokens.(io.Closer); ok && cfg.Exchange != nil {
		l = l.Add(t, t.Close) // the exchange verifies through it: closing another holder must not stop it
	}
	c := &Checker{exchange: cfg.Exchange, tokens: cfg.Tokens, release: sync.OnceValue(l.Hold())}
	if err := cfg.Validate(); err != nil {
		_ = c.release()
		return nil, err
	}
	verify := c.exchangeVerify
	if cfg.Exchange == nil {
		verify = cfg.Verifier.VerifyClient
	}
	// What the checker keeps is a copy of the method's own.
	stamped := func(ctx context.Context, id, secret string) (*dualauth.Principal, error) {
		p, err := verify(ctx, id, secret)
		switch {
		case err != nil:
			return nil, err
		case p == nil:
			return nil, errors.New("clientauth: the client verifier returned no caller")
		}
		cp := *p
		cp.Scopes, cp.Method = slices.Clone(p.Scopes), dualauth.MethodCredentials
		return &cp, nil
	}
	checker, err := clientcheck.New(cfg.internal(stamped))
	if err != nil {
		_ = c.release()
		return nil, configError(err)
	}
	c.checker = checker
	c.close = sync.OnceValue(func() error { return errors.Join(checker.Close(), c.release()) })
	return c, nil
}

// CheckClient checks id and secret for a request from addr (the key
// failures are counted under: an IP, IPv6 by its /64), through the cache,
// the throttle and the bounds on checks in flight; cached reports whether
// the cache answered. The Principal may be shared with other calls: copy
// it before changing it (dualauth's core does). Every failure is a
// *dualauth.Error: invalid_client (401), too_many_requests (429) or
// temporarily_unavailable (503).
func (c *Checker) CheckClient(ctx context.Context, id, secret, addr string) (*dualauth.Principal, bool, error) {
	p, cached, err := c.checker.Check(ctx, id, secret, addr)
	if err != nil {
		return nil, cached, refusal(err)
	}
	return p, cached, nil
}

// StoreErrors is the number of calls the Redis throttle store did not
// serve; 0 without one.
func (c *Checker) StoreErrors() uint64 { return c.checker.StoreErrors() }

// Close closes the Redis throttle store c opened, and gives back c's share
// of the Verifier, closing it if no other Checker holds it (the watcher of
// a clients file package config starts), and waits. Close is idempotent.
func (c *Checker) Close() error { return c.close() }

// exchangeVerify trades client credentials for an access token at the token
// endpoint and verifies it with c's token verifier.
func (c *Checker) exchangeVerify(ctx context.Context, id, secret string) (*dualauth.Principal, error) {
	tok, err := c.exchange.Exchange(ctx, id, secret)
	if errors.Is(err, exchange.ErrRejected) {
		return nil, fmt.Errorf("%w: %w", dualauth.ErrInvalidClient, err)
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
	p, _, err := c.tokens.VerifyToken(ctx, tok.AccessToken, dualauth.Origin{})
	if err != nil {
		// The endpoint issued a token this server does not accept: a
		// configuration fault, not the client's.
		return nil, errUnavailable(fmt.Errorf("clientauth: the exchanged token did not verify: %w", err))
	}
	if p.ClientID != "" && p.ClientID != id {
		return nil, errUnavailable(errors.New("clientauth: the exchanged token names another client"))
	}
	p.ClientID = id
	return p, nil
}

// refusal is the *dualauth.Error of a check that failed with err.
func refusal(err error) *dualauth.Error {
	var e *dualauth.Error
	var ce *clientcheck.Error
	switch {
	case !errors.As(err, &ce):
		return errUnavailable(err)
	case ce.Kind == clientcheck.Invalid:
		return &dualauth.Error{Status: http.StatusUnauthorized, Code: dualauth.CodeInvalidClient,
			Description: "the client credentials are not valid", Err: ce.Err}
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

func errUnavailable(cause error) *dualauth.Error {
	return &dualauth.Error{
		Status:      http.StatusServiceUnavailable,
		Code:        dualauth.CodeTemporarilyUnavailable,
		Description: "the credentials cannot be checked right now; retry later",
		RetryAfter:  5 * time.Second,
		Err:         cause,
	}
}

func errTooMany(retry time.Duration) *dualauth.Error {
	return &dualauth.Error{
		Status:      http.StatusTooManyRequests,
		Code:        dualauth.CodeTooManyRequests,
		Description: "too many failed authentication attempts; retry later",
		RetryAfter:  retry,
	}
}
