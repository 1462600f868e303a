package jwtverify

import (
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keyward/keyward/internal/jsonobject"
)

// maxMethodsNamed bounds the confirmation methods a cause names.
const maxMethodsNamed = 4

// The confirmation methods (cnf members) this server can check.
const (
	memberJKT = "jkt"      // a DPoP key's thumbprint, RFC 9449 §6.1
	memberX5T = "x5t#S256" // a client certificate's thumbprint, RFC 8705 §3.1
)

// checkConfirmation checks a sender-constrained token's cnf claim (RFC
// 7800), the last of its cnf members, and returns the thumbprint of the
// DPoP key (cnf.jkt, RFC 9449 §6.1) or of the client certificate
// (cnf."x5t#S256", RFC 8705 §3.1) it binds the token to. Such a token is
// bound to a key — a DPoP key's thumbprint, a client certificate's, a
// JWK, an encrypted JWK or a key set URL (jwk, jwe, jku, kid) — and is
// meant to be accepted only from whoever proves they hold that key. The
// proofs this server checks are a DPoP proof, when jkt is on
// (Config.AcceptJKT), and the TLS client certificate, when x5t is on
// (Config.AcceptX5T): then a cnf that is exactly one object with exactly
// one member, jkt or x5t#S256, a base64url SHA-256 thumbprint (43
// characters), is accepted and its thumbprint returned, for the caller to
// check the proof against. Every other cnf is refused (401
// invalid_token): accepting it would let a stolen bound token work here
// as a plain Bearer token.
//
//   - an object naming another confirmation method, or jkt and x5t#S256
//     together (RFC 7800 §3.1: a cnf holds one key; which would the
//     issuer mean?), or one that is off: the binding cannot be checked;
//   - an empty object: it binds nothing, which no issuer means to write, and
//     accepting it would let a token pass whose duplicate cnf members
//     ("cnf":{"jkt":…},"cnf":{}) read as bound to a parser that keeps the
//     first and as empty to one that keeps the last, as the claims decoder
//     here does (RFC 7519 §4 allows either);
//   - with either on, two cnf members (count is how many the claims set
//     has), or the member twice in one: parsers that keep the first and
//     the last would bind the token to different keys, or to none;
//   - anything else (null, a string, an array, a thumbprint that is no
//     thumbprint…): malformed.
//
// So the one cnf accepted reads alike whichever duplicate a decoder keeps,
// and whatever else carries the name is refused.
func checkConfirmation(v jsonobject.Value, count int, jkt, x5t bool) (jktThumbprint, x5tThumbprint string, _ *Error) {
	const malformed = "the access token's cnf claim is malformed"
	if v.Kind() != jsonobject.Object {
		return "", "", invalid(malformed, notA("cnf", "an object", v.Decode()))
	}
	if (jkt || x5t) && count > 1 {
		return "", "", invalid(malformed, causef("the claims set has %d cnf members", count))
	}
	names := map[string]int{}
	var thumbprint jsonobject.Value
	_ = jsonobject.Members(v.Raw(), func(name string, m jsonobject.Value) { // valid: part of a valid object
		names[name]++
		thumbprint = m // the one member, when it is accepted
	})
	var method string
	for name := range names {
		method = name
	}
	switch {
	case len(names) == 0:
		return "", "", invalid(malformed, causef("cnf is an empty object: it binds the token to nothing"))
	case len(names) > 1 || !(method == memberJKT && jkt || method == memberX5T && x5t):
		methods := slices.Sorted(maps.Keys(names))
		quoted := make([]string, 0, maxMethodsNamed)
		for _, name := range methods[:min(len(methods), maxMethodsNamed)] {
			quoted = append(quoted, fmt.Sprintf("%.32q", name))
		}
		return "", "", invalid("the access token is bound to a key (cnf), and this server cannot verify that binding",
			fmt.Errorf("cnf names %d confirmation method(s) this server does not verify: %s", len(methods), strings.Join(quoted, ", ")))
	case names[method] > 1:
		return "", "", invalid(malformed, causef("cnf has %d %s members", names[method], method))
	}
	s, ok := thumbprint.Text()
	if !ok || !isThumbprint(s) {
		return "", "", invalid(malformed, causef("cnf.%s is not the base64url encoding of a SHA-256 thumbprint", method))
	}
	if method == memberJKT {
		return s, "", nil
	}
	return "", s, nil
}

// isThumbprint reports whether s is 32 bytes in unpadded base64url, as an
// RFC 7638 SHA-256 thumbprint is written, in its one spelling (strict:
// no line breaks, no stray bits).
func isThumbprint(s string) bool {
	if len(s) != 43 || strings.ContainsAny(s, "\r\n") {
		return false
	}
	n, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(n) == 32
}
