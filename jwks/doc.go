// Package jwks provides the verification keys of trusted token issuers for
// OAuth 2.0 resource servers.
//
// A [Set] holds the keys of exactly one issuer and hands golang-jwt a
// [jwt.Keyfunc] that picks the key for a token. Three kinds of sets exist:
//
//   - [Remote], created by [NewRemote], fetches a JWK Set (RFC 7517) from a
//     URL and keeps it fresh in one background goroutine.
//   - [Remote], created by [NewDiscovered], finds the JWK Set URL through
//     OpenID Connect Discovery or RFC 8414 authorization server metadata,
//     read again on the refresh schedule and when a fetch from it fails.
//   - [Static], created by [NewStatic], [ParsePEM] or [LoadPEMFile], holds
//     fixed public keys for issuers that publish no JWK Set.
//
// Keys are matched to a token's "alg" header strictly: RSA keys of 2048 to
// 8192 bits for RS* and PS*, the right NIST curve for ES256/ES384/ES512 and
// Ed25519 for EdDSA. Symmetric algorithms and "none" never get a key, and the
// "jku", "x5u", "jwk" and "x5c" header parameters are never used to find one.
//
// A token whose "kid" is not in a Remote's set may start a refresh: at most 3
// back to back, then one per [Options.UnknownKIDInterval], so that random key
// ids cost at most that many fetches. An issuer that publishes a new key and
// signs with it at once is common, so such a lookup waits for the refresh it
// started (or the one it joins: every lookup waiting on the same issuer shares
// one fetch), for at most [Options.UnknownKIDWait] (2s by default) and no
// longer than the request's context; a lookup that can neither start nor join
// one is refused at once with [ErrUnknownKey]. Every other lookup reads the keys held
// and never waits on the network.
//
// A Remote whose fetches fail keeps the keys it holds. If it holds no usable
// key because they failed (its key server has been down since it started, for
// instance), lookups answer [ErrUnavailable], the server's problem, not the
// token's: a resource server answers 503 rather than 401. The first load that
// succeeds after failures is logged at info level.
//
// [Remote.Key] and [Static.Key] (the [KeyLookup] interface) find the key for
// a token's "alg" and "kid" without a [jwt.Keyfunc] or a [jwt.Token],
// allocating nothing unless they wait.
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
	// token, for a request with ctx: a Remote's may wait briefly for a
	// refresh, no longer than ctx lasts. The keys it returns are shared by
	// all requests and must not be modified.
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
	// parameters) or unsafe (RSA above 8192 bits or with the ROCA
	// fingerprint, CVE-2017-15361). Encryption and symmetric
	// keys, which never verify a token, are not counted.
	Skipped int `json:"skipped,omitempty"`
	// LastRefresh is the time of the last successful load (zero if never).
	LastRefresh time.Time `json:"last_refresh,omitzero"`
	// LastAttempt is the time the last load attempt ended.
	LastAttempt time.Time `json:"last_attempt,omitzero"`
	// LastError is safe text describing the last failed attempt; it never
	// contains response bodies. It is "" if the last attempt succeeded.
	LastError string `json:"last_error,omitempty"`
	// NextAttempt is when the next scheduled load is due: a retry after a
	// failure (backoff from 1s, doubling, capped at the refresh interval)
	// or the next periodic refresh. A lookup of an unknown key id or
	// Refresh may start one sooner. Zero for a Static set and for a Remote
	// that has stopped.
	NextAttempt time.Time `json:"next_attempt,omitzero"`
	// Refreshes and RefreshErrors count the load attempts of a Remote that
	// succeeded and that failed since it was created, the first fetch
	// included, for metrics (see package dualauth's keyward.jwks.refreshes).
	// Both stay zero for a Static set, which never loads again.
	Refreshes     uint64 `json:"refreshes,omitempty"`
	RefreshErrors uint64 `json:"refresh_errors,omitempty"`
}

// KeyLookup is implemented by the sets of this package, [Remote] and
// [Static]: Key(ctx, alg, kid) gives the answer Keyfunc(ctx)(token) gives
// for a token whose header has that "alg" and that "kid" ("" when it has
// none), without building a function for the request or a jwt.Token, so
// that a caller verifying many tokens allocates nothing to find a key. A
// header whose "alg" or "kid" is not a string has no answer here: ask
// Keyfunc.
type KeyLookup interface {
	Key(ctx context.Context, alg, kid string) (any, error)
}

var (
	_ Set       = (*Remote)(nil)
	_ Set       = (*Static)(nil)
	_ KeyLookup = (*Remote)(nil)
	_ KeyLookup = (*Static)(nil)
)

var (
	// ErrUnknownKey means the token's "kid" is not in the set. For a Remote
	// the lookup may have waited for a refresh (see Options.UnknownKIDWait),
	// or started one it could not wait for; a retry after it completes can
	// succeed.
	ErrUnknownKey = errors.New("jwks: unknown key id")
	// ErrUnavailable means a Remote holds no usable key because fetching
	// its keys failed: no load has succeeded yet, or the last attempt failed
	// while it held no usable key. The key server is at fault, not the
	// token: a retry after a successful load can succeed. It replaces
	// ErrUnknownKey, ErrNoKeys and ErrKeyMismatch in that state;
	// Status.LastError says why and Status.NextAttempt when the next
	// scheduled attempt is due.
	//
	// It also matches ErrNoKeys (errors.Is(ErrUnavailable, ErrNoKeys) is
	// true), which a Remote answered in that state before ErrUnavailable
	// existed, so that callers that know only ErrNoKeys still refuse the
	// token; callers that tell the two apart test ErrUnavailable first.
	ErrUnavailable error = unavailableError{}
	// ErrNoKeys means the set holds no key that fits the token's "alg", or no
	// keys at all.
	ErrNoKeys = errors.New("jwks: no key fits the token")
	// ErrKeyMismatch means the key named by the token's "kid" does not fit the
	// token's "alg" (wrong key type, curve or size, or a JWK "alg" that differs).
	ErrKeyMismatch = errors.New("jwks: key does not fit the token algorithm")

	// errHeader is the error of a token header whose "alg" or "kid" is malformed.
	errHeader = errors.New("jwks: malformed token header")
)

// unavailableError is the type of ErrUnavailable, which matches ErrNoKeys.
type unavailableError struct{}

func (unavailableError) Error() string { return "jwks: the issuer's keys could not be fetched" }

// Is reports whether target is ErrNoKeys.
func (unavailableError) Is(target error) bool { return target == ErrNoKeys }
