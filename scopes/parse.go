package scopes

import "github.com/keyward/keyward/internal/scopetoken"

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
	var c scopetoken.Collector
	for _, name := range names {
		v, ok := claims[name]
		if !ok || v == nil {
			continue
		}
		var err error
		switch v := v.(type) {
		case string:
			err = c.String(name, v)
		case []any:
			for _, e := range v {
				if str, ok := e.(string); ok {
					err = c.Element(name, str)
				} else {
					err = scopetoken.ElementError(name, e)
				}
				if err != nil {
					break
				}
			}
		case []string:
			for _, str := range v {
				if err = c.Element(name, str); err != nil {
					break
				}
			}
		default:
			err = scopetoken.ClaimError(name, v)
		}
		if err != nil {
			return nil, err
		}
	}
	return Set(c.Set()), nil
}

// Valid reports whether s is a scope token as RFC 6749 §3.3 defines it:
// one or more printable ASCII characters other than space, '"' and '\'.
func Valid(s string) bool { return scopetoken.Valid(s) }
