package authserver

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// RFC 6749 §5.2 error codes, plus too_many_requests for throttled clients.
const (
	codeInvalidRequest       = "invalid_request"
	codeInvalidClient        = "invalid_client"
	codeInvalidGrant         = "invalid_grant"
	codeUnsupportedGrantType = "unsupported_grant_type"
	codeInvalidScope         = "invalid_scope"
	codeUnauthorizedClient   = "unauthorized_client"
	codeTooManyRequests      = "too_many_requests"
	codeServerError          = "server_error"
	codeUnavailable          = "temporarily_unavailable"
)

// oauthError is a refusal of a token request, written by writeError.
// description must stay within the characters RFC 6749 §5.2 allows
// (printable ASCII without '"' and '\'), and never carry a secret or token.
type oauthError struct {
	status      int
	code        string
	description string
	retryAfter  time.Duration // Retry-After, when positive
	cause       error         // why, for logs only
}

func (e *oauthError) Error() string { return e.code + ": " + e.description }

func errInvalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: codeInvalidRequest, description: desc}
}

// errInvalidClient is a 401: writeError adds the Basic challenge, which RFC
// 9110 §15.5.2 requires on every 401 and RFC 6749 §5.2 when Basic was used.
func errInvalidClient(desc string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: codeInvalidClient, description: desc}
}

func errInvalidGrant(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: codeInvalidGrant, description: desc}
}

func errUnsupportedGrantType(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: codeUnsupportedGrantType, description: desc}
}

func errInvalidScope(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: codeInvalidScope, description: desc}
}

// errNotAllowedToIntrospect refuses a client that authenticated but may not
// introspect. RFC 7662 §4 says the server SHOULD require protected resources
// to be specifically authorized to call the endpoint, and §2.3 keeps 401 for
// invalid credentials: the credentials here are valid, so, as RFC 6750 §3.1
// answers a token without sufficient privileges, the status is 403; the code
// is RFC 6749 §5.2's for an authenticated client not authorized to do what
// it asks.
func errNotAllowedToIntrospect() *oauthError {
	return &oauthError{status: http.StatusForbidden, code: codeUnauthorizedClient,
		description: "this client is not allowed to introspect tokens"}
}

func errTooLarge() *oauthError {
	return &oauthError{status: http.StatusRequestEntityTooLarge, code: codeInvalidRequest,
		description: "the request body is larger than " + strconv.Itoa(MaxBodyBytes>>10) + " KiB"}
}

func errThrottled(wait time.Duration) *oauthError {
	return &oauthError{status: http.StatusTooManyRequests, code: codeTooManyRequests,
		description: "too many failed client authentications; retry later", retryAfter: wait}
}

func errServer() *oauthError {
	return &oauthError{status: http.StatusInternalServerError, code: codeServerError,
		description: "the server could not issue a token"}
}

func errUnavailable() *oauthError {
	return &oauthError{status: http.StatusServiceUnavailable, code: codeUnavailable,
		description: "the request ended before the client could be authenticated", retryAfter: time.Second}
}

// logAttrs appends e to attrs, for a log line: its code, description and
// cause.
func (e *oauthError) logAttrs(attrs []any) []any {
	attrs = append(attrs, "error", e.code, "error_description", e.description)
	if e.cause != nil {
		attrs = append(attrs, "cause", e.cause.Error())
	}
	return attrs
}

// writeError answers a token request with e as RFC 6749 §5.2 describes.
func (s *Server) writeError(w http.ResponseWriter, e *oauthError) {
	h := w.Header()
	if e.status == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Basic realm="`+s.realm+`"`)
	}
	if e.retryAfter > 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(e.retryAfter.Seconds())), 10))
	}
	writeNoStore(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}
