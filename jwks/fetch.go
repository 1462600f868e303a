package jwks

import (
	"context"
	"fmt"
	"io"
	"net/http"
)

// readError is the error of reading a response body, as opposed to sending
// the request.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the response body: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// get fetches url with client (which caps the body, bounds the time and
// checks redirects) and returns the body of a 200 response. what names the
// document in errors, which are fetchErrors that never quote the body.
func get(ctx context.Context, client *http.Client, url, what string, o Options) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, &fetchError{msg: "jwks: fetching " + what + ": bad request URL", err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, safeError(what, err, o)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, &fetchError{msg: fmt.Sprintf("jwks: fetching %s: unexpected HTTP status %d", what, resp.StatusCode)}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, safeError(what, &readError{err: err}, o)
	}
	return body, nil
}
