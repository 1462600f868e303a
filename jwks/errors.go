package jwks

import (
	"errors"
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

	// errClosed is returned by Refresh once the Remote has stopped.
	errClosed = errors.New("jwks: key set closed")
	// errBodyTooLarge is the error of a response body over Options.MaxBytes.
	errBodyTooLarge = errors.New("jwks: response body too large")
	// errPrivateKey is the error of a PEM block holding a private key.
	errPrivateKey = errors.New("private key refused: give the public key only")
	// errHeader is the error of a token header whose "alg" or "kid" is malformed.
	errHeader = errors.New("jwks: malformed token header")
)
