// Package scopetoken holds the rules of scope tokens (RFC 6749 §3.3) and
// of the claims that carry them, shared by package scopes and the JWT
// method, which reads claims without decoding them into a map.
package scopetoken

import (
	"fmt"
	"slices"
	"strings"
)

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

// Collector gathers the scope tokens of claims read one value at a time,
// by scopes.Parse's rules (which uses it), for a caller that reads the
// claims itself rather than from a map (package internal/jwtverify): String for a claim holding a string, Element for each
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
func (c *Collector) Set() []string {
	set := c.tokens // ours: sorted in place
	c.tokens = nil
	if len(set) == 0 {
		return nil
	}
	slices.Sort(set)
	return slices.Compact(set)
}

// ElementError is scopes.Parse's error for an element of the array claim name
// holds that is not a string; element is that element as encoding/json
// decodes it into an any.
func ElementError(name string, element any) error {
	return fmt.Errorf("scopes: claim %q holds a %T, want strings", name, element)
}

// ClaimError is scopes.Parse's error for a claim name whose value is neither
// null, a string nor an array; value is as encoding/json decodes it into
// an any.
func ClaimError(name string, value any) error {
	return fmt.Errorf("scopes: claim %q is a %T, want a string or an array of strings", name, value)
}
