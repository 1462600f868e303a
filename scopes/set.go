package scopes

import (
	"encoding/json"
	"slices"
	"strings"
)

// Set is a sorted set of distinct scope tokens. The zero value is the empty set.
type Set []string

// NewSet returns the set of the given scope tokens, sorted, without duplicates.
func NewSet(tokens ...string) Set {
	s := Set(slices.Clone(tokens))
	slices.Sort(s)
	return slices.Compact(s)
}

// Has reports whether the set contains the scope token exactly.
func (s Set) Has(token string) bool {
	_, found := slices.BinarySearch(s, token)
	return found
}

// String returns the scopes space-delimited, as in an OAuth 2.0 scope parameter.
func (s Set) String() string { return strings.Join(s, " ") }

// MarshalJSON encodes the set as a JSON array; the empty set is [], not null.
func (s Set) MarshalJSON() ([]byte, error) {
	if s == nil {
		return []byte("[]"), nil
	}
	return json.Marshal([]string(s))
}
