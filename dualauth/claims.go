package dualauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/jsonobject"
)

// DecodeClaims decodes the token's verified claims into v as json.Unmarshal
// decodes a JSON object, typically into a struct of your own:
//
//	var c struct {
//		TenantID string           `json:"tenant_id"`
//		Roles    []string         `json:"roles"`
//		Audience jwt.ClaimStrings `json:"aud"` // a string or an array
//	}
//	if err := p.DecodeClaims(&c); err != nil { … }
//
// v must be a non-nil pointer; anything else is an error, never a panic.
// Claims v has no field for are ignored, and a field whose claim is absent
// keeps its value (use a pointer to tell absent from empty). A claim of
// another JSON type than its field's is an error (*json.UnmarshalTypeError)
// after the other fields are set. Numbers keep every digit, as int64,
// float64, json.Number or jwt.NumericDate (exp, nbf, iat). Registered claims
// decode as golang-jwt's jwt.RegisteredClaims reads them (embed it to have
// them all); aud may be one string or an array of strings (RFC 7519
// §4.1.3), which jwt.ClaimStrings accepts both of and []string does not.
//
// Names match as in encoding/json, exactly or else ignoring case, so claims
// whose names differ only in case (at any depth) are refused with an error:
// which one a field would get is not decided by the token.
//
// Each call decodes afresh into values of its own: nothing is kept on the
// Principal, so a cached token costs no memory for it, and changing what v
// holds changes nothing another request sees. A caller of client
// credentials has the claims of the token its credentials were exchanged
// for, and none when checked against a registry: v is then left as it is,
// and the error is nil.
//
// It is a method rather than a generic function so that v can be any
// target json.Unmarshal takes, with its defaults filled in beforehand.
func (p *Principal) DecodeClaims(v any) error {
	if p == nil {
		return errNilPrincipal
	}
	data := "null" // no token: v is checked, and left as it is
	if p.payload != "" {
		data = p.payload
		// Most tokens' names are all plain and cannot differ only in
		// case: only the others are decoded to be looked at closely.
		if !jsonobject.PlainNames(data) {
			if err := checkNameCase(p.decodedClaims()); err != nil {
				return err
			}
		}
	}
	// A copy: json.Unmarshal hands slices of its input to a target's
	// UnmarshalJSON, which may write to them, and data is the cached
	// token's, shared with every request that presents it.
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("dualauth: decoding the claims: %w", err)
	}
	return nil
}

var errNilPrincipal = errors.New("dualauth: DecodeClaims called on a nil *Principal")

// checkNameCase refuses an object with two member names equal under
// Unicode simple case folding (strings.EqualFold), which encoding/json
// would both match to one field.
func checkNameCase(m map[string]any) error {
	for _, v := range m {
		if err := checkNestedNameCase(v); err != nil {
			return err
		}
	}
	seen := make(map[string]string, len(m))
	for k := range m {
		f := foldName(k)
		if other, dup := seen[f]; dup {
			return fmt.Errorf("dualauth: the claims have names that differ only in case (%.40q and %.40q)", min(k, other), max(k, other))
		}
		seen[f] = k
	}
	return nil
}

// checkNestedNameCase applies checkNameCase to the objects within v.
func checkNestedNameCase(v any) error {
	switch v := v.(type) {
	case map[string]any:
		return checkNameCase(v)
	case []any:
		for _, e := range v {
			if err := checkNestedNameCase(e); err != nil {
				return err
			}
		}
	}
	return nil
}

// foldName maps every rune of s to the least rune of its case-folding
// orbit, so that foldName(a) == foldName(b) exactly when
// strings.EqualFold(a, b).
func foldName(s string) string {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		out = utf8.AppendRune(out, least)
	}
	return string(out)
}
