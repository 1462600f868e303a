package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
)

// fetchError is the error of a failed refresh attempt. Its text is safe to
// log and to show in Status: it never quotes a response body. The cause stays
// reachable with errors.Is and errors.As.
type fetchError struct {
	msg string
	err error
}

func (e *fetchError) Error() string { return e.msg }
func (e *fetchError) Unwrap() error { return e.err }

// safeError wraps err, the error of fetching what (e.g. "JWK Set"), into a
// fetchError with text built only from known, body-free parts.
func safeError(what string, err error, o Options) error {
	var fe *fetchError
	if errors.As(err, &fe) {
		return err
	}
	return &fetchError{msg: "jwks: fetching " + what + ": " + describe(err, o), err: err}
}

// describe names the cause of a failed request, body read or JSON decode.
// Key-level problems never get here: such keys are skipped (see parseKeys).
func describe(err error, o Options) string {
	var (
		readErr   *readError
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		urlErr    *url.Error
	)
	switch {
	case errors.Is(err, errBodyTooLarge):
		return fmt.Sprintf("response body exceeds %d bytes", o.MaxBytes)
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out after " + o.Timeout.String()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &readErr):
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return "response body truncated (connection closed early)"
		}
		return "reading the response body failed"
	case errors.As(err, &urlErr):
		// Transport and redirect errors: the request URL (password redacted)
		// and a network or TLS cause, never body content.
		return urlErr.Error()
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return "response is not valid JSON"
	case errors.Is(err, io.EOF):
		return "empty response"
	case errors.As(err, &typeErr):
		return "response JSON has an unexpected structure"
	}
	return "request failed"
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
