package authserver

import (
	"slices"
	"strings"

	"github.com/keyward/keyward/scopes"
)

// parseScope splits a scope parameter into its scope tokens (RFC 6749 §3.3:
// space-delimited, each %x21 / %x23-5B / %x5D-7E), without duplicates, in
// request order. A malformed parameter is invalid_scope.
func parseScope(param string) ([]string, *oauthError) {
	var out []string
	for tok := range strings.SplitSeq(param, " ") {
		if !scopes.Valid(tok) {
			return nil, errInvalidScope("the scope parameter is not a space-delimited list of scope tokens")
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out, nil
}

// grantScopes returns the scopes to grant: requested if every one of them
// is allowed, all of allowed if none were requested.
func grantScopes(requested, allowed []string) ([]string, *oauthError) {
	if requested == nil {
		return slices.Clone(allowed), nil
	}
	for _, s := range requested {
		if !slices.Contains(allowed, s) {
			return nil, errInvalidScope("the scope " + s + " is not allowed for this client")
		}
	}
	return slices.Clone(requested), nil
}

// intersect returns the members of a that are also in b, in a's order.
func intersect(a, b []string) []string {
	var out []string
	for _, s := range a {
		if slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
