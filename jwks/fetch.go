package jwks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/keyward/keyward/internal/urlrule"
)

// maxRedirects is the most redirects one fetch follows.
const maxRedirects = 3

// errBodyTooLarge is the error of a response body over Options.MaxBytes.
var errBodyTooLarge = errors.New("jwks: response body too large")

// checkURL parses raw and applies Keyward's URL rule (package urlrule):
// https always; http only for loopback hosts unless allowInsecure; a host
// required; no password.
func checkURL(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("jwks: URL %w", urlrule.ErrMalformed)
	}
	if err := checkParsedURL(u, allowInsecure); err != nil {
		return nil, err
	}
	return u, nil
}

func checkParsedURL(u *url.URL, allowInsecure bool) error {
	if err := (urlrule.Rule{AllowInsecureHTTP: allowInsecure}).CheckURL(u); err != nil {
		return fmt.Errorf("jwks: URL %q %w (set AllowInsecureHTTP to allow http elsewhere)", u.Redacted(), err)
	}
	return nil
}

// newClient returns the client a Remote fetches with: a copy of given (or a
// fresh client with its own transport) whose transport caps bodies, whose
// timeout is at most timeout and whose redirect policy is ours. owned is the
// transport to close idle connections of when the Remote stops; nil if the
// caller's transport is used.
func newClient(given *http.Client, o Options) (c *http.Client, owned *http.Transport) {
	var base http.RoundTripper
	var userCheck func(*http.Request, []*http.Request) error
	c = &http.Client{}
	if given != nil {
		*c = *given
		base = given.Transport
		userCheck = given.CheckRedirect
	}
	if base == nil {
		owned = newTransport()
		base = owned
	}
	c.Transport = &capTransport{base: base, max: o.MaxBytes}
	if c.Timeout == 0 || c.Timeout > o.Timeout {
		c.Timeout = o.Timeout
	}
	allowInsecure := o.AllowInsecureHTTP
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("jwks: stopped after %d redirects", maxRedirects)
		}
		if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" {
			return fmt.Errorf("jwks: redirect from https to %s refused", req.URL.Scheme)
		}
		if err := checkParsedURL(req.URL, allowInsecure); err != nil {
			return err
		}
		if userCheck != nil {
			return userCheck(req, via)
		}
		return nil
	}
	return c, owned
}

// newTransport returns a transport of our own, so that a set shares no
// connections with other users of http.DefaultTransport.
func newTransport() *http.Transport {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// capTransport rejects response bodies larger than max bytes: up front when
// Content-Length says so, otherwise with an error once more is read.
type capTransport struct {
	base http.RoundTripper
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (t *capTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d bytes", errBodyTooLarge, resp.ContentLength, t.max)
	}
	resp.Body = &capBody{rc: resp.Body, left: t.max}
	return resp, nil
}

// capBody reads at most left bytes and fails on the byte after that.
type capBody struct {
	rc   io.ReadCloser
	left int64
	err  error
}

func (b *capBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		return n, err
	}
	n = int(b.left)
	b.left = 0
	b.err = errBodyTooLarge
	return n, b.err
}

func (b *capBody) Close() error { return b.rc.Close() }

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

// decodeKeySet returns the members of the "keys" array of a JWK Set document
// (RFC 7517 §5), unparsed. A body that is not a JSON object with a "keys"
// array ({}, null, {"keys":null}, an error document) is no key set: it fails,
// so that the keys held are kept. Other top-level members are ignored.
func decodeKeySet(body []byte) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	switch {
	case len(body) == 0:
		return nil, setError("empty response")
	case !json.Valid(body):
		return nil, setError("response is not valid JSON")
	case body[0] != '{':
		return nil, setError("response is not a JWK Set (not a JSON object)")
	}
	var doc map[string]json.RawMessage // exact member names, unlike a struct
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, setError("response is not valid JSON")
	}
	keys := bytes.TrimSpace(doc["keys"])
	if len(keys) == 0 || keys[0] != '[' {
		return nil, setError(`response is not a JWK Set (no "keys" array)`)
	}
	var members []json.RawMessage
	if err := json.Unmarshal(keys, &members); err != nil {
		return nil, setError(`response is not a JWK Set (no "keys" array)`)
	}
	return members, nil
}

// setError is the error of a JWK Set response that arrived but is unusable.
func setError(desc string) error {
	return &fetchError{msg: "jwks: fetching JWK Set: " + desc}
}

// fetchError is the error of a failed refresh attempt. Its text is safe to
// log and to show in Status: it never quotes a response body. The cause stays
// reachable with errors.Is and errors.As.
type fetchError struct {
	msg string
	err error
}

func (e *fetchError) Error() string { return e.msg }
func (e *fetchError) Unwrap() error { return e.err }

// readError is the error of reading a response body, as opposed to sending
// the request.
type readError struct{ err error }

func (e *readError) Error() string { return "reading the response body: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

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
// Key-level problems never get here: such keys are skipped (see readKeys).
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
