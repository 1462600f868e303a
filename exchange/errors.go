package exchange

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/authheader"
)

// The two kinds of failure. Every error [Client.Exchange] returns is an
// [*Error] matching exactly one of them with [errors.Is].
var (
	// ErrRejected means the token endpoint refused the credentials: HTTP 401
	// or 403, or an RFC 6749 §5.2 error of invalid_client, invalid_grant or
	// unauthorized_client. Empty credentials are rejected without asking.
	ErrRejected = errors.New("exchange: client credentials rejected")
	// ErrUnavailable means the token endpoint could not be asked or gave no
	// usable answer: a network error or timeout, a redirect, HTTP 429, 5xx or
	// another unexpected status (a 400 with any other error code included),
	// a malformed, oversized or non-Bearer response, or a Client that fails
	// [Client.Validate]. It says nothing about the credentials. After 429 or
	// 503 the error also wraps a [*RetryError] with the endpoint's
	// Retry-After.
	ErrUnavailable = errors.New("exchange: token endpoint unavailable")
)

// Limits on the text kept from an endpoint's error response.
const (
	maxCodeBytes        = 64
	maxDescriptionBytes = 256
	maxClientIDBytes    = 128
)

// Error is a failed exchange. Status, Code and Description come from the
// token endpoint's response when there was one; Err matches [ErrRejected] or
// [ErrUnavailable] and wraps the underlying cause, if any (a network error,
// [context.DeadlineExceeded], ...).
//
// The secret never appears in an Error: Code and Description are scrubbed of
// it (in the forms it was sent in) before they are stored, they are cut to a
// bounded length with control characters replaced, and the secret itself is
// not kept. The client id may appear in Error().
type Error struct {
	// Status is the HTTP status of the endpoint's response; 0 if there was
	// none.
	Status int
	// Code is the RFC 6749 §5.2 "error" of the response, e.g.
	// "invalid_client"; empty if it had none.
	Code string
	// Description is the response's "error_description"; empty if none.
	Description string
	// Err is ErrRejected or ErrUnavailable, possibly joined with a cause.
	Err error

	clientID string // quoted in Error(), already scrubbed and cut
	detail   string // our own words on what went wrong; endpoint text only scrubbed
}

// Error describes the failure with the client id, status, code and
// description, never the secret.
func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case errors.Is(e.Err, ErrRejected):
		b.WriteString("exchange: credentials rejected")
	case errors.Is(e.Err, ErrUnavailable):
		b.WriteString("exchange: token endpoint unavailable")
	default:
		b.WriteString("exchange: token exchange failed")
	}
	if e.clientID != "" {
		fmt.Fprintf(&b, " for client %q", e.clientID)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.Status)
	}
	if e.Code != "" {
		if plainCode(e.Code) {
			fmt.Fprintf(&b, ": %s", e.Code)
		} else {
			fmt.Fprintf(&b, ": %q", sanitize(e.Code, maxCodeBytes))
		}
	}
	if e.Description != "" {
		fmt.Fprintf(&b, ": %q", sanitize(e.Description, maxDescriptionBytes))
	}
	if e.detail != "" {
		b.WriteString(": ")
		b.WriteString(e.detail)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// plainCode reports whether code looks like an error code (short, lower-case
// letters, digits and underscores) and can be shown without quotes.
func plainCode(code string) bool {
	if len(code) > maxCodeBytes {
		return false
	}
	for _, r := range code {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '_' {
			return false
		}
	}
	return true
}

// rfcCodes are the RFC 6749 §5.2 error codes. They are public words, kept
// verbatim even if a (very short) secret happens to occur in them.
var rfcCodes = map[string]bool{
	"invalid_request":        true,
	"invalid_client":         true,
	"invalid_grant":          true,
	"unauthorized_client":    true,
	"unsupported_grant_type": true,
	"invalid_scope":          true,
}

// rejectingCodes are the §5.2 codes that refuse the client's credentials
// rather than the shape of the request.
var rejectingCodes = map[string]bool{
	"invalid_client":      true,
	"invalid_grant":       true,
	"unauthorized_client": true,
}

// scrubber removes every form in which one exchange sent the secret from
// text the endpoint sent back.
type scrubber []string

func newScrubber(clientID, secret string) scrubber {
	if secret == "" {
		return nil
	}
	forms := []string{
		secret,
		url.QueryEscape(secret),
		url.PathEscape(secret),
		string(jsonString(secret)),
		strings.TrimPrefix(authheader.Basic(clientID, secret), "Basic "),
	}
	// Longest first, so that a form containing another is removed whole.
	slices.SortFunc(forms, func(a, b string) int {
		if len(a) != len(b) {
			return len(b) - len(a)
		}
		return strings.Compare(a, b)
	})
	return slices.Compact(forms)
}

// clean scrubs the secret from text the endpoint (or the caller) supplied,
// then cuts it to max bytes with control characters replaced.
func (s scrubber) clean(text string, max int) string {
	for _, f := range s {
		text = strings.ReplaceAll(text, f, "[redacted]")
	}
	// After sanitizing a secret with control characters could read
	// differently; scrub again in the sanitized forms.
	text = sanitize(text, max)
	for _, f := range s {
		if sf := sanitize(f, len(f)); sf != f && sf != "" {
			text = strings.ReplaceAll(text, sf, "[redacted]")
		}
	}
	return text
}

// sanitize replaces control characters and invalid UTF-8 with '?' and cuts
// text to at most max bytes on a rune boundary.
func sanitize(text string, max int) string {
	clean := true
	for _, r := range text {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean && len(text) <= max {
		return text
	}
	var b strings.Builder
	for _, r := range text {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// newError builds an *Error of kind (ErrRejected or ErrUnavailable) with an
// optional cause. Status, code and description are set by the caller after
// scrubbing.
func newError(kind error, clientID string, s scrubber, detail string, cause error) *Error {
	err := kind
	if cause != nil {
		err = fmt.Errorf("%w: %w", kind, cause)
	}
	return &Error{Err: err, clientID: s.clean(clientID, maxClientIDBytes), detail: detail}
}
