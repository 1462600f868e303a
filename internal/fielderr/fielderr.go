// Package fielderr is the error a method's configuration check returns for
// one field: the field as a Go selector path relative to the method's own
// settings, and the reason. Package dualauth turns it into a
// *dualauth.ConfigError, with the field's full path.
package fielderr

import "fmt"

// Error is a field that cannot be accepted.
type Error struct {
	Field  string // such as "Algorithms[2]" or "Throttle.Redis.Timeout"
	Reason string
}

func (e *Error) Error() string { return e.Field + ": " + e.Reason }

// New returns an *Error for field, its reason formatted as fmt.Sprintf.
func New(field, format string, args ...any) *Error {
	return &Error{Field: field, Reason: fmt.Sprintf(format, args...)}
}
