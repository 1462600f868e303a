package scopes

import (
	"fmt"
	"strings"
)

// DefaultClaims are the claim names read when none are configured.
var DefaultClaims = []string{"scope", "scp", "scopes"}

// Parse collects the scopes found under the given claim names (DefaultClaims
// when names is empty). Each claim may be a space-delimited string or an
// array of strings; a claim of any other shape, or a scope token with
// characters RFC 6749 §3.3 does not allow, is an error, so that a token the
// issuer did not mean cannot widen or confuse what the caller may do.
func Parse(claims map[string]any, names []string) (Set, error) {
	if len(names) == 0 {
		names = DefaultClaims
	}
	var tokens []string
	for _, name := range names {
		v, ok := claims[name]
		if !ok || v == nil {
			continue
		}
		switch v := v.(type) {
		case string:
			tokens = append(tokens, strings.Fields(v)...)
		case []any:
			for _, e := range v {
				str, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("scopes: claim %q holds a %T, want strings", name, e)
				}
				tokens = append(tokens, strings.Fields(str)...)
			}
		case []string:
			for _, str := range v {
				tokens = append(tokens, strings.Fields(str)...)
			}
		default:
			return nil, fmt.Errorf("scopes: claim %q is a %T, want a string or an array of strings", name, v)
		}
	}
	for _, t := range tokens {
		if !Valid(t) {
			return nil, fmt.Errorf("scopes: %q is not a valid scope token", t)
		}
	}
	return NewSet(tokens...), nil
}

// Valid reports whether s is a scope token as RFC 6749 §3.3 defines it:
// one or more printable ASCII characters other than space, '"' and '\'.
func Valid(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
