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
	var c Collector
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
					err = ElementError(name, e)
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
			err = ClaimError(name, v)
		}
		if err != nil {
			return nil, err
		}
	}
	return c.Set(), nil
}

// Collector gathers the scope tokens of claims read one value at a time,
// by Parse's rules, for a caller that reads the claims itself rather than
// from a map: String for a claim holding a string, Element for each
// element of a claim holding an array (ElementError for one that is not a
// string), ClaimError for a claim of another type (a null claim is
// skipped), and Set at the end. The zero Collector is empty.
type Collector struct{ tokens []string }

// String adds the scope tokens of value, the string claim name holds.
func (c *Collector) String(name, value string) error {
	if c.tokens == nil {
		c.tokens = make([]string, 0, strings.Count(value, " ")+1)
	}
	for t := range strings.SplitSeq(value, " ") {
		if t == "" {
			continue // repeated, leading or trailing spaces
		}
		if err := c.Element(name, t); err != nil {
			return err
		}
	}
	return nil
}

// Element adds token, one element of the array claim name holds.
func (c *Collector) Element(name, token string) error {
	if !Valid(token) {
		return fmt.Errorf("scopes: claim %q holds a value that is not a valid scope token", name)
	}
	c.tokens = append(c.tokens, token)
	return nil
}

// Set returns the tokens added, sorted and without duplicates, and empties
// c.
func (c *Collector) Set() Set {
	set := Set(c.tokens) // ours: sorted in place
	c.tokens = nil
	if len(set) == 0 {
		return nil
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// ElementError is Parse's error for an element of the array claim name
// holds that is not a string; element is that element as encoding/json
// decodes it into an any.
func ElementError(name string, element any) error {
	return fmt.Errorf("scopes: claim %q holds a %T, want strings", name, element)
}

// ClaimError is Parse's error for a claim name whose value is neither
// null, a string nor an array; value is as encoding/json decodes it into
// an any.
func ClaimError(name string, value any) error {
	return fmt.Errorf("scopes: claim %q is a %T, want a string or an array of strings", name, value)
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
