// Package authheader is the syntax of HTTP authentication that package
// dualauth reads and writes: HTTP Basic credentials as OAuth clients send
// them (RFC 6749 §2.3.1), the b64token syntax of Bearer tokens (RFC 6750
// §2.1), access tokens in a URI query (RFC 6750 §2.3), WWW-Authenticate
// challenges (RFC 9110 §11.6.1), client credential headers and their
// names, and whether a text quotes a request's credentials.
package authheader

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/keyward/keyward/internal/excerpt"
)

// Basic is the Authorization header value that sends a client id and
// secret in HTTP Basic as RFC 6749 §2.3.1 asks: each
// application/x-www-form-urlencoded, then joined by ":" and base64-encoded
// (RFC 7617). ParseBasic reads it back.
func Basic(id, secret string) string {
	pair := url.QueryEscape(id) + ":" + url.QueryEscape(secret)
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(pair))
}

// ParseBasic decodes HTTP Basic credentials as RFC 6749 §2.3.1 sends them:
// base64 of form-urlencoded id ":" form-urlencoded secret. problem, when
// not "", says what is wrong with them, for an invalid_request refusal.
func ParseBasic(credentials string) (id, secret, problem string) {
	raw, err := base64.StdEncoding.DecodeString(credentials)
	if err != nil {
		return "", "", "the Basic credentials are not base64"
	}
	rawID, rawSecret, ok := strings.Cut(string(raw), ":")
	if !ok {
		return "", "", "the Basic credentials have no ':' between client id and secret"
	}
	if id, err = url.QueryUnescape(rawID); err == nil {
		secret, err = url.QueryUnescape(rawSecret)
	}
	if err != nil {
		return "", "", "the Basic credentials are not form-urlencoded (RFC 6749 §2.3.1)"
	}
	if id == "" || secret == "" {
		return "", "", "the Basic credentials have an empty client id or secret"
	}
	return id, secret, ""
}

// ClientHeaders reads a client id and secret from the request headers
// idHeader and secretHeader: present is false when neither is sent; problem,
// when not "", says what is wrong (a header repeated, one missing or empty),
// for an invalid_request refusal.
func ClientHeaders(h http.Header, idHeader, secretHeader string) (
	id, secret string, present bool, problem string,
) {
	ids, secrets := h.Values(idHeader), h.Values(secretHeader)
	switch {
	case len(ids) > 1 || len(secrets) > 1:
		return "", "", false, "the request repeats a client credential header"
	case len(ids)+len(secrets) == 0:
		return "", "", false, ""
	case len(ids) == 0 || ids[0] == "":
		return "", "", true, "the " + idHeader + " header is missing or empty"
	case len(secrets) == 0 || secrets[0] == "":
		return "", "", true, "the " + secretHeader + " header is missing or empty"
	}
	return ids[0], secrets[0], true, ""
}

// HasQueryToken reports whether the URI query carries an access_token
// parameter (RFC 6750 §2.3). Pairs split on '&' or ';' are each looked at,
// with the name unescaped where it can be, so that neither encoding tricks
// nor a malformed neighbour hide one.
func HasQueryToken(u *url.URL) bool {
	if u == nil || u.RawQuery == "" {
		return false
	}
	for pair := range strings.FieldsFuncSeq(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		name, _, _ := strings.Cut(pair, "=")
		if unescaped, err := url.QueryUnescape(name); err == nil {
			name = unescaped
		}
		if strings.EqualFold(strings.TrimSpace(name), "access_token") {
			return true
		}
	}
	return false
}

// NotToken68At is the offset of the first byte of s that breaks the
// b64token syntax of RFC 6750 §2.1,
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=", 0 when s
// is empty or only padding, and -1 when s has the syntax.
func NotToken68At(s string) int {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return 0
	}
	for i := 0; i < end; i++ {
		if !token68Chars[s[i]] {
			return i
		}
	}
	return -1
}

// token68Chars are the bytes of b64token before its "=" padding.
var token68Chars = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/") {
		t[c] = true
	}
	return t
}()

// Challenge is `<scheme> realm="<realm>"` followed by `, name="value"` for
// each pair of params (names and values alternate).
func Challenge(scheme, realm string, params ...string) string {
	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString(" realm=")
	writeQuoted(&b, realm)
	for i := 0; i+1 < len(params); i += 2 {
		b.WriteString(", ")
		b.WriteString(params[i])
		b.WriteByte('=')
		writeQuoted(&b, params[i+1])
	}
	return b.String()
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

// NameProblem says what keeps name from naming a client credential
// header, or "".
func NameProblem(name string) string {
	switch {
	case !httpguts.ValidHeaderFieldName(name):
		return fmt.Sprintf("%s is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", excerpt.Quote(name))
	case strings.EqualFold(name, "Authorization"):
		return "may not be Authorization, which carries Bearer tokens and HTTP Basic"
	}
	return ""
}

// QuotesCredentials reports whether s quotes a credential of r: the
// credentials of an Authorization header (the whole value if it names no
// scheme), the client secret header (secretHeader, if not ""), or an
// access_token query parameter. Credentials shorter than 8 bytes are not
// looked for: they would match innocent text.
func QuotesCredentials(r *http.Request, secretHeader, s string) bool {
	if r == nil {
		return false
	}
	quotes := func(cred string) bool {
		cred = strings.TrimSpace(cred)
		return len(cred) >= 8 && strings.Contains(s, cred)
	}
	for _, v := range r.Header.Values("Authorization") {
		v = strings.TrimSpace(v)
		if _, cred, ok := strings.Cut(v, " "); ok {
			v = cred
		}
		if quotes(v) {
			return true
		}
	}
	if secretHeader != "" && slices.ContainsFunc(r.Header.Values(secretHeader), quotes) {
		return true
	}
	if r.URL != nil && strings.Contains(r.URL.RawQuery, "access_token") {
		q, _ := url.ParseQuery(r.URL.RawQuery)
		return slices.ContainsFunc(q["access_token"], quotes)
	}
	return false
}
