package dualauth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
)

// maxHeaderBytes caps the encoded JOSE header read by the pre-checks.
const maxHeaderBytes = 2048

// precheck looks at a token's size, shape, header and payload before any
// signature work: cheap refusals for what can never verify, so that hostile
// input costs little.
func (a *Authenticator) precheck(raw string) *Error {
	if len(raw) > a.maxTokenBytes {
		return errInvalidToken("the access token is too large", nil)
	}
	switch strings.Count(raw, ".") {
	case 2:
	case 4:
		return errInvalidToken("encrypted tokens (JWE) are not accepted", nil)
	default:
		return errInvalidToken("the access token is not a JWT", nil)
	}
	encHeader, rest, _ := strings.Cut(raw, ".")
	encPayload, _, _ := strings.Cut(rest, ".")
	if len(encHeader) > maxHeaderBytes {
		return errInvalidToken("the access token's header is too large", nil)
	}
	data, err := base64.RawURLEncoding.Strict().DecodeString(encHeader)
	if err != nil {
		return errInvalidToken("the access token's header is not base64url", nil)
	}
	// A map, not a struct: member names are case-sensitive (RFC 7515 §4),
	// and golang-jwt reads the header the same way, last duplicate winning.
	var h map[string]json.RawMessage
	if err := json.Unmarshal(data, &h); err != nil || h == nil {
		return errInvalidToken("the access token's header is malformed", nil)
	}
	var alg string
	switch {
	case h["alg"] == nil:
		return errInvalidToken("the access token's header names no algorithm", nil)
	case json.Unmarshal(h["alg"], &alg) != nil:
		return errInvalidToken("the access token's header is malformed", nil)
	case !slices.Contains(a.algorithms, alg):
		return errInvalidToken("the access token's signing algorithm is not accepted", nil)
	case h["crit"] != nil:
		// RFC 7515 §4.1.11: a recipient must reject a token whose critical
		// extensions it does not understand; this one understands none.
		return errInvalidToken("the access token has critical header extensions this server does not support", nil)
	case h["zip"] != nil || h["enc"] != nil:
		return errInvalidToken("encrypted or compressed tokens are not accepted", nil)
	}
	if e := a.checkType(h["typ"]); e != nil {
		return e
	}
	// RFC 7519 §7.2: the claims must be one complete JSON object; golang-jwt
	// would otherwise ignore whatever follows the first value.
	payload, err := base64.RawURLEncoding.Strict().DecodeString(encPayload)
	if err != nil || !json.Valid(payload) || !bytes.HasPrefix(bytes.TrimLeft(payload, " \t\r\n"), []byte("{")) {
		return errInvalidToken("the access token's claims are malformed", nil)
	}
	return nil
}

// checkType applies explicit typing (RFC 8725 §3.11, RFC 9068 §4). With a
// required type, typ must name it. Without one, typ may be absent, "JWT" or
// "at+jwt", and any other "+jwt" type (an ID token, a logout token, a DPoP
// proof…) is refused so that tokens of other kinds are never taken for access
// tokens.
func (a *Authenticator) checkType(raw json.RawMessage) *Error {
	var typ string
	if raw != nil && json.Unmarshal(raw, &typ) != nil {
		return errInvalidToken("the access token's typ header is malformed", nil)
	}
	t := canonicalType(typ)
	if a.requireType != "" {
		if t != a.requireType {
			return errInvalidToken("the access token's type is not "+a.requireType, nil)
		}
		return nil
	}
	if strings.HasSuffix(t, "+jwt") && t != "at+jwt" {
		return errInvalidToken("the token is not an access token", nil)
	}
	return nil
}

// canonicalType lowercases a media type and drops an "application/" prefix
// (RFC 7515 §4.1.9).
func canonicalType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	return strings.TrimPrefix(t, "application/")
}
