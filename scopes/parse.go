package scopes

import (
	"fmt"
	"slices"
	"strings"
)

// DefaultClaims are the claim names read when none are configured.
var DefaultClaims = []string{"scope", "scp", "scopes"}

// Parse collects the scopes found under the given claim names (DefaultClaims
// when names is empty). A claim may be a string of scope tokens separated by
// single spaces (RFC 6749 §3.3: only U+0020 separates) or an array whose
// every element is one scope token. A claim of any other shape, or a token
// with characters RFC 6749 §3.3 does not allow (tabs, line breaks, non-ASCII
// spaces, quotes, backslashes…), is an error, so that a token the issuer did
// not mean cannot widen or confuse what the caller may do.
func Parse(claims map[string]any, names []string) (Set, error) {
	if len(names) == 0 {
		names = DefaultClaims
	}
	var tokens []string
	add := func(name, t string) error {
		if !Valid(t) {
			return fmt.Errorf("scopes: claim %q holds a value that is not a valid scope token", name)
		}
		tokens = append(tokens, t)
		return nil
	}
	for _, name := range names {
		v, ok := claims[name]
		if !ok || v == nil {
			continue
		}
		switch v := v.(type) {
		case string:
			for t := range strings.SplitSeq(v, " ") {
				if t == "" {
					continue // repeated, leading or trailing spaces
				}
				if err := add(name, t); err != nil {
					return nil, err
				}
			}
		case []any:
			for _, e := range v {
				str, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("scopes: claim %q holds a %T, want strings", name, e)
				}
				if err := add(name, str); err != nil {
					return nil, err
				}
			}
		case []string:
			for _, str := range v {
				if err := add(name, str); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("scopes: claim %q is a %T, want a string or an array of strings", name, v)
		}
	}
	set := Set(tokens) // tokens is ours: sorted in place
	slices.Sort(set)
	return slices.Compact(set), nil
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
