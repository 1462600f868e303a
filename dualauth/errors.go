package dualauth

import (
	"errors"
	"net/http"
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
)

// Error is every failure the authenticator reports. Its fields other than Err
// are safe to show to the client; Err holds the cause for logs and is never
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

// NoCredentials reports whether err says the request carried no credentials
// the authenticator accepts.
func NoCredentials(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == "" && e.Status == http.StatusUnauthorized
}

func errNoCredentials() *Error {
	return &Error{Status: http.StatusUnauthorized, Description: "authentication is required"}
}

func errInvalidRequest(description string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Description: description}
}

func errInvalidToken(description string, cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidToken, Description: description, Err: cause}
}

func errInvalidClient(cause error) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: CodeInvalidClient, Description: "the client credentials are not valid", Err: cause}
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
