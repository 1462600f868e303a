// Package jwks provides the verification keys of trusted token issuers for
// OAuth 2.0 resource servers.
//
// A [Set] holds the keys of exactly one issuer and hands golang-jwt a
// [jwt.Keyfunc] that picks the key for a token. Three kinds of sets exist:
//
//   - [Remote], created by [NewRemote], fetches a JWK Set (RFC 7517) from a
//     URL and keeps it fresh in one background goroutine.
//   - [Remote], created by [NewDiscovered], finds the JWK Set URL through
//     OpenID Connect Discovery or RFC 8414 authorization server metadata.
//   - [Static], created by [NewStatic], [ParsePEM] or [LoadPEMFile], holds
//     fixed public keys for issuers that publish no JWK Set.
//
// Keys are matched to a token's "alg" header strictly: RSA keys of 2048 to
// 8192 bits for RS* and PS*, the right NIST curve for ES256/ES384/ES512 and
// Ed25519 for EdDSA. Symmetric algorithms and "none" never get a key, and the
// "jku", "x5u", "jwk" and "x5c" header parameters are never used to find one.
//
// A Remote never blocks a request on the network: a token whose "kid" is not
// in the set is refused at once with [ErrUnknownKey] and may start a refresh in
// the background: at most 3 back to back, then one per
// [Options.UnknownKIDInterval].
//
// JWK Set members are read and validated with github.com/MicahParks/jwkset.
// Each load builds an immutable index of the keys, so that a request does at
// most one map lookup and allocates nothing.
package jwks

import (
	"context"
	"errors"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Set is the verification keys of one trusted issuer.
type Set interface {
	// Keyfunc returns the function golang-jwt calls to pick the key for a
	// token, for a request with ctx. The keys it returns are shared by all
	// requests and must not be modified.
	Keyfunc(ctx context.Context) jwt.Keyfunc
	// Status reports the set's state for health checks.
	Status() Status
}

// Status of a key set. Its JSON form uses snake_case keys and omits empty
// times and errors.
type Status struct {
	// Source is the JWKS URL, the issuer (discovery) or the PEM file path.
	Source string `json:"source"`
	// Keys is the number of signature keys currently held.
	Keys int `json:"keys"`
	// Skipped is the number of keys of the last loaded JWK Set that were
	// ignored as unreadable (unsupported type or curve, malformed or invalid
	// parameters) or unsafe (RSA above 8192 bits). Encryption and symmetric
	// keys, which never verify a token, are not counted.
	Skipped int `json:"skipped,omitempty"`
	// LastRefresh is the time of the last successful load (zero if never).
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	// LastAttempt is the time the last load attempt ended.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastError is safe text describing the last failed attempt; it never
	// contains response bodies. It is "" if the last attempt succeeded.
	LastError string `json:"last_error,omitempty"`
}

var (
	_ Set = (*Remote)(nil)
	_ Set = (*Static)(nil)
)

var (
	// ErrUnknownKey means the token's "kid" is not in the set. For a Remote a
	// background refresh may have been started; a retry after it completes can
	// succeed.
	ErrUnknownKey = errors.New("jwks: unknown key id")
	// ErrNoKeys means the set holds no key that fits the token's "alg", or no
	// keys at all.
	ErrNoKeys = errors.New("jwks: no key fits the token")
	// ErrKeyMismatch means the key named by the token's "kid" does not fit the
	// token's "alg" (wrong key type, curve or size, or a JWK "alg" that differs).
	ErrKeyMismatch = errors.New("jwks: key does not fit the token algorithm")

	// errHeader is the error of a token header whose "alg" or "kid" is malformed.
	errHeader = errors.New("jwks: malformed token header")
)
