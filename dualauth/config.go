package dualauth

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/net/http/httpguts"

	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clientcheck"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/fielderr"
	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/internal/throttle"
	"github.com/keyward/keyward/jwks"
)

// Mode says which authentication methods a route accepts.
type Mode string

// Modes.
const (
	// ModeJWT accepts only Bearer JWTs.
	ModeJWT Mode = "jwt"
	// ModeCredentials accepts only client credentials.
	ModeCredentials Mode = "credentials"
	// ModeDual accepts either.
	ModeDual Mode = "dual"
)

func (m Mode) allowsJWT() bool         { return m == ModeJWT || m == ModeDual }
func (m Mode) allowsCredentials() bool { return m == ModeCredentials || m == ModeDual }

// allows reports whether a route in mode m accepts a caller who
// authenticated with method.
func (m Mode) allows(method Method) bool {
	return method == MethodJWT && m.allowsJWT() || method == MethodCredentials && m.allowsCredentials()
}

// NoLeeway, as Config.Leeway, allows no clock skew at all.
const NoLeeway time.Duration = -1

// MaxLeeway is the largest Config.Leeway: a larger clock skew would keep
// expired tokens alive.
const MaxLeeway = jwtverify.MaxLeeway

// The client credential headers where Credentials names none.
const (
	DefaultClientIDHeader     = "client_id"
	DefaultClientSecretHeader = "client_secret"
)

const defaultRealm = "api"

// Config configures an Authenticator. The zero value of every field but
// Issuers (or Credentials, in ModeCredentials) is useful.
type Config struct {
	// Mode is which methods are accepted; "" means ModeJWT.
	Mode Mode
	// Realm is the realm named in WWW-Authenticate challenges; "" means "api".
	Realm string
	// Issuers are the trusted token issuers, each with its own key set:
	// required unless Mode is ModeCredentials with a Credentials.Verifier.
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
	// AuthenticatePreflight makes CORS preflight requests (OPTIONS with
	// Origin and Access-Control-Request-Method) authenticate like any
	// other. By default they pass unauthenticated, since browsers send them
	// without credentials (Fetch standard); see Authenticator.Preflight.
	AuthenticatePreflight bool
	// Now is the clock of every time-dependent decision (token expiry, cache
	// lifetimes, throttle windows); nil means time.Now.
	Now func() time.Time
	// Logger receives verification failures at debug level (never tokens or
	// secrets); nil means no logging.
	Logger *slog.Logger
	// Credentials configures client credentials, which ModeCredentials and
	// ModeDual need.
	Credentials Credentials
	// MeterProvider receives the Authenticator's metrics (keyward.requests
	// and the others README lists); nil means the global one
	// (otel.GetMeterProvider), which records nothing until the application
	// sets one. No exporter comes with this package.
	//
	// keyward.requests counts each request once, when the Authenticator
	// first decides on it: in Authenticate, in Authorize when the request's
	// context holds no Principal this Authenticator (in any mode) verified,
	// and in VerifyClient. So Authorize after Authenticate on one request
	// adds nothing, even when it refuses the caller's scopes: that request
	// stays counted as allowed. A route protected by Authorize (middleware
	// Require) alone counts its insufficient_scope refusals.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span named keyward.authenticate for each
	// request counted in keyward.requests, with the attributes
	// keyward.auth_method, keyward.outcome, keyward.code (when refused)
	// and, from the verified caller only, keyward.issuer and
	// keyward.client_id; never a token, a secret or a header. nil means the
	// global one
	// (otel.GetTracerProvider): no span is started until the application
	// sets it, nor with a no-op provider.
	TracerProvider trace.TracerProvider
}

// Issuer is one trusted authorization server.
type Issuer struct {
	// Issuer is the exact "iss" value its tokens carry.
	Issuer string
	// Audiences are the "aud" values this API accepts from the issuer; a
	// token's aud must contain at least one of them.
	Audiences []string
	// Keys verifies the issuer's signatures. If it has a Close method, as a
	// *jwks.Remote has, it is closed when the last Authenticator holding it
	// is closed, or by a New that fails (see New), or by Config.Close.
	Keys jwks.Set
}

// Credentials configures client-credential authentication: a client id and
// secret in two request headers (as Decentro's APIs take them) or in HTTP
// Basic (RFC 6749 §2.3.1). The zero value, with a Verifier or an Exchange,
// is useful.
type Credentials struct {
	// ClientIDHeader and ClientSecretHeader name the request headers; ""
	// means "client_id" and "client_secret".
	ClientIDHeader     string
	ClientSecretHeader string
	// DisableBasic turns off "Authorization: Basic", which is accepted by
	// default.
	DisableBasic bool
	// Verifier checks a client id and secret, for example a registry of
	// hashed secrets (a *clients.Registry). Set Verifier or Exchange, not both.
	// If it has a Close() error method it is closed as Issuer.Keys is.
	Verifier ClientVerifier
	// Exchange, instead of a Verifier, trades the presented credentials for
	// an access token at the authorization server's token endpoint (RFC 6749
	// §4.4) and verifies that token like a Bearer token, so that both
	// methods yield the same Principal. Its issuer must be one of
	// Config.Issuers.
	Exchange *exchange.Client
	// CacheTTL is how long a verified id and secret are remembered (under an
	// HMAC keyed with a per-process random key, never in the clear); 0 means
	// 5 minutes and a negative value turns the cache off. An exchanged token
	// is remembered until 30 seconds before it expires instead.
	CacheTTL time.Duration
	// Throttle bounds online guessing.
	Throttle Throttle
	// TrustedProxies are the proxies and load balancers in front of the
	// API. When a request comes from one of them, its failures are counted
	// against the client address the proxies forwarded (X-Forwarded-For:
	// the right-most address that is not a trusted proxy) instead of the
	// proxy's. Empty: the peer address is always used.
	TrustedProxies []netip.Prefix
	// ClientAddr, if set, returns the address failures are counted against
	// instead (normalized like the others: IPv4-mapped IPv6 as IPv4, IPv6 by
	// its /64).
	ClientAddr func(r *http.Request) string
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

// ClientVerifier checks a client id and secret and returns the caller, or
// an error wrapping ErrInvalidClient when they are not good. Other errors
// mean the check could not be made (answered 503; one wrapping
// ErrVerifierBusy is not counted against the caller). Implementations
// compare secrets in constant time and never put secrets in errors. A
// *clients.Registry is one.
//
// A verifier whose answers can change, such as a registry that reloads its
// file, may also have a method Generation() uint64: whenever its value
// changes, every cached verification is dropped.
type ClientVerifier interface {
	VerifyClient(ctx context.Context, clientID, secret string) (*Principal, error)
}

// ConfigError is the error Validate and New return for a Config they cannot
// accept; package forwardauth's Config is refused with it too.
type ConfigError struct {
	// Package is the package whose Config is at fault: "" for dualauth,
	// "forwardauth" for forwardauth.Config.
	Package string
	// Field is the Config field at fault as a Go selector path, such as
	// "Realm", "Algorithms[2]" or "Issuers[0].Audiences[1]".
	Field string
	// Reason says what is wrong with it. It may name other fields, such as
	// Issuers[1] or Routes[2].
	Reason string
}

// Error returns the package ("dualauth" unless Package says otherwise), the
// field and the reason.
func (e *ConfigError) Error() string {
	return cmp.Or(e.Package, "dualauth") + ": " + e.Field + ": " + e.Reason
}

func configErr(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks c as New does, without building anything; Issuer.Keys may
// still be nil (New refuses that). Every error is a *ConfigError.
func (c Config) Validate() error {
	mode := cmp.Or(c.Mode, ModeJWT)
	if !mode.allowsJWT() && !mode.allowsCredentials() {
		return configErr("Mode", "unknown mode %s (use jwt, credentials or dual)", excerpt.Quote(string(c.Mode)))
	}
	if strings.ContainsAny(c.Realm, "\"\\\r\n") {
		return configErr("Realm", "may not contain quotes, backslashes or line breaks")
	}
	if err := c.Credentials.validate(mode); err != nil {
		return err
	}
	if len(c.Issuers) == 0 && (mode.allowsJWT() || c.Credentials.Exchange != nil) {
		switch {
		case c.Credentials.Exchange != nil:
			return configErr("Issuers", "at least one issuer is required: the token credentials.exchange obtains is verified through them")
		case mode == ModeDual:
			return configErr("Issuers", "at least one issuer is required: mode dual accepts Bearer tokens too")
		}
		return configErr("Issuers", "at least one issuer is required")
	}
	return fieldErr("", c.jwtConfig().Validate())
}

// jwtConfig is what the JWT method (package internal/jwtverify) is built
// from.
func (c Config) jwtConfig() jwtverify.Config {
	issuers := make([]jwtverify.Issuer, len(c.Issuers))
	for i, iss := range c.Issuers {
		issuers[i] = jwtverify.Issuer(iss)
	}
	return jwtverify.Config{
		Issuers: issuers, Algorithms: c.Algorithms, Leeway: c.Leeway, ScopeClaims: c.ScopeClaims,
		RequireType: c.RequireType, MaxTokenBytes: c.MaxTokenBytes, Cache: jwtverify.CacheConfig(c.TokenCache),
		Now: c.Now, Logger: c.Logger,
	}
}

// fieldErr is err, a method's *fielderr.Error, as a *ConfigError of the
// field under prefix; any other error as it is.
func fieldErr(prefix string, err error) error {
	var fe *fielderr.Error
	if errors.As(err, &fe) {
		return configErr(prefix+fe.Field, "%s", fe.Reason)
	}
	return err
}

// validate checks the credentials against the mode, which needs them
// (credentials, dual) or may use them on some routes (jwt).
func (c Credentials) validate(mode Mode) error {
	configured := c.Verifier != nil || c.Exchange != nil
	switch {
	case c.Verifier != nil && c.Exchange != nil:
		return configErr("Credentials", "sets a verifier and an exchange; use exactly one of them")
	case mode.allowsCredentials() && !configured:
		return configErr("Credentials", "is required with mode %s: set a verifier (clients_file) or an exchange", mode)
	case !configured:
		return nil
	}
	if err := c.checkerConfig(nil, nil, nil).Validate(); err != nil {
		return fieldErr("Credentials.", err)
	}
	id := cmp.Or(c.ClientIDHeader, DefaultClientIDHeader)
	secret := cmp.Or(c.ClientSecretHeader, DefaultClientSecretHeader)
	for _, h := range []struct{ field, name string }{
		{"Credentials.ClientIDHeader", id},
		{"Credentials.ClientSecretHeader", secret},
	} {
		switch {
		case !httpguts.ValidHeaderFieldName(h.name):
			return configErr(h.field, "%s is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", excerpt.Quote(h.name))
		case strings.EqualFold(h.name, "Authorization"):
			return configErr(h.field, "may not be Authorization, which carries Bearer tokens and HTTP Basic")
		}
	}
	if strings.EqualFold(id, secret) {
		field, other := "Credentials.ClientSecretHeader", "client_id_header"
		if c.ClientSecretHeader == "" {
			field, other = "Credentials.ClientIDHeader", "client_secret_header"
		}
		deflt := ""
		if c.ClientIDHeader == "" || c.ClientSecretHeader == "" {
			deflt = " by default"
		}
		return configErr(field, "%s is also %s%s (header names ignore case); use two different headers", excerpt.Quote(cmp.Or(c.ClientSecretHeader, c.ClientIDHeader)), other, deflt)
	}
	if c.Exchange != nil {
		var ee *exchange.ConfigError
		if err := c.Exchange.Validate(); errors.As(err, &ee) {
			return configErr("Credentials.Exchange."+ee.Field, "%s", ee.Reason)
		} else if err != nil {
			return configErr("Credentials.Exchange", "%s", strings.TrimPrefix(err.Error(), "exchange: "))
		}
	}
	return nil
}

// checkerConfig is what the client-credentials method (package
// internal/clientcheck) is built from, around verify.
func (c Credentials) checkerConfig(verify func(context.Context, string, string) (*Principal, error), now func() time.Time, logger *slog.Logger) clientcheck.Config[*Principal] {
	cc := clientcheck.Config[*Principal]{
		Verify:    verify,
		ExpiresAt: func(p *Principal) time.Time { return p.ExpiresAt },
		CacheTTL:  c.CacheTTL,
		Limits: throttle.Limits{
			MaxClientFailures: c.Throttle.MaxClientFailures,
			MaxAddrFailures:   c.Throttle.MaxAddrFailures,
			Window:            c.Throttle.Window,
		},
		Now: now,
	}
	if g, ok := c.Verifier.(interface{ Generation() uint64 }); ok {
		cc.Generation = g.Generation
	}
	if r := c.Throttle.Redis; r != nil {
		cc.Limits.Replicas, cc.PairKey = r.Replicas, r.PairKey
		cc.Redis = &throttle.RedisOptions{
			URL: r.URL, KeyPrefix: r.KeyPrefix, Timeout: r.Timeout, TLSConfig: r.TLSConfig, Logger: logger,
			MaxCounters: r.MaxCounters,
		}
	}
	return cc
}
