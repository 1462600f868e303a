package config

import (
	"cmp"
	"errors"
	"fmt"
	"regexp"
	"strconv"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/scopes"
)

// The sections forward_auth and grpc are lists of rules of the same shape
// (match, scopes, public) for another package's Config, which checks what
// the file cannot (patterns, rules hidden by earlier ones). This file has
// what they share: the checks of a rule's own keys, and the mapping of
// that package's errors back to the file.

// RouteScopes is the scopes of a forward_auth route or a grpc method
// rule: exactly one of All (every scope listed) and Any (at least one).
type RouteScopes struct {
	All []string `yaml:"all,omitempty"`
	Any []string `yaml:"any,omitempty"`
}

// Requirement is the scopes.Requirement s describes: scopes.Any of Any if
// it is set, else scopes.All of All; the zero Requirement (any
// authenticated caller) for a nil s.
func (s *RouteScopes) Requirement() scopes.Requirement {
	switch {
	case s == nil:
		return scopes.Requirement{}
	case len(s.Any) > 0:
		return scopes.Any(s.Any...)
	}
	return scopes.All(s.All...)
}

// checkRule checks the keys of the n-th rule of section sec: a match,
// which hint describes, and scopes that are either omitted or exactly one
// non-empty list of valid scopes, on a rule that is not public.
func (f *File) checkRule(sec *ruleSection, n int, match string, s *RouteScopes, public bool, hint string) error {
	at := fmt.Sprintf("%s[%d]", sec.fields[sec.list], n)
	if match == "" {
		return f.errorf(at+".match", "is required: %s", hint)
	}
	if s == nil {
		if f.has(at + ".scopes") {
			return f.errorf(at+".scopes", "is empty; set all or any, or omit scopes to let any authenticated caller through")
		}
		return nil
	}
	if public {
		return f.errorf(at+".public", "a public %s lets everyone through; remove its scopes, or public", sec.entry)
	}
	switch {
	case len(s.All) > 0 && len(s.Any) > 0:
		return f.errorf(at+".scopes", "sets all and any; use one of them (all: every scope listed; any: at least one)")
	case len(s.All) == 0 && len(s.Any) == 0:
		return f.errorf(at+".scopes", "lists no scopes; set all or any, or omit scopes to let any authenticated caller through")
	}
	for _, l := range []struct {
		key    string
		values []string
	}{{at + ".scopes.all", s.All}, {at + ".scopes.any", s.Any}} {
		for k, sc := range l.values {
			if !scopes.Valid(sc) {
				return f.errorf(fmt.Sprintf("%s[%d]", l.key, k), "%s is not a scope (RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes)", excerpt.Quote(sc))
			}
		}
	}
	return nil
}

// ruleSection says how the errors of another package's Config, made of a
// section of rules, map back to the file.
type ruleSection struct {
	pkg    string            // the Package of the Config's errors: "forwardauth"
	key    string            // the section's key: "forward_auth"
	list   string            // the Config's field of rules: "Routes"
	entry  string            // what one rule is called in messages: "route"
	fields map[string]string // the file's key of each Config field, by field path without indices
	ref    *regexp.Regexp    // a reference to a rule in a reason: Routes[N]
}

// ruleSectionError reports err, an error of the Validate method of the
// Config made of section s, at the key and line of the file it comes
// from; the rules its reason names become the lines they are on. Another
// error is reported as the file's.
func (f *File) ruleSectionError(err error, s *ruleSection) error {
	var ce *dualauth.ConfigError
	if !errors.As(err, &ce) || ce.Package != s.pkg {
		return &fileError{file: f.file, msg: err.Error(), err: err}
	}
	key := s.key
	listKey := s.fields[s.list]
	if m := s.ref.FindStringSubmatchIndex(ce.Field); m != nil && m[0] == 0 {
		// Routes[2].Pattern is forward_auth.routes[2].match.
		key = listKey + "[" + ce.Field[m[2]:m[3]] + "]"
		if rest, ok := s.fields[s.list+ce.Field[m[1]:]]; ok {
			key += rest[len(listKey):]
		}
	} else if k, ok := s.fields[ce.Field]; ok {
		key = k
	}
	reason := s.ref.ReplaceAllStringFunc(ce.Reason, func(ref string) string {
		n, _ := strconv.Atoi(s.ref.FindStringSubmatch(ref)[1])
		at := fmt.Sprintf("%s[%d]", listKey, n)
		if line := f.lineOf(at); line > 0 {
			return fmt.Sprintf("the %s at line %d", s.entry, line)
		}
		return at
	})
	line := cmp.Or(f.lineOf(key), f.lineOf(s.key))
	return &fileError{file: f.file, line: line, key: key, msg: reason, err: err}
}
