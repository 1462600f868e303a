// Package refusal answers and logs a refusal of dualauth over HTTP, so that
// the net/http middleware and keyward serve's forward-auth handler answer
// and log alike: the status, WWW-Authenticate challenges, Retry-After and a
// JSON body {"error": ..., "error_description": ...}.
package refusal

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/keyward/keyward/dualauth"
)

// code returns e's error code, dualauth.CodeUnauthorized for none.
func code(e *dualauth.Error) string {
	if e.Code == "" {
		return dualauth.CodeUnauthorized
	}
	return e.Code
}

// Render sets on h the headers of the answer to e (its challenges,
// Retry-After when it has one, the headers of e.Header such as DPoP-Nonce,
// the JSON content type, no-store, nosniff and the body's length) and
// returns the JSON body. The caller writes
// e.Status and the body (not to a HEAD request): whoever needs the body
// before the status, as nginx's helper header does, has it.
func Render(h http.Header, e *dualauth.Error) []byte {
	body, _ := json.Marshal(struct { // two strings always marshal
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{code(e), e.Description})
	for _, c := range e.Challenges {
		h.Add("WWW-Authenticate", c)
	}
	for name, values := range e.Header {
		h[http.CanonicalHeaderKey(name)] = append([]string(nil), values...)
	}
	if e.RetryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return body
}

// Log logs e, the refusal of r (which may be nil), to l if it is not nil:
// what was refused and why, never the credentials nor the query (it may
// carry access_token). The cause is added only when l is enabled at debug.
func Log(l *slog.Logger, r *http.Request, e *dualauth.Error) {
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
	attrs := make([]slog.Attr, 0, 7)
	attrs = append(attrs,
		slog.Int("status", e.Status),
		slog.String("code", code(e)),
		slog.String("description", e.Description),
	)
	if r != nil {
		path := ""
		if r.URL != nil {
			path = r.URL.Path
		}
		attrs = append(attrs,
			slog.String("method", r.Method),
			slog.String("path", path),
			slog.String("remote_addr", r.RemoteAddr),
		)
	}
	if e.Err != nil && l.Enabled(ctx, slog.LevelDebug) {
		attrs = append(attrs, slog.String("cause", e.Err.Error()))
	}
	l.LogAttrs(ctx, slog.LevelInfo, "keyward: request refused", attrs...)
}
