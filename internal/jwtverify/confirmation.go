package jwtverify

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// maxMethodsNamed bounds the confirmation methods a cause names.
const maxMethodsNamed = 4

// checkConfirmation refuses a sender-constrained token: one with a cnf claim
// (RFC 7800). Such a token is bound to a key — a DPoP key's thumbprint (jkt,
// RFC 9449), a client certificate's (x5t#S256, RFC 8705), a JWK, an
// encrypted JWK or a key set URL (jwk, jwe, jku, kid) — and is meant to be
// accepted only from whoever proves they hold that key. This server checks
// no such proof: it would accept the token from anyone who presents it, so
// that a stolen bound token would work here as a plain Bearer token. It is
// refused instead (401 invalid_token).
//
// Every cnf is refused, whatever its value:
//   - an object naming confirmation methods: the binding cannot be checked;
//   - an empty object: it binds nothing, which no issuer means to write, and
//     accepting it would let a token pass whose duplicate cnf members
//     ("cnf":{"jkt":…},"cnf":{}) read as bound to a parser that keeps the
//     first and as empty to one that keeps the last, as the claims decoder
//     here does (RFC 7519 §4 allows either);
//   - anything else (null, a string, an array…): malformed.
//
// Refusing on the presence of the name alone makes duplicates harmless:
// whichever member a decoder keeps, the token is refused. v is the cnf
// claim's value, decoded (the last of duplicates).
func checkConfirmation(v any) *Error {
	cnf, isObject := v.(map[string]any)
	switch {
	case !isObject:
		return invalid("the access token's cnf claim is malformed", notA("cnf", "an object", v))
	case len(cnf) == 0:
		return invalid("the access token's cnf claim is malformed", causef("cnf is an empty object: it binds the token to nothing"))
	}
	methods := slices.Sorted(maps.Keys(cnf))
	quoted := make([]string, 0, maxMethodsNamed)
	for _, name := range methods[:min(len(methods), maxMethodsNamed)] {
		quoted = append(quoted, fmt.Sprintf("%.32q", name))
	}
	return invalid("the access token is bound to a key (cnf), and this server cannot verify that binding",
		fmt.Errorf("cnf names %d confirmation method(s) this server does not verify: %s", len(methods), strings.Join(quoted, ", ")))
}
