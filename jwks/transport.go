package jwks

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// maxRedirects is the most redirects one fetch follows.
const maxRedirects = 3

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
