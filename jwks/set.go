package jwks

import (
	"context"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Set is the verification keys of one trusted issuer.
type Set interface {
	// Keyfunc returns the function golang-jwt calls to pick the key for a token, for a request with ctx.
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
