package dualauth

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
)

// maxHeaderBytes caps the encoded JOSE header read by the pre-checks.
const maxHeaderBytes = 2048

// joseHeader is the part of a JWS header the pre-checks look at.
type joseHeader struct {
	Alg  *string         `json:"alg"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	Zip  json.RawMessage `json:"zip"`
	Enc  json.RawMessage `json:"enc"`
}

// precheck looks at a token's size, shape and header before any signature
// work: cheap refusals for what can never verify, so that hostile input
// costs little.
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
	encoded, _, _ := strings.Cut(raw, ".")
	if len(encoded) > maxHeaderBytes {
		return errInvalidToken("the access token's header is too large", nil)
	}
	data, err := base64.RawURLEncoding.Strict().DecodeString(encoded)
	if err != nil {
		return errInvalidToken("the access token's header is not base64url", nil)
	}
	var h joseHeader
	if err := json.Unmarshal(data, &h); err != nil {
		return errInvalidToken("the access token's header is malformed", nil)
	}
	switch {
	case h.Alg == nil:
		return errInvalidToken("the access token's header names no algorithm", nil)
	case !slices.Contains(a.algorithms, *h.Alg):
		return errInvalidToken("the access token's signing algorithm is not accepted", nil)
	case h.Crit != nil:
		// RFC 7515 §4.1.11: a recipient must reject a token whose critical
		// extensions it does not understand; this one understands none.
		return errInvalidToken("the access token has critical header extensions this server does not support", nil)
	case h.Zip != nil || h.Enc != nil:
		return errInvalidToken("encrypted or compressed tokens are not accepted", nil)
	}
	if e := a.checkType(h.Typ); e != nil {
		return e
	}
	return nil
}

// checkType applies explicit typing (RFC 8725 §3.11, RFC 9068 §4). With a
// required type, typ must name it. Without one, typ may be absent, "JWT" or
// "at+jwt", and any other "+jwt" type (an ID token, a logout token, a DPoP
// proof…) is refused so that tokens of other kinds are never taken for access
// tokens.
func (a *Authenticator) checkType(typ *string) *Error {
	if a.requireType != "" {
		if typ == nil || canonicalType(*typ) != a.requireType {
			return errInvalidToken("the access token's type is not "+a.requireType, nil)
		}
		return nil
	}
	if typ == nil {
		return nil
	}
	t := canonicalType(*typ)
	if strings.HasSuffix(t, "+jwt") && t != "at+jwt" {
		return errInvalidToken("the token is not an access token", nil)
	}
	return nil
}

// canonicalType lowercases a media type and drops an "application/" prefix
// (RFC 7515 §4.1.9).
func canonicalType(t string) string {
	t = strings.ToLower(t)
	return strings.TrimPrefix(t, "application/")
}
