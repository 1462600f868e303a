package grpcauth

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/scopes"
)

// Rule says who may call the methods it matches.
type Rule struct {
	// Match is a full method, "/pkg.Service/Method", matched exactly, or a
	// service prefix, "/pkg.Service/", matching every method of the
	// service. Names are protocol buffer identifiers: letters, digits and
	// '_', the service's package parts joined by '.'.
	Match string
	// Public lets matching calls through without authentication and
	// without a caller in the context, such as the health service's.
	Public bool
	// Scopes is what a matching call's caller must hold (scopes.All,
	// scopes.Any); the zero value lets any authenticated caller through.
	// It must be zero on a public rule.
	Scopes scopes.Requirement
}

// Unmatched is what happens to a call that no rule matches.
type Unmatched string

// The policies for unmatched calls.
const (
	// UnmatchedDeny refuses the call with PermissionDenied, without
	// reading its credentials: a method added to a server is closed
	// until a rule opens it.
	UnmatchedDeny Unmatched = "deny"
	// UnmatchedAuthenticate lets any authenticated caller through, as a
	// rule without Scopes would.
	UnmatchedAuthenticate Unmatched = "authenticate"
)

// Validate checks o as New does. Every error is a *dualauth.ConfigError
// with Package "grpcauth" and the field at fault, such as
// "Methods[2].Match": a Match that is neither a full method nor a service
// prefix, a public rule with Scopes, a rule that an earlier one hides
// (the same Match, or a method of a service prefix before it), or an
// unknown Unmatched policy.
func (o Options) Validate() error {
	switch o.Unmatched {
	case "", UnmatchedDeny, UnmatchedAuthenticate:
	default:
		return configErr("Unmatched", "unknown policy %s (use deny or authenticate)", excerpt.Quote(string(o.Unmatched)))
	}
	for n, rule := range o.Methods {
		field := fmt.Sprintf("Methods[%d]", n)
		if problem := matchProblem(rule.Match); problem != "" {
			return configErr(field+".Match", "%s %s", excerpt.Quote(rule.Match), problem)
		}
		if rule.Public && !rule.Scopes.IsZero() {
			return configErr(field+".Scopes", "a public method requires no scopes; drop public or the scopes")
		}
		for earlier, prev := range o.Methods[:n] {
			if prev.matches(rule.Match) {
				return configErr(field+".Match", "%s is never reached: Methods[%d] (%s) matches it first", excerpt.Quote(rule.Match), earlier, excerpt.Quote(prev.Match))
			}
		}
	}
	return nil
}

// configErr is the *dualauth.ConfigError of field.
func configErr(field, format string, args ...any) *dualauth.ConfigError {
	return &dualauth.ConfigError{Package: "grpcauth", Field: field, Reason: fmt.Sprintf(format, args...)}
}

// matchProblem says what is wrong with match as a Rule's Match, or "".
func matchProblem(match string) string {
	service, method, ok := strings.Cut(strings.TrimPrefix(match, "/"), "/")
	switch {
	case !strings.HasPrefix(match, "/") || !ok:
		return "is neither a full method (/pkg.Service/Method) nor a service prefix (/pkg.Service/)"
	case service == "":
		return "names no service"
	case !protoreflect.FullName(service).IsValid():
		return "has a service name that is not dot-separated identifiers (letters, digits, '_')"
	case method != "" && !protoreflect.Name(method).IsValid():
		return "has a method name that is not an identifier (letters, digits, '_')"
	}
	return ""
}

// matches reports whether the rule matches fullMethod.
func (r Rule) matches(fullMethod string) bool {
	if strings.HasSuffix(r.Match, "/") {
		return strings.HasPrefix(fullMethod, r.Match)
	}
	return fullMethod == r.Match
}

// match returns the first rule that matches fullMethod, if any.
func (i *Interceptors) match(fullMethod string) (Rule, bool) {
	for _, r := range i.rules {
		if r.matches(fullMethod) {
			return r, true
		}
	}
	return Rule{}, false
}
