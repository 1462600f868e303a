package exchange

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// tokenResponse is an RFC 6749 §5.1 success body. Members whose type
// varies between providers are kept raw.
type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    json.RawMessage `json:"expires_in"`
	Scope        json.RawMessage `json:"scope"`
	RefreshToken string          `json:"refresh_token"`
}

// maxExpiresIn is the largest expires_in that fits a time.Duration.
const maxExpiresIn = math.MaxInt64 / int64(time.Second)

// interpret turns a response into a Token or an *Error.
func interpret(status int, body []byte, tooLarge bool, maxBytes int64, clientID string, scrub scrubber) (*Token, error) {
	fail := func(kind error, detail string) *Error {
		e := newError(kind, clientID, scrub, detail, nil)
		e.Status = status
		return e
	}

	var code, desc string
	if !tooLarge {
		code, desc = errorFields(body, scrub)
	}
	failWithCode := func(kind error, detail string) *Error {
		e := fail(kind, detail)
		e.Code, e.Description = code, desc
		return e
	}

	switch {
	case status >= 200 && status <= 299:
		// Handled below.
	case status >= 300 && status <= 399:
		return nil, fail(ErrUnavailable, "the token endpoint redirected; redirects are not followed")
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return nil, failWithCode(ErrRejected, "")
	case status == http.StatusBadRequest && rejectingCodes[code]:
		return nil, failWithCode(ErrRejected, "")
	case status == http.StatusBadRequest:
		return nil, failWithCode(ErrUnavailable, "the token endpoint refused the request itself, not the credentials")
	default:
		// 429, 5xx, and statuses that mean a wrong URL or method (404, 405…).
		return nil, failWithCode(ErrUnavailable, "")
	}

	if tooLarge {
		return nil, fail(ErrUnavailable, fmt.Sprintf("response body exceeds %d bytes", maxBytes))
	}
	var tr tokenResponse
	if err := decodeObject(body, &tr); err != nil {
		return nil, fail(ErrUnavailable, "response is not a JSON token response: "+jsonProblem(err))
	}
	if code != "" {
		// Some endpoints answer errors with 200.
		kind := ErrUnavailable
		if rejectingCodes[code] {
			kind = ErrRejected
		}
		return nil, failWithCode(kind, "error in a success response")
	}
	if tr.AccessToken == "" {
		return nil, fail(ErrUnavailable, "response has no access_token")
	}
	if len(tr.AccessToken) > MaxAccessTokenBytes {
		return nil, fail(ErrUnavailable, fmt.Sprintf("access_token exceeds %d bytes", MaxAccessTokenBytes))
	}
	if !strings.EqualFold(tr.TokenType, "Bearer") {
		tt := scrub.clean(tr.TokenType, maxCodeBytes)
		return nil, fail(ErrUnavailable, fmt.Sprintf("token_type is %q, not Bearer", tt))
	}
	expiresIn, err := parseExpiresIn(tr.ExpiresIn)
	if err != nil {
		return nil, fail(ErrUnavailable, err.Error())
	}
	scope, err := parseScope(tr.Scope)
	if err != nil {
		return nil, fail(ErrUnavailable, err.Error())
	}
	return &Token{
		AccessToken:  tr.AccessToken,
		TokenType:    tr.TokenType,
		Scope:        scope,
		RefreshToken: tr.RefreshToken,
		ExpiresIn:    expiresIn,
	}, nil
}

var (
	errEmptyBody = errors.New("empty body")
	errNotObject = errors.New("not a JSON object")
)

// decodeObject decodes body, which must be one JSON object, into tr.
func decodeObject(body []byte, tr *tokenResponse) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return errEmptyBody
	}
	if body[0] != '{' {
		return errNotObject
	}
	*tr = tokenResponse{}
	return json.Unmarshal(body, tr)
}

// jsonProblem names what is wrong with a body without quoting it.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return "member " + typeErr.Field + " has the wrong type"
	case errors.Is(err, errEmptyBody), errors.Is(err, errNotObject):
		return err.Error()
	}
	return "invalid JSON"
}

// errorFields returns the RFC 6749 §5.2 error code and description of a
// JSON object body, scrubbed, sanitized and cut. It is decoded on its own so
// that odd types elsewhere in the body do not hide the error; non-string
// members are ignored.
func errorFields(body []byte, scrub scrubber) (code, desc string) {
	var ef struct {
		Error            json.RawMessage `json:"error"`
		ErrorDescription json.RawMessage `json:"error_description"`
	}
	if body = bytes.TrimSpace(body); len(body) == 0 || body[0] != '{' || json.Unmarshal(body, &ef) != nil {
		return "", ""
	}
	var s string
	if len(ef.Error) > 0 && json.Unmarshal(ef.Error, &s) == nil {
		if rfcCodes[s] {
			code = s
		} else {
			code = scrub.clean(s, maxCodeBytes)
		}
	}
	s = ""
	if len(ef.ErrorDescription) > 0 && json.Unmarshal(ef.ErrorDescription, &s) == nil {
		desc = scrub.clean(s, maxDescriptionBytes)
	}
	return code, desc
}

// parseExpiresIn accepts a JSON number or a string holding one (some
// providers send "3600"), null or "" meaning absent. Fractions are kept;
// negative values and values beyond a time.Duration are refused.
func parseExpiresIn(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `""` {
		return 0, nil
	}
	var n json.Number // from a number, or a string in number syntax
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, errors.New("expires_in is not a number")
	}
	if i, err := n.Int64(); err == nil {
		if i < 0 || i > maxExpiresIn {
			return 0, errors.New("expires_in is out of range")
		}
		return time.Duration(i) * time.Second, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f >= float64(maxExpiresIn) {
		return 0, errors.New("expires_in is out of range")
	}
	return time.Duration(f * float64(time.Second)), nil
}

// parseScope accepts the standard space-delimited string and, leniently, an
// array of strings (joined with spaces).
func parseScope(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return strings.Join(list, " "), nil
	}
	return "", errors.New("scope is neither a string nor an array of strings")
}
