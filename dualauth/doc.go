// Package dualauth is Keyward's framework-free core: it takes an
// *http.Request, finds the caller's credentials, verifies them and returns
// the verified caller as a *Principal, or an *Error that says, in RFC 6750
// terms, what was wrong.
//
// The JWT path checks, in order: the token's size and shape (a JWS in compact
// form; JWE is refused), its header (algorithm allowlist, explicit type,
// critical extensions), the key set of the issuer the token names, the
// signature, and the claims (exp required, nbf and iat with leeway, exact iss,
// aud containing a configured audience).
//
// Nothing here knows of a web framework: package middleware adapts it to
// net/http and Echo.
package dualauth
