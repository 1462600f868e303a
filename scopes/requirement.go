package scopes

import (
	"fmt"
	"strings"
)

// Requirement is what a route asks of a caller's scopes: all of a list, or
// any one of it. The zero value requires nothing.
type Requirement struct {
	scopes []string
	any    bool
}

// All requires every one of the scopes. It panics if a scope is not a valid
// scope token (see Valid): requirements are fixed when routes are set up.
func All(scopes ...string) Requirement {
	return Requirement{scopes: mustValid(scopes)}
}

// Any requires at least one of the scopes. Any() with no scopes requires
// nothing. It panics if a scope is not a valid scope token, as All does.
func Any(scopes ...string) Requirement {
	return Requirement{scopes: mustValid(scopes), any: true}
}

func mustValid(scopes []string) Set {
	for _, s := range scopes {
		if !Valid(s) {
			panic(fmt.Sprintf("scopes: %q is not a valid scope token", s))
		}
	}
	return NewSet(scopes...)
}

// OneOf reports whether the requirement is met by any one of several
// scopes (Any with more than one), rather than by all of them.
func (r Requirement) OneOf() bool { return r.any && len(r.scopes) > 1 }

// IsZero reports whether the requirement asks for nothing.
func (r Requirement) IsZero() bool { return len(r.scopes) == 0 }

// Scopes returns the scopes the requirement names, sorted.
func (r Requirement) Scopes() []string { return append([]string(nil), r.scopes...) }

// SatisfiedBy reports whether a caller holding granted meets the requirement.
func (r Requirement) SatisfiedBy(granted Set) bool {
	if len(r.scopes) == 0 {
		return true
	}
	for _, s := range r.scopes {
		has := granted.Has(s)
		if r.any && has {
			return true
		}
		if !r.any && !has {
			return false
		}
	}
	return !r.any
}

// String returns the required scopes space-delimited: the value of the
// "scope" attribute of an RFC 6750 insufficient_scope challenge.
func (r Requirement) String() string { return strings.Join(r.scopes, " ") }
