package exchange

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/urlrule"
)

// Style is how credentials are sent to the token endpoint.
type Style string

const (
	// StyleBasic sends Authorization: Basic base64(urlencode(id) ":"
	// urlencode(secret)) (RFC 6749 §2.3.1) and a form body with
	// grant_type=client_credentials, the scope and Params.
	StyleBasic Style = "basic"
	// StyleJSON sends a JSON object body with grant_type, client_id,
	// client_secret, the scope and Params as string members; Content-Type
	// and Accept are application/json.
	StyleJSON Style = "json"
	// StyleForm sends a form body with grant_type, client_id, client_secret,
	// the scope and Params (e.g. response_type=token).
	StyleForm Style = "form"
)

// Defaults applied to zero fields of [Client].
const (
	// DefaultTimeout bounds one exchange.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBytes caps a token endpoint's response body.
	DefaultMaxBytes int64 = 1 << 20
	// MaxAccessTokenBytes is the largest access token accepted.
	MaxAccessTokenBytes = 64 << 10
)

// grantType is the grant_type of every request (RFC 6749 §4.4.2).
const grantType = "client_credentials"

// Client exchanges client credentials at one token endpoint. Its fields are
// read, never written, by [Client.Exchange], so one Client may serve many
// goroutines as long as nobody changes its fields meanwhile.
type Client struct {
	// TokenURL is the token endpoint: https, or http for loopback hosts
	// (127.0.0.0/8, ::1, localhost) only. It may carry a query but no
	// userinfo.
	TokenURL string
	// Style is how the credentials are sent; "" means StyleBasic.
	Style Style
	// Scope, if not empty, is sent as the scope parameter (RFC 6749 §3.3).
	Scope string
	// Params are extra body parameters, e.g. response_type=token. In
	// StyleJSON each becomes a string member and must have exactly one
	// value. grant_type, client_id, client_secret and scope are refused
	// here: they are set from the other fields and the credentials.
	Params url.Values
	// HTTPClient is used for its Transport and Timeout; nil means
	// http.DefaultTransport. Its CheckRedirect and Jar are ignored:
	// redirects are never followed and cookies are neither sent nor kept.
	HTTPClient *http.Client
	// Timeout bounds one exchange, from dialing to the end of the body;
	// 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxBytes caps the response body; 0 means DefaultMaxBytes.
	MaxBytes int64
}

// Token is what the endpoint granted (RFC 6749 §5.1).
type Token struct {
	AccessToken  string
	TokenType    string // "Bearer" in any case; other types are refused
	Scope        string // as granted, if the endpoint said
	RefreshToken string
	ExpiresIn    time.Duration // 0 if the endpoint did not say
}

// Validate checks c as Exchange would use it, without I/O. Its errors are
// a *ConfigError naming the field at fault (a nil Client aside).
func (c *Client) Validate() error {
	if c == nil {
		return errors.New("exchange: nil Client")
	}
	if err := checkTokenURL(c.TokenURL); err != nil {
		return err
	}
	style := c.style()
	switch style {
	case StyleBasic, StyleJSON, StyleForm:
	default:
		return fieldErr("Style", "unknown style %s (use basic, json or form)", excerpt.Quote(string(c.Style)))
	}
	if c.Timeout < 0 {
		return fieldErr("Timeout", "may not be negative")
	}
	if c.MaxBytes < 0 {
		return fieldErr("MaxBytes", "may not be negative")
	}
	for _, r := range c.Scope {
		// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), joined by spaces.
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return fieldErr("Scope", "%s holds a character scopes may not contain (RFC 6749 §3.3: printable ASCII without quotes or backslashes, space-separated)", excerpt.Quote(c.Scope))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(c.Params)) {
		if k == "" {
			return fieldErr("Params", "a parameter name may not be empty")
		}
		if why, reserved := reservedParams[k]; reserved {
			return fieldErr("Params."+k, "may not be set here: %s", why)
		}
		if style == StyleJSON && len(c.Params[k]) != 1 {
			if !plainName(k) {
				return fieldErr("Params", "%s must have exactly one value in the JSON style", excerpt.Quote(k))
			}
			return fieldErr("Params."+k, "must have exactly one value in the JSON style")
		}
	}
	return nil
}

// plainName reports whether a parameter name can be named as it is in a
// field path: letters, digits, "_", "-" and "." only, at most 64 bytes.
func plainName(name string) bool {
	if len(name) > 64 {
		return false
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// reservedParams are the body parameters a Client sets itself, with what
// to do instead.
var reservedParams = map[string]string{
	"grant_type":    "it is always client_credentials",
	"client_id":     "it is the caller's client id",
	"client_secret": "it is the caller's secret",
	"scope":         "use the scope setting (Client.Scope; credentials.exchange.scope in a configuration file)",
}

// ConfigError is a field of a Client that Validate refuses.
type ConfigError struct {
	// Field is the field at fault: TokenURL, Style, Timeout, MaxBytes,
	// Scope, Params, or Params.<name> for one parameter whose name is
	// plain (letters, digits, "_", "-", "."; another is quoted in Reason).
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *ConfigError) Error() string { return "exchange: " + e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

func (c *Client) style() Style {
	if c.Style == "" {
		return StyleBasic
	}
	return c.Style
}

func checkTokenURL(raw string) error {
	if raw == "" {
		return fieldErr("TokenURL", "is required: the URL of the authorization server's token endpoint")
	}
	// NoUserinfo: net/http would turn userinfo into an Authorization header
	// of its own; credentials go only where the Style puts them.
	u, err := (urlrule.Rule{NoUserinfo: true}).Check(raw)
	switch {
	case errors.Is(err, urlrule.ErrInsecureHTTP):
		return fieldErr("TokenURL", "uses http:// for %s, which is allowed only for loopback hosts (127.0.0.1, ::1, localhost); client secrets would cross the network in the clear; use https://", excerpt.Quote(u.Hostname()))
	case err != nil:
		return &ConfigError{Field: "TokenURL", Reason: err.Error()}
	}
	return nil
}

// Exchange asks the token endpoint for an access token with clientID and
// secret (client credentials grant) and returns it after checking that it is
// a Bearer token of at most MaxAccessTokenBytes. It does not verify the
// token. Every error is an [*Error] matching [ErrRejected] or
// [ErrUnavailable]; none contains the secret. An answer of 429 or 503 also
// carries a [*RetryError] with the endpoint's Retry-After.
//
// If ctx carries a caller's address ([WithCallerAddr]), it is sent in an
// X-Forwarded-For header.
func (c *Client) Exchange(ctx context.Context, clientID, secret string) (*Token, error) {
	scrub := newScrubber(clientID, secret)
	if err := c.Validate(); err != nil {
		return nil, newError(ErrUnavailable, clientID, scrub, "misconfigured: "+strings.TrimPrefix(err.Error(), "exchange: "), err)
	}
	if clientID == "" || secret == "" {
		return nil, newError(ErrRejected, clientID, scrub, "empty client id or secret", nil)
	}

	timeout := c.Timeout
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := c.newRequest(ctx, clientID, secret)
	if err != nil {
		// Only an unencodable parameter gets here; the error names no value.
		return nil, newError(ErrUnavailable, clientID, scrub, "building the request failed", nil)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, newError(ErrUnavailable, clientID, scrub, describe(err, timeout), err)
	}
	defer resp.Body.Close()
	retry := retryError(resp.StatusCode, resp.Header, time.Now())

	maxBytes := c.MaxBytes
	if maxBytes == 0 {
		maxBytes = DefaultMaxBytes
	}
	body, tooLarge, err := readCapped(resp, maxBytes)
	if err != nil {
		e := newError(ErrUnavailable, clientID, scrub, "reading the response: "+describe(err, timeout), err)
		e.Status = resp.StatusCode
		return nil, withRetry(e, retry)
	}
	tok, err := interpret(resp.StatusCode, body, tooLarge, maxBytes, clientID, scrub)
	if err != nil {
		return nil, withRetry(err, retry)
	}
	return tok, nil
}

// newRequest builds the POST for c's style. The secret goes into the body or
// the Authorization header, never the URL.
func (c *Client) newRequest(ctx context.Context, clientID, secret string) (*http.Request, error) {
	var (
		body        []byte
		contentType string
	)
	switch c.style() {
	case StyleJSON:
		m := map[string]string{
			"grant_type":    grantType,
			"client_id":     clientID,
			"client_secret": secret,
		}
		if c.Scope != "" {
			m["scope"] = c.Scope
		}
		for k, vs := range c.Params {
			m[k] = vs[0] // Validate made sure there is exactly one
		}
		var err error
		if body, err = jsonObject(m); err != nil {
			return nil, err
		}
		contentType = "application/json"
	default:
		v := make(url.Values, len(c.Params)+4)
		for k, vs := range c.Params {
			v[k] = vs
		}
		v.Set("grant_type", grantType)
		if c.Scope != "" {
			v.Set("scope", c.Scope)
		}
		if c.style() == StyleForm {
			v.Set("client_id", clientID)
			v.Set("client_secret", secret)
		}
		body = []byte(v.Encode())
		contentType = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.TokenURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Accept", "application/json")
	if addr, ok := callerAddr(ctx); ok {
		req.Header.Set(HeaderForwardedFor, addr.String())
	}
	if c.style() == StyleBasic {
		req.Header.Set("Authorization", authheader.Basic(clientID, secret))
	}
	return req, nil
}

// httpClient returns a client that uses c.HTTPClient's transport and timeout
// but never follows redirects and has no cookie jar.
func (c *Client) httpClient() *http.Client {
	hc := &http.Client{CheckRedirect: refuseRedirect}
	if c.HTTPClient != nil {
		hc.Transport = c.HTTPClient.Transport
		hc.Timeout = c.HTTPClient.Timeout
	}
	return hc
}

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// jsonObject encodes m without HTML escaping, the way jsonString encodes one
// string.
func jsonObject(m map[string]string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// jsonString is s as it appears inside a JSON string in a StyleJSON body,
// without the quotes.
func jsonString(s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return b[1 : len(b)-1]
}

// readCapped reads at most max bytes of resp's body; tooLarge reports that
// the body (or its declared length) is longer.
func readCapped(resp *http.Response, max int64) (body []byte, tooLarge bool, err error) {
	if resp.ContentLength > max {
		return nil, true, nil
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(body)) > max {
		return nil, true, nil
	}
	return body, false, nil
}

// describe puts a transport error into words that quote no response body:
// a timeout, a cancellation, or the *url.Error (method, URL and network
// cause; the URL never holds the secret).
func describe(err error, timeout time.Duration) string {
	var urlErr *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return "timed out (limit " + timeout.String() + ")"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &urlErr):
		return urlErr.Error()
	}
	return "request failed"
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}
