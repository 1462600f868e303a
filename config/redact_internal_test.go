package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

// TestRedactingHandler: every way a value reaches the log is redacted: the
// message, attributes of a record, of With and inside groups, errors and
// other values printed as text; values that are not text stay as they are.
func TestRedactingHandler(t *testing.T) {
	const raw = "rediss://secretuser:secretpw@redis.internal:6380/2?password=secretq&protocol=3&skip_verify=true"
	f := &File{Credentials: &Credentials{Throttle: Throttle{Redis: &Redis{URL: raw}}}}
	u, _ := url.Parse(raw)
	const safe = "rediss://…@redis.internal:6380/2?password=…&protocol=…&skip_verify=…"
	tests := []struct {
		name string
		log  func(*slog.Logger)
		want string // in the output
	}{
		{"message", func(l *slog.Logger) { l.Info("connecting to " + raw) }, `msg="connecting to ` + safe + `"`},
		{"string attribute", func(l *slog.Logger) { l.Info("x", "url", u.Redacted()) }, `url="` + safe + `"`},
		{"With", func(l *slog.Logger) { l.With("url", raw).Info("x") }, `url="` + safe + `"`},
		{"group", func(l *slog.Logger) { l.Info("x", slog.Group("redis", "url", raw)) }, `redis.url="` + safe + `"`},
		{"WithGroup", func(l *slog.Logger) { l.WithGroup("redis").Info("x", "url", raw) }, `redis.url="` + safe + `"`},
		{"error", func(l *slog.Logger) { l.Info("x", "error", fmt.Errorf("dial %s: %w", raw, errors.New("refused"))) }, `error="dial ` + safe + `: refused"`},
		{"value printed as text", func(l *slog.Logger) { l.Info("x", "u", u) }, `u="` + safe + `"`},
		{"a part quoted alone", func(l *slog.Logger) { l.Info("x", "db", `"secretq"`) }, `db="\"…\""`},
		{"numbers untouched", func(l *slog.Logger) { l.Info("x", "n", 6380, "ok", true) }, `n=6380 ok=true`},
		{"short and boolean values left alone", func(l *slog.Logger) { l.Info("status 503 after 3 tries", "flag", "true") }, `msg="status 503 after 3 tries" flag=true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			tt.log(f.redactLogger(slog.New(slog.NewTextHandler(&out, nil))))
			if !strings.Contains(out.String(), tt.want) || strings.Contains(out.String(), "secret") {
				t.Errorf("logged %q; want %q and no secret", out.String(), tt.want)
			}
		})
	}
}

// TestRedactLoggerUnchanged: without a URL that holds anything to redact,
// the logger is used as it is.
func TestRedactLoggerUnchanged(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	for _, f := range []*File{
		{},
		{JWT: JWT{Issuers: []Issuer{{Issuer: "https://auth.example.com", JWKSURL: "https://auth.example.com/jwks.json"}}}},
	} {
		if got := f.redactLogger(logger); got != logger {
			t.Errorf("redactLogger wrapped the logger for %+v", f)
		}
	}
}
