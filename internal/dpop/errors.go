package dpop

import (
	"errors"
	"net/http"
	"time"
)

// The error codes of RFC 9449 §7.1 and §9, and those of the refusals that
// are the server's trouble or the client's rate rather than a bad proof.
const (
	// CodeInvalidProof: the proof is missing, malformed, or fails a check.
	CodeInvalidProof = "invalid_dpop_proof"
	// CodeUseNonce: the proof lacks the server's nonce, or carries a stale
	// one; the answer carries a fresh nonce in a DPoP-Nonce header.
	CodeUseNonce = "use_dpop_nonce"
	// CodeTooManyRequests: the proof's key sent more proofs within the
	// replay window than the replay cache keeps for one key.
	CodeTooManyRequests = "too_many_requests"
	// CodeUnavailable: the replay store could not say whether the proof
	// was seen before (Redis down, or the memory cache full).
	CodeUnavailable = "temporarily_unavailable"
)

// Error is why a proof was refused: an HTTP status (401, 429 or 503), an
// error code, and a description safe to send to the client. Neither the
// description nor the cause holds the proof, the access token or any value
// read from them other than the names of the checks that failed.
type Error struct {
	// Status is 401 for a bad proof or a missing nonce, 429 when the key's
	// share of the replay cache is spent, 503 when the replay store could
	// not answer.
	Status int
	// Code is one of the Code constants.
	Code string
	// Description says what was wrong, for the client.
	Description string
	// RetryAfter, with 429 and 503, is how long to wait.
	RetryAfter time.Duration
	// Err is the cause, for logs and errors.Is; one of the checks' causes
	// (see the variables of export_test.go) or a replay store's error.
	Err error
}

// Error returns the code and description.
func (e *Error) Error() string { return "dpop: " + e.Code + ": " + e.Description }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func invalid(cause error, description string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidProof, Description: description, Err: cause}
}

// The causes, one per check, in the order Check makes them.
var (
	errHeaderCount  = errors.New("not exactly one DPoP header")
	errForm         = errors.New("not a JWS in compact form")
	errTyp          = errors.New("typ is not dpop+jwt")
	errCrit         = errors.New("crit names extensions")
	errAlg          = errors.New("alg not allowed")
	errNoJWK        = errors.New("no jwk header")
	errPrivateJWK   = errors.New("jwk holds private or symmetric key material")
	errJWK          = errors.New("jwk is not a usable public key")
	errKeyAlg       = errors.New("jwk does not fit alg")
	errSignature    = errors.New("signature does not verify")
	errClaims       = errors.New("claims are not a JSON object")
	errJTI          = errors.New("jti missing or too long")
	errHTM          = errors.New("htm differs from the request method")
	errHTU          = errors.New("htu differs from the request URI")
	errRequestURI   = errors.New("the request URI does not parse")
	errIATMissing   = errors.New("iat missing")
	errIATOld       = errors.New("iat too old")
	errIATFuture    = errors.New("iat in the future")
	errATHMissing   = errors.New("ath missing")
	errATH          = errors.New("ath differs from the access token's hash")
	errNonce        = errors.New("nonce missing or refused")
	errBoundKey     = errors.New("the proof's key is not the token's cnf.jkt")
	errReplayed     = errors.New("jti seen before")
	errKeyShareFull = errors.New("the key's share of the replay cache is full")
	errCacheFull    = errors.New("the replay cache is full")
)
