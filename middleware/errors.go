package middleware

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/keyward/keyward/dualauth"
)

// codeUnauthorized is the "error" of the JSON body when the request carried
// no credentials: RFC 6750 §3.1 names no error code in that challenge, but the
// body still gets a stable machine-readable one.
const codeUnauthorized = "unauthorized"

// Descriptions used when an error has none, or when its own could not be
// shown safely.
const (
	descNoCredentials     = "authentication is required"
	descInvalidRequest    = "the request is malformed"
	descInvalidToken      = "the request could not be authenticated"
	descInsufficientScope = "the access token lacks a scope this request requires"
	descInvalidClient     = "the client credentials are not valid"
	descRetryLater        = "the request cannot be authenticated right now; retry later"
)

// minSecretLen is the shortest credential that redaction looks for: shorter
// strings would match innocent text (a bare "Bearer" header value, say).
const minSecretLen = 8

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// WriteError renders err as the response to r, the way Authenticate,
// Require, Echo and EchoRequire do for their own refusals: with
// Options.ErrorHandler if one is set, else with the WWW-Authenticate
// challenges of the route's mode (see challenges: a Bearer challenge carries
// error, error_description and, for insufficient_scope, scope, as RFC 6750 §3
// describes; invalid_client offers Basic; 429 and 503 carry Retry-After and
// no challenge), and a JSON body {"error": ..., "error_description": ...}
// served with Cache-Control: no-store. A HEAD request gets the headers and
// status only.
//
// err is normally a *dualauth.Error (wrapped or not). Any other error,
// including nil, fails closed: it is answered 401 invalid_token with a
// generic description, never 500, and its text is never sent. An error with
// no code is a no-credentials challenge (401, no error attribute). The status
// is always the one of the error's code (400, 401, 403, 429 or 503); an
// unknown code keeps a 4xx status, else gets 401. A description that quotes
// the request's credentials is replaced by a generic one.
//
// The refusal is logged to Options.Logger, if set, before it is rendered.
func (m *Middleware) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := m.normalize(r, err)
	m.logRefusal(r, e)
	if m.opts.ErrorHandler != nil {
		m.opts.ErrorHandler(w, r, e)
		return
	}
	m.render(w, r, e)
}

// normalize turns any error into a *dualauth.Error that is safe to render:
// a copy, so the caller's error is never changed.
func (m *Middleware) normalize(r *http.Request, err error) *dualauth.Error {
	var src *dualauth.Error
	if !errors.As(err, &src) || src == nil {
		return &dualauth.Error{
			Status:      http.StatusUnauthorized,
			Code:        dualauth.CodeInvalidToken,
			Description: descInvalidToken,
			Err:         err,
		}
	}
	e := *src
	if e.Code == "" {
		// No credentials: RFC 6750 §3.1 makes this a 401 without error code.
		e.Status = http.StatusUnauthorized
		e.Scope = ""
	} else if status, known := statusFor(e.Code); known || e.Status < 400 || e.Status > 499 {
		e.Status = status
	}
	if e.Description == "" || m.containsSecret(r, e.Description) {
		e.Description = defaultDescription(e.Code)
	}
	return &e
}

// statusFor is the status each error code is answered with (RFC 6750 §3.1,
// RFC 6749 §5.2), and whether the code is one of dualauth's.
func statusFor(code string) (int, bool) {
	switch code {
	case dualauth.CodeInvalidRequest:
		return http.StatusBadRequest, true
	case dualauth.CodeInsufficientScope:
		return http.StatusForbidden, true
	case dualauth.CodeInvalidToken, dualauth.CodeInvalidClient:
		return http.StatusUnauthorized, true
	case dualauth.CodeTooManyRequests:
		return http.StatusTooManyRequests, true
	case dualauth.CodeTemporarilyUnavailable:
		return http.StatusServiceUnavailable, true
	default:
		return http.StatusUnauthorized, false
	}
}

func defaultDescription(code string) string {
	switch code {
	case "":
		return descNoCredentials
	case dualauth.CodeInvalidRequest:
		return descInvalidRequest
	case dualauth.CodeInsufficientScope:
		return descInsufficientScope
	case dualauth.CodeInvalidClient:
		return descInvalidClient
	case dualauth.CodeTooManyRequests, dualauth.CodeTemporarilyUnavailable:
		return descRetryLater
	default:
		return descInvalidToken
	}
}

// render writes the default response for e.
func (m *Middleware) render(w http.ResponseWriter, r *http.Request, e *dualauth.Error) {
	body := errorBody{Error: e.Code, Description: e.Description}
	if e.Code == "" {
		body.Error = codeUnauthorized
	}
	data, err := json.Marshal(body)
	if err != nil { // cannot happen for two strings; stay closed anyway
		data = []byte(`{"error":"invalid_token","error_description":"` + descInvalidToken + `"}`)
	}
	h := w.Header()
	for _, c := range m.challenges(e) {
		h.Add("WWW-Authenticate", c)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(e.Status)
	if r == nil || r.Method != http.MethodHead {
		_, _ = w.Write(data)
	}
}

// challenges builds the WWW-Authenticate values for e. Without credentials,
// every scheme the route accepts is offered (Bearer, Basic); invalid_client
// offers Basic (RFC 6749 §5.2); 429 and 503 offer none; the other errors are
// Bearer challenges with the error's attributes (RFC 6750 §3), or a bare
// Basic one on routes that take only client credentials.
func (m *Middleware) challenges(e *dualauth.Error) []string {
	var out []string
	add := func(c string) {
		if c != "" {
			out = append(out, c)
		}
	}
	switch e.Code {
	case "":
		add(m.bearerChallenge)
		add(m.basicChallenge)
	case dualauth.CodeInvalidClient:
		// RFC 9110 §11.6.1 wants a challenge on every 401: Basic where it is
		// on, else Bearer on a route that takes tokens too. A route that
		// takes only header credentials has no scheme to offer.
		if m.basicChallenge == "" {
			add(m.bearerChallenge)
		}
		add(m.basicChallenge)
	case dualauth.CodeTooManyRequests, dualauth.CodeTemporarilyUnavailable:
	default:
		if m.bearerChallenge == "" {
			add(m.basicChallenge)
			break
		}
		add(m.bearerError(e))
	}
	return out
}

// bearerError is the Bearer challenge carrying e's attributes (RFC 6750 §3).
func (m *Middleware) bearerError(e *dualauth.Error) string {
	var b strings.Builder
	b.Grow(len(m.bearerChallenge) + len(e.Code) + len(e.Description) + len(e.Scope) + 48)
	b.WriteString(m.bearerChallenge)
	writeParam(&b, "error", e.Code)
	writeParam(&b, "error_description", e.Description)
	if e.Scope != "" {
		writeParam(&b, "scope", e.Scope)
	}
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

// logRefusal logs e to Options.Logger: what was refused and why, never the
// credentials. The cause is added only when the logger is enabled at debug.
func (m *Middleware) logRefusal(r *http.Request, e *dualauth.Error) {
	l := m.opts.Logger
	if l == nil {
		return
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	code := e.Code
	if code == "" {
		code = codeUnauthorized
	}
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs,
		slog.Int("status", e.Status),
		slog.String("code", code),
		slog.String("description", e.Description),
	)
	if r != nil {
		path := ""
		if r.URL != nil {
			path = r.URL.Path // never the query: it may carry access_token
		}
		attrs = append(attrs,
			slog.String("method", r.Method),
			slog.String("path", m.redact(r, path)),
			slog.String("remote_addr", r.RemoteAddr),
		)
	}
	if e.Err != nil && l.Enabled(ctx, slog.LevelDebug) {
		attrs = append(attrs, slog.String("cause", m.redact(r, e.Err.Error())))
	}
	l.LogAttrs(ctx, slog.LevelInfo, "keyward: request refused", attrs...)
}

// secrets returns the credentials r carries: the credentials part of each
// Authorization header value (the whole value if it names no scheme) and each
// access_token query parameter.
func (m *Middleware) secrets(r *http.Request) []string {
	if r == nil {
		return nil
	}
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); len(s) >= minSecretLen {
			out = append(out, s)
		}
	}
	if _, secretHeader, ok := m.auth.CredentialHeaders(); ok {
		for _, v := range r.Header.Values(secretHeader) {
			add(v)
		}
	}
	for _, v := range r.Header.Values("Authorization") {
		v = strings.TrimSpace(v)
		if _, cred, ok := strings.Cut(v, " "); ok {
			add(cred)
		} else {
			add(v)
		}
	}
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		for _, v := range q["access_token"] {
			add(v)
		}
	}
	return out
}

// containsSecret reports whether s quotes any credential of r.
func (m *Middleware) containsSecret(r *http.Request, s string) bool {
	for _, secret := range m.secrets(r) {
		if strings.Contains(s, secret) {
			return true
		}
	}
	return false
}

// redact replaces every credential of r found in s.
func (m *Middleware) redact(r *http.Request, s string) string {
	for _, secret := range m.secrets(r) {
		s = strings.ReplaceAll(s, secret, "[REDACTED]")
	}
	return s
}
