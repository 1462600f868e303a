package dualauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode"
	"unicode/utf8"
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
	buf := claimBuffers.Get().(*[]byte)
	defer claimBuffers.Put(buf)
	var err error
	if *buf, err = appendObject((*buf)[:0], p.claims); err != nil {
		return err
	}
	if err := json.Unmarshal(*buf, v); err != nil {
		return fmt.Errorf("dualauth: decoding the claims: %w", err)
	}
	return nil
}

var errNilPrincipal = errors.New("dualauth: DecodeClaims called on a nil *Principal")

// claimBuffers hold the JSON form of claims being decoded; json.Unmarshal
// keeps nothing of its input.
var claimBuffers = sync.Pool{New: func() any { return new([]byte) }}

// appendObject appends the JSON form of a claims object (as the token
// decoder made it: strings, json.Number, booleans, nil, nested
// map[string]any and []any) after refusing names equal but for case.
func appendObject(buf []byte, m map[string]any) ([]byte, error) {
	if err := checkNameCase(m); err != nil {
		return buf, err
	}
	buf = append(buf, '{')
	first := true
	for k, v := range m { // no two names reach the same field: order is free
		if !first {
			buf = append(buf, ',')
		}
		first = false
		buf = appendString(buf, k)
		buf = append(buf, ':')
		var err error
		if buf, err = appendValue(buf, v); err != nil {
			return buf, err
		}
	}
	return append(buf, '}'), nil
}

func appendValue(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case bool:
		return strconv.AppendBool(buf, v), nil
	case string:
		return appendString(buf, v), nil
	case json.Number: // as the token wrote it: every digit kept
		return append(buf, v...), nil
	case map[string]any:
		return appendObject(buf, v)
	case []any:
		buf = append(buf, '[')
		for i, e := range v {
			if i > 0 {
				buf = append(buf, ',')
			}
			var err error
			if buf, err = appendValue(buf, e); err != nil {
				return buf, err
			}
		}
		return append(buf, ']'), nil
	}
	data, err := json.Marshal(v) // not made by the token decoder; kept correct anyway
	return append(buf, data...), err
}

// appendString appends s as a JSON string: the decoded claims are valid
// UTF-8, so only quotes, backslashes and control characters need escapes.
func appendString(buf []byte, s string) []byte {
	const hex = "0123456789abcdef"
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		default:
			buf = append(buf, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// checkNameCase refuses an object with two member names equal under
// Unicode simple case folding (strings.EqualFold), which encoding/json
// would both match to one field. Names of ASCII without capitals, most
// claim names, cannot be equal so unless they are the same: the names are
// only folded when one of them is otherwise.
func checkNameCase(m map[string]any) error {
	plain := true
	for k := range m {
		plain = plain && isPlainName(k)
	}
	if plain {
		return nil
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

// isPlainName reports whether s is ASCII without capital letters.
func isPlainName(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= utf8.RuneSelf || 'A' <= c && c <= 'Z' {
			return false
		}
	}
	return true
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
