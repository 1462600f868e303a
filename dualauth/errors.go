package dualauth

import (
	"errors"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/authheader"
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
	// CodeUnauthorized is no code of the RFCs: it stands for the Code "" of
	// a request that carried no credentials (RFC 6750 §3.1 names none in
	// that challenge) where a code is wanted anyway: the middleware's JSON
	// body, its log and the telemetry.
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
	// Scope is the space-delimited scopes a route requires (insufficient_scope).
	Scope string
	// RetryAfter, if positive, is sent as a Retry-After header (429, 503).
	RetryAfter time.Duration
	// Challenges are the WWW-Authenticate values to send; set by Refusal.
	Challenges []string
	Header     http.Header // other response headers to send, such as DPoP-Nonce
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

// answers are the status each error code is answered with (RFC 6750 §3.1,
// RFC 6749 §5.2) and the description of a refusal that has none.
var answers = map[string]struct {
	status      int
	description string
}{
	"":                         {http.StatusUnauthorized, "authentication is required"},
	CodeInvalidRequest:         {http.StatusBadRequest, "the request is malformed"},
	CodeInvalidToken:           {http.StatusUnauthorized, "the request could not be authenticated"},
	CodeInsufficientScope:      {http.StatusForbidden, "the access token lacks a scope this request requires"},
	CodeInvalidClient:          {http.StatusUnauthorized, "the client credentials are not valid"},
	CodeTooManyRequests:        {http.StatusTooManyRequests, "the request cannot be authenticated right now; retry later"},
	CodeTemporarilyUnavailable: {http.StatusServiceUnavailable, "the request cannot be authenticated right now; retry later"},
}

// Refusal returns how to answer a request refused with err on a's routes: a
// copy of the *Error in err with the status of its code (400, 401, 403, 429
// or 503; an unknown code keeps a 4xx status, else gets 401), a description
// (a generic one where it had none) and the WWW-Authenticate challenges of
// a's mode in Challenges:
//
//   - no credentials (no code): every scheme the mode accepts, bare (DPoP
//     with algs);
//   - invalid_client: Basic where it is on, else Bearer (RFC 6749 §5.2);
//   - too_many_requests and temporarily_unavailable: none;
//   - insufficient_scope: in the scheme r's caller used (RFC 9110 §11.6.1):
//     for a token as below, with scope; a bare Basic one for HTTP Basic
//     (RFC 7617 has no error parameters); none for the client headers, no
//     HTTP scheme (a 403 needs no challenge, RFC 9110 §15.5.4);
//   - any other code: a Bearer challenge carrying error and
//     error_description (RFC 6750 §3) beside a bare DPoP one (a DPoP one
//     carrying them if r used DPoP or Bearer is off), or a bare Basic one
//     on credential-only routes.
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
	answer, known := answers[e.Code]
	if !known {
		answer = answers[CodeInvalidToken]
	}
	if e.Code == "" {
		// No credentials: RFC 6750 §3.1 makes this a 401 without error code.
		e.Status, e.Scope = http.StatusUnauthorized, ""
	} else if known || e.Status < 400 || e.Status > 499 {
		e.Status = answer.status
	}
	if e.Description == "" || authheader.QuotesCredentials(r, a.secretHeader, e.Description) {
		e.Description = answer.description
	}
	e.Challenges = a.challenges(r, &e)
	return &e
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
		add(a.dpop)
		add(a.basic)
	case CodeInvalidClient:
		// A route that takes only header credentials has no scheme to offer.
		if a.basic == "" {
			add(a.bearer)
		}
		add(a.basic)
	case CodeTooManyRequests, CodeTemporarilyUnavailable:
	case CodeInsufficientScope:
		// The caller was verified: answer in the scheme it used (RFC 9110
		// §11.6.1). The client headers have no scheme: offering another
		// would invite the same client another way, so none is sent.
		switch a.presentedKind(r) {
		case credBasic:
			add(a.basic)
			return out
		case credHeaders:
			return out
		}
		fallthrough
	default:
		if a.bearer == "" && a.dpop == "" {
			add(a.basic)
			break
		}
		params := []string{"error", e.Code, "error_description", e.Description}
		if e.Scope != "" {
			params = append(params, "scope", e.Scope)
		}
		if a.bearer == "" || a.presentedKind(r) == credDPoP { // RFC 9449 §7.1
			add(authheader.Challenge("DPoP", a.realm, append([]string{"algs", a.dpopAlgs}, params...)...))
			break
		}
		add(authheader.Challenge("Bearer", a.realm, params...))
		add(a.dpop) // RFC 9449 §7.2: both schemes are offered
	}
	return out
}

func errInvalidRequest(description string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: description}
}

func errInvalidToken(description string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: description, Err: cause}
}

func errInvalidClient(cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Description: answers[CodeInvalidClient].description, Err: cause}
}

func errUnavailable(cause error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeTemporarilyUnavailable,
		Description: "the credentials cannot be checked right now; retry later", RetryAfter: 5 * time.Second, Err: cause}
}
