package jwtauth

import (
	"context"
	"net/http"
	"time"
)

// Client authentication methods of an Introspection (RFC 8414 names).
const (
	// ClientSecretBasic sends the client id and secret in HTTP Basic, each
	// form-encoded first (RFC 6749 §2.3.1).
	ClientSecretBasic = "client_secret_basic"
	// ClientSecretPost sends them as client_id and client_secret in the
	// form body.
	ClientSecretPost = "client_secret_post"
)

// Introspection is an issuer's token introspection endpoint (RFC 7662),
// which checks the issuer's opaque (reference) access tokens: a Bearer
// token that is not a JWS in compact form is opaque, and goes to the
// endpoint of the one issuer that introspects, or, when several do, to the
// one whose TokenPrefix it starts with (never to an endpoint it cannot
// belong to). The endpoint's answer is remembered (see IntrospectionCache)
// and an opaque token the endpoint does not know counts against the
// caller's address in Config.Throttle, as a wrong client secret does.
type Introspection struct {
	// Endpoint is the URL tokens are posted to (https, or http to a
	// loopback host). Empty means the "introspection_endpoint" of the
	// issuer's metadata (OpenID Connect Discovery or RFC 8414), read as
	// jwks.NewDiscovered reads its "jwks_uri".
	Endpoint string
	// ClientID and ClientSecret are this API's credentials at the
	// endpoint; both are required. The secret is never logged.
	ClientID     string
	ClientSecret string
	// AuthMethod is how they are sent: ClientSecretBasic (the default when
	// empty) or ClientSecretPost.
	AuthMethod string
	// TokenPrefix, if set, sends only the opaque tokens that start with it
	// to this endpoint. It is required when more than one issuer
	// introspects, and no issuer's prefix may start another's.
	TokenPrefix string
	// Timeout bounds one call to the endpoint; 0 means 2 seconds. An
	// endpoint that does not answer in time is answered 503.
	Timeout time.Duration
	// IntrospectJWTs sends the issuer's JWTs to the endpoint too, after
	// they verified here, so that a revoked JWT is refused as soon as the
	// cache lets go of it. False verifies them here alone.
	IntrospectJWTs bool
	// Cache configures the cache of the endpoint's answers, on by default.
	Cache IntrospectionCache
	// HTTPClient makes the calls; nil means a client of its own that
	// follows no redirects. Its Timeout, if shorter, also applies.
	HTTPClient *http.Client
}

// IntrospectionCache configures the cache of an endpoint's answers, keyed
// by the SHA-256 hash of the token (never the token) and the endpoint.
// Concurrent requests with one token the cache does not hold make one call.
// The zero value turns the cache on with the defaults.
type IntrospectionCache struct {
	// Disabled turns the cache off: every request calls the endpoint.
	Disabled bool
	// MaxTTL bounds how long an active answer is reused; 0 means 5
	// minutes. It is never reused past the token's exp.
	MaxTTL time.Duration
	// NegativeTTL is how long an inactive answer is reused; 0 means 10
	// seconds.
	NegativeTTL time.Duration
	// MaxEntries bounds the answers remembered; 0 means 100,000.
	MaxEntries int
}

// Throttle counts failed checks against the caller's address
// (Config.Throttle; a *clientauth.Guard is one).
type Throttle interface {
	// Admit reserves one failure of addr's budget before a check runs,
	// and done ends the check: done(true) leaves the failure counted,
	// done(false) takes it back. When the budget is spent, or the failure
	// cannot be counted, Admit returns a *dualauth.Error (429
	// too_many_requests or 503 temporarily_unavailable, with RetryAfter)
	// and the check does not run.
	Admit(ctx context.Context, addr string) (done func(failed bool), err error)
}
