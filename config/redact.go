package config

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
)

// The URLs of a file may carry credentials: a Redis password in the user
// information or the query (redis://:pw@host, ?password=pw), an API key in
// the query of a jwks_url. Errors about a file never show them. The file's
// own messages name a URL's host at most; the packages the file's values are
// handed to (dualauth, jwks, the Redis client) quote URLs, and the Redis
// client repeats query values in its errors, so every such error passes
// through redactURLs before it is shown, and what they log through
// redactLogger.

// urls returns every URL the file sets.
func (f *File) urls() []string {
	var urls []string
	for _, iss := range f.JWT.Issuers {
		urls = append(urls, iss.Issuer, iss.JWKSURL)
		if in := iss.Introspection; in != nil {
			urls = append(urls, in.Endpoint)
		}
	}
	if c := f.Credentials; c != nil {
		if c.Throttle.Redis != nil {
			urls = append(urls, c.Throttle.Redis.URL)
		}
		if c.Exchange != nil {
			urls = append(urls, c.Exchange.TokenURL)
		}
	}
	return slices.DeleteFunc(urls, func(u string) bool { return u == "" })
}

// redactURLs returns msg, the text of an error from a package the file's
// values were given to, redacted by f.redactor.
func (f *File) redactURLs(msg string) string {
	if r := f.redactor(); r != nil {
		return r.Replace(msg)
	}
	return msg
}

// redactor returns a Replacer that shows each of the file's URLs without its
// user information, query values and fragment (safeURL), and replaces those
// parts by "…" wherever else they appear, such as a query value quoted
// alone; or nil if no URL of the file has such parts.
func (f *File) redactor() *strings.Replacer {
	type replacement struct{ old, new string }
	var rs []replacement
	const minLoneSecret = 6
	add := func(old, new string) {
		if old != "" {
			rs = append(rs, replacement{old, new})
		}
	}
	for _, raw := range f.urls() {
		u, err := url.Parse(raw)
		if err != nil {
			// Nothing can be told apart: the URL goes whole.
			add(raw, "(a URL that does not parse)")
			continue
		}
		secrets := urlSecrets(u)
		if len(secrets) == 0 {
			continue
		}
		safe := safeURL(u)
		add(raw, safe)
		add(u.String(), safe)
		add(u.Redacted(), safe)
		for _, secret := range secrets {
			// Alone, only what could be a secret: a short or boolean
			// value (protocol=3, skip_verify=true) would otherwise blot
			// the same text out of every line logged.
			if len(secret) >= minLoneSecret && secret != "true" && secret != "false" {
				add(secret, "…")
			}
		}
	}
	if len(rs) == 0 {
		return nil
	}
	// Longest first, so that a whole URL is replaced before its parts; in
	// one pass, so that nothing replaced is replaced again.
	slices.SortStableFunc(rs, func(a, b replacement) int { return cmp.Compare(len(b.old), len(a.old)) })
	args := make([]string, 0, 2*len(rs))
	for _, r := range rs {
		args = append(args, r.old, r.new)
	}
	return strings.NewReplacer(args...)
}

// redactLogger returns logger, or one that redacts the file's URLs (see
// redactor) from every message and attribute before logger sees them, for
// the packages the file's values are given to: the key sets log their
// source URL and the errors of fetching it, the Redis throttle its URL.
func (f *File) redactLogger(logger *slog.Logger) *slog.Logger {
	r := f.redactor()
	if logger == nil || r == nil {
		return logger
	}
	return slog.New(redactingHandler{next: logger.Handler(), r: r})
}

// redactingHandler passes records on to next with r applied to the message
// and to every attribute's text.
type redactingHandler struct {
	next slog.Handler
	r    *strings.Replacer
}

func (h redactingHandler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h redactingHandler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Replace(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactingHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	redacted := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		redacted[i] = h.attr(a)
	}
	return redactingHandler{next: h.next.WithAttrs(redacted), r: h.r}
}

func (h redactingHandler) WithGroup(name string) slog.Handler {
	return redactingHandler{next: h.next.WithGroup(name), r: h.r}
}

// attr redacts a's text: strings, errors and anything else printed as text;
// numbers, times and the like are left alone.
func (h redactingHandler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, h.r.Replace(v.String()))
	case slog.KindGroup:
		group := v.Group()
		redacted := make([]slog.Attr, len(group))
		for i, g := range group {
			redacted[i] = h.attr(g)
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(redacted...)}
	case slog.KindAny:
		var text string
		switch x := v.Any().(type) {
		case error:
			text = x.Error()
		default:
			text = fmt.Sprintf("%+v", x)
		}
		if safe := h.r.Replace(text); safe != text {
			return slog.String(a.Key, safe)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}

// safeURL is u as errors may show it: scheme, host and path, "…@" for user
// information, and the query's names with "…" for their values; no
// fragment.
func safeURL(u *url.URL) string {
	v := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, Opaque: u.Opaque}
	s := v.String()
	if u.User != nil {
		s = strings.Replace(s, "//", "//…@", 1)
	}
	if u.RawQuery != "" || u.ForceQuery {
		names := make([]string, 0)
		for field := range strings.SplitSeq(u.RawQuery, "&") {
			if name, _, _ := strings.Cut(field, "="); name != "" {
				names = append(names, name+"=…")
			}
		}
		s += "?" + strings.Join(names, "&")
	}
	return s
}

// urlSecrets returns the parts of u that errors must not show, each as
// written and decoded: the user name and password, the query's values and
// the fragment.
func urlSecrets(u *url.URL) []string {
	var s []string
	if u.User != nil {
		s = append(s, u.User.String(), u.User.Username())
		if pw, ok := u.User.Password(); ok {
			s = append(s, pw)
		}
	}
	for field := range strings.SplitSeq(u.RawQuery, "&") {
		if _, value, ok := strings.Cut(field, "="); ok {
			s = append(s, value)
			if decoded, err := url.QueryUnescape(value); err == nil {
				s = append(s, decoded)
			}
		}
	}
	if u.Fragment != "" {
		s = append(s, u.EscapedFragment(), u.Fragment)
	}
	return s
}
