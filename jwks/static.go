package jwks

import (
	"context"
	"crypto"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Static is a fixed key set for an issuer that publishes no JWK Set. It
// ignores a token's "kid": every key that fits the token's "alg" is offered.
type Static struct {
	source string
	keys   *keyIndex
	loaded time.Time
}

// NewStatic returns a fixed set of keys; source names them in Status (for
// instance the issuer or a file path). Each key must be an *rsa.PublicKey of
// 2048 to 8192 bits, an *ecdsa.PublicKey on P-256, P-384 or P-521, or an
// ed25519.PublicKey. Private keys, other key types and an empty list are
// refused.
func NewStatic(source string, keys ...crypto.PublicKey) (*Static, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks: %s: %w", source, ErrNoKeys)
	}
	entries := make([]entry, 0, len(keys))
	for i, k := range keys {
		if err := checkStaticKey(k); err != nil {
			return nil, fmt.Errorf("jwks: %s: key %d: %w", source, i+1, err)
		}
		entries = append(entries, entry{key: k})
	}
	return &Static{source: source, keys: newKeyIndex(entries), loaded: time.Now()}, nil
}

// Keyfunc returns the function golang-jwt calls to pick the key for a token:
// the keys of the set that fit the token's "alg", or ErrNoKeys. The "kid"
// header is ignored.
func (s *Static) Keyfunc(context.Context) jwt.Keyfunc {
	return func(token *jwt.Token) (any, error) {
		if token == nil {
			return nil, fmt.Errorf("%w: no token", errHeader)
		}
		alg, ok := token.Header["alg"].(string)
		if !ok {
			return nil, fmt.Errorf(`%w: "alg" is not a string`, errHeader)
		}
		return s.keys.forAlg(alg)
	}
}

// Status reports the set: its keys, loaded once when it was created.
func (s *Static) Status() Status {
	return Status{Source: s.source, Keys: s.keys.len(), LastRefresh: s.loaded, LastAttempt: s.loaded}
}
