package jwks

import (
	"context"
	"errors"
	"fmt"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Keyfunc returns the function golang-jwt calls to pick the key for a token,
// for a request with ctx. It never blocks on the network.
//
// A token with a "kid" gets the key of that kid (through keyfunc) if it fits
// the token's "alg" and the JWK's own "alg", if any; ErrKeyMismatch if it
// does not; ErrUnknownKey if the kid is not in the set, in which case a
// background refresh may be started: at most 3 back to back, then one per
// Options.UnknownKIDInterval, and none for a kid that a fetch started after an
// earlier lookup of it did not find, until UnknownKIDInterval has passed since
// that fetch. A token without a "kid" (or with an empty one) gets every key of
// the set that fits its "alg", or ErrNoKeys. An empty set answers ErrNoKeys
// and starts a refresh under the same limit.
func (r *Remote) Keyfunc(ctx context.Context) jwt.Keyfunc {
	lookup := r.kf.KeyfuncCtx(ctx)
	return func(token *jwt.Token) (any, error) {
		alg, kid, err := parseHeader(token)
		if err != nil {
			return nil, err
		}
		ix := r.store.keys()
		if ix.len() == 0 {
			r.requestRefresh("")
			return nil, ErrNoKeys
		}
		if kid == "" {
			return ix.forAlg(alg)
		}
		key, err := lookup(token)
		if errors.Is(err, jwkset.ErrKeyNotFound) {
			r.requestRefresh(kid)
			return nil, ErrUnknownKey
		}
		usable, total := ix.forKID(alg, kid)
		if err == nil && total <= 1 {
			if !fits(alg, key) {
				return nil, ErrKeyMismatch
			}
			return key, nil
		}
		// keyfunc refused the key (its JWK "alg" differs from the token's),
		// or several keys share the kid (RFC 7517 allows that across key
		// types): offer those that fit.
		if len(usable) == 0 {
			return nil, ErrKeyMismatch
		}
		return jwt.VerificationKeySet{Keys: usable}, nil
	}
}

// parseHeader returns the token's "alg" and "kid" ("" if absent or empty).
// Only these two header parameters are read: "jku", "x5u", "jwk" and "x5c"
// are never used to find a key.
func parseHeader(token *jwt.Token) (alg, kid string, err error) {
	if token == nil {
		return "", "", fmt.Errorf("%w: no token", errHeader)
	}
	alg, ok := token.Header["alg"].(string)
	if !ok {
		return "", "", fmt.Errorf(`%w: "alg" is not a string`, errHeader)
	}
	if v, present := token.Header[jwkset.HeaderKID]; present {
		if kid, ok = v.(string); !ok {
			return "", "", fmt.Errorf(`%w: "kid" is not a string`, errHeader)
		}
	}
	return alg, kid, nil
}
