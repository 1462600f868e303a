package dualauth

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward/exchange"
)

// Defaults of Credentials fields left zero.
const (
	DefaultClientIDHeader     = "client_id"
	DefaultClientSecretHeader = "client_secret"
	DefaultCacheTTL           = 5 * time.Minute
	DefaultMaxClientFailures  = 10
	DefaultMaxAddrFailures    = 50
	DefaultThrottleWindow     = time.Minute
)

// Longest client id and secret read from a request; longer ones are refused
// before any hashing.
const (
	maxClientIDBytes = 256
	maxSecretBytes   = 1024
)

// Credentials configures client-credential authentication: a client id and
// secret in two request headers (as Decentro's APIs take them) or in HTTP
// Basic (RFC 6749 §2.3.1). The zero value, with a Verifier or an Exchange,
// is useful.
type Credentials struct {
	// ClientIDHeader and ClientSecretHeader name the request headers; ""
	// means DefaultClientIDHeader and DefaultClientSecretHeader.
	ClientIDHeader     string
	ClientSecretHeader string
	// DisableBasic turns off "Authorization: Basic", which is accepted by
	// default.
	DisableBasic bool
	// Verifier checks a client id and secret, for example a registry of
	// hashed secrets (RegistryVerifier). Set Verifier or Exchange, not both.
	Verifier ClientVerifier
	// Exchange, instead of a Verifier, trades the presented credentials for
	// an access token at the authorization server's token endpoint (RFC 6749
	// §4.4) and verifies that token like a Bearer token, so that both
	// methods yield the same Principal. Its issuer must be one of
	// Config.Issuers.
	Exchange *exchange.Client
	// CacheTTL is how long a verified id and secret are remembered (under an
	// HMAC keyed with a per-process random key, never in the clear); 0 means
	// DefaultCacheTTL and a negative value turns the cache off. An exchanged
	// token is remembered until 30 seconds before it expires instead.
	CacheTTL time.Duration
	// Throttle bounds online guessing.
	Throttle Throttle
	// ClientAddr returns the address failures are counted against; nil
	// means the host of r.RemoteAddr. Behind a trusted proxy, return the
	// address it forwards.
	ClientAddr func(r *http.Request) string
}

// Throttle bounds failed credential checks. When a client id has failed too
// often from one address, or an address too often in all, in the current
// window, further checks from that address are answered 429 with
// Retry-After until the window ends. IPv6 addresses count by their /64. A
// pair that verified within the last 24 hours is never held back.
type Throttle struct {
	// MaxClientFailures per client id from one address per window; 0 means
	// DefaultMaxClientFailures.
	MaxClientFailures int
	// MaxAddrFailures per address per window; 0 means DefaultMaxAddrFailures.
	MaxAddrFailures int
	// Window is how long failures are counted; 0 means DefaultThrottleWindow.
	Window time.Duration
}

// ClientVerifier checks a client id and secret and returns the caller, or
// an error wrapping ErrInvalidClient when they are not good. Other errors
// mean the check could not be made (answered 503). Implementations compare
// secrets in constant time and never put secrets in errors.
type ClientVerifier interface {
	VerifyClient(ctx context.Context, clientID, secret string) (*Principal, error)
}

// Generational is implemented by a ClientVerifier whose answers can change,
// such as a registry that reloads its file: when Generation changes, every
// cached verification is dropped.
type Generational interface {
	Generation() uint64
}
