package dualauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Error codes used in responses (RFC 6750 §3.1 and RFC 6749 §5.2).
const (
	CodeInvalidRequest    = "invalid_request"
	CodeInvalidToken      = "invalid_token"
	CodeInsufficientScope = "insufficient_scope"
	// CodeInvalidClient: client credentials that are unknown, wrong or
	// disabled (RFC 6749 §5.2).
	CodeInvalidClient = "invalid_client"
	// CodeTooManyRequests: too many failed credential checks (status 429).
	CodeTooManyRequests = "too_many_requests"
	// CodeTemporarilyUnavailable: the credentials could not be checked now,
	// for example because the token endpoint is down (status 503).
	CodeTemporarilyUnavailable = "temporarily_unavailable"
	// CodeUnauthorized is no code of the RFCs: it stands for the Code ""
	// of a request that carried no credentials (RFC 6750 §3.1 names no
	// error code in that challenge) where a code is wanted anyway: the
	// middleware's JSON body, its log and the telemetry.
	CodeUnauthorized = "unauthorized"
)

// Error is every failure the authenticator reports, and, from
// Authenticator.Refusal, how to answer it. Its fields other than Err are
// safe to show to the client; Err holds the cause for logs and is never
// rendered.
type Error struct {
	// Status is the HTTP status to answer with: 400, 401, 403, 429 or 503.
	Status int
	// Code is the RFC 6750 error code, or "" when the request carried no
	// credentials at all (RFC 6750 §3.1: then the challenge names no error).
	Code string
	// Description says what was wrong, without internals or secrets.
	Description string
	// Scope lists the scopes a route requires, space-delimited, for
	// insufficient_scope.
	Scope string
	// RetryAfter, if positive, is sent as a Retry-After header (429, 503).
	RetryAfter time.Duration
	// Challenges are the WWW-Authenticate values to send; set by Refusal.
	Challenges []string
	// Err is the underlying cause, for logs.
	Err error
}

// Error returns the code and description.
func (e *Error) Error() string {
	if e.Code == "" {
		return "dualauth: " + e.Description
	}
	return "dualauth: " + e.Code + ": " + e.Description
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Descriptions used when an error has none.
const (
	descNoCredentials     = "authentication is required"
	descInvalidRequest    = "the request is malformed"
	descInvalidToken      = "the request could not be authenticated"
	descInsufficientScope = "the access token lacks a scope this request requires"
	descInvalidClient     = "the client credentials are not valid"
	descRetryLater        = "the request cannot be authenticated right now; retry later"
)

// Refusal returns how to answer a request refused with err on a's routes: a
// copy of the *Error in err with the status of its code (400, 401, 403, 429
// or 503; an unknown code keeps a 4xx status, else gets 401), a description
// (a generic one where it had none) and the WWW-Authenticate challenges of
// a's mode in Challenges:
//
//   - no credentials (no code): every scheme the mode accepts, bare;
//   - invalid_client: Basic where it is on, else Bearer (RFC 6749 §5.2, RFC
//     9110 §11.6.1);
//   - too_many_requests and temporarily_unavailable: none;
//   - insufficient_scope: the challenge of the scheme r's caller used — a
//     Bearer one carrying error, error_description and scope (RFC 6750 §3)
//     for a Bearer token, a bare Basic one for HTTP Basic (RFC 7617 has no
//     error parameters), none for the client headers, which are no HTTP
//     authentication scheme (a 403 needs no challenge, RFC 9110 §15.5.4);
//   - any other code: a Bearer challenge carrying error and
//     error_description (RFC 6750 §3), or a bare Basic one on routes that
//     take only client credentials.
//
// Any error that is no *Error, nil included, fails closed: 401 invalid_token
// with a generic description, its text kept only in Err. A description that
// quotes a credential r carries is replaced by a generic one.
func (a *Authenticator) Refusal(r *http.Request, err error) *Error {
	var src *Error
	if !errors.As(err, &src) || src == nil {
		src = &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Err: err}
	}
	e := *src
	if e.Code == "" {
		// No credentials: RFC 6750 §3.1 makes this a 401 without error code.
		e.Status, e.Scope = http.StatusUnauthorized, ""
	} else if status, known := statusOf(e.Code); known || e.Status < 400 || e.Status > 499 {
		e.Status = status
	}
	if e.Description == "" || a.quotesCredentials(r, e.Description) {
		e.Description = defaultDescription(e.Code)
	}
	e.Challenges = a.challenges(r, &e)
	return &e
}

// quotesCredentials reports whether s quotes a credential of r: the
// credentials of an Authorization header (the whole value if it names no
// scheme), the client secret header, or an access_token query parameter.
// Credentials shorter than 8 bytes are not looked for: they would match
// innocent text.
func (a *Authenticator) quotesCredentials(r *http.Request, s string) bool {
	if r == nil {
		return false
	}
	quotes := func(cred string) bool {
		cred = strings.TrimSpace(cred)
		return len(cred) >= 8 && strings.Contains(s, cred)
	}
	for _, v := range r.Header.Values("Authorization") {
		v = strings.TrimSpace(v)
		if _, cred, ok := strings.Cut(v, " "); ok {
			v = cred
		}
		if quotes(v) {
			return true
		}
	}
	if a.secretHeader != "" && slices.ContainsFunc(r.Header.Values(a.secretHeader), quotes) {
		return true
	}
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		return slices.ContainsFunc(q["access_token"], quotes)
	}
	return false
}

// statusOf is the status each error code is answered with (RFC 6750 §3.1,
// RFC 6749 §5.2), and whether the code is one of this package's.
func statusOf(code string) (int, bool) {
	switch code {
	case CodeInvalidRequest:
		return http.StatusBadRequest, true
	case CodeInsufficientScope:
		return http.StatusForbidden, true
	case CodeInvalidToken, CodeInvalidClient:
		return http.StatusUnauthorized, true
	case CodeTooManyRequests:
		return http.StatusTooManyRequests, true
	case CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable, true
	}
	return http.StatusUnauthorized, false
}

func defaultDescription(code string) string {
	switch code {
	case "":
		return descNoCredentials
	case CodeInvalidRequest:
		return descInvalidRequest
	case CodeInsufficientScope:
		return descInsufficientScope
	case CodeInvalidClient:
		return descInvalidClient
	case CodeTooManyRequests, CodeTemporarilyUnavailable:
		return descRetryLater
	}
	return descInvalidToken
}

// challenges builds the WWW-Authenticate values for e, the refusal of r, on
// a's routes.
func (a *Authenticator) challenges(r *http.Request, e *Error) []string {
	var out []string
	add := func(c string) {
		if c != "" {
			out = append(out, c)
		}
	}
	switch e.Code {
	case "":
		add(a.bearer)
		add(a.basic)
	case CodeInvalidClient:
		// A route that takes only header credentials has no scheme to offer.
		if a.basic == "" {
			add(a.bearer)
		}
		add(a.basic)
	case CodeTooManyRequests, CodeTemporarilyUnavailable:
	case CodeInsufficientScope:
		// The caller was verified: answer in the scheme it used. A Basic
		// challenge says that other credentials might be let in (RFC 9110
		// §11.6.1). The client headers have no scheme to name: offering
		// Basic or Bearer there would invite the caller to present the same
		// client another way, which changes nothing, so none is sent.
		switch a.presentedKind(r) {
		case credBasic:
			add(a.basic)
			return out
		case credHeaders:
			return out
		}
		fallthrough
	default:
		if a.bearer == "" {
			add(a.basic)
			break
		}
		var b strings.Builder
		b.WriteString(a.bearer)
		writeParam(&b, "error", e.Code)
		writeParam(&b, "error_description", e.Description)
		if e.Scope != "" {
			writeParam(&b, "scope", e.Scope)
		}
		add(b.String())
	}
	return out
}

// challenge is `<scheme> realm="<realm>"`.
func challenge(scheme, realm string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(" realm=")
	writeQuoted(&b, realm)
	return b.String()
}

// writeParam appends `, name="value"`.
func writeParam(b *strings.Builder, name, value string) {
	b.WriteString(", ")
	b.WriteString(name)
	b.WriteByte('=')
	writeQuoted(b, value)
}

// writeQuoted appends value as an RFC 9110 §5.6.4 quoted-string: '"' and '\'
// are backslash-escaped, and anything but printable ASCII (control
// characters, line breaks, non-ASCII) becomes '?', so that no value can break
// out of its parameter or the header.
func writeQuoted(b *strings.Builder, value string) {
	b.WriteByte('"')
	for _, c := range value {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(byte(c))
		case c < 0x20 || c > 0x7e:
			b.WriteByte('?')
		default:
			b.WriteByte(byte(c))
		}
	}
	b.WriteByte('"')
}

func errNoCredentials() *Error {
	return &Error{Status: http.StatusUnauthorized, Description: descNoCredentials}
}

func errInvalidRequest(description string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: description}
}

func errInvalidToken(description string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: description, Err: cause}
}

func errInvalidClient(cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Description: descInvalidClient, Err: cause}
}

func errUnavailable(cause error) *Error {
	return &Error{
		Status:      http.StatusServiceUnavailable,
		Code:        CodeTemporarilyUnavailable,
		Description: "the credentials cannot be checked right now; retry later",
		RetryAfter:  5 * time.Second,
		Err:         cause,
	}
}

func errTooMany(retry time.Duration) *Error {
	return &Error{
		Status:      http.StatusTooManyRequests,
		Code:        CodeTooManyRequests,
		Description: "too many failed authentication attempts; retry later",
		RetryAfter:  retry,
	}
}
