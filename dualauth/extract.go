package dualauth

import (
	"net/http"
	"net/url"
	"strings"
)

// Authenticate finds the credentials in r, verifies them and returns the
// caller. Every failure is an *Error.
//
// Only the Authorization header is read (RFC 6750 §2.1): a token in the URI
// query is refused with invalid_request, one in a form body is not looked
// for. The scheme name is case-insensitive (RFC 7235 §2.1). More than one
// Authorization header is invalid_request: the authenticator never guesses
// which one was meant.
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	values := r.Header.Values("Authorization")
	if len(values) > 1 {
		return nil, errInvalidRequest("the request has more than one Authorization header")
	}
	if hasQueryToken(r.URL) {
		return nil, errInvalidRequest("access tokens are accepted only in the Authorization header")
	}
	if len(values) == 0 {
		return nil, errNoCredentials()
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return nil, errNoCredentials()
	}
	token := strings.TrimLeft(rest, " ")
	if token == "" {
		return nil, errInvalidRequest("the Bearer credentials are empty")
	}
	if !isToken68(token) {
		return nil, errInvalidRequest("the Bearer token has characters RFC 6750 does not allow")
	}
	return a.Verify(r.Context(), token)
}

// hasQueryToken reports whether the URI query carries an access_token
// parameter (RFC 6750 §2.3), which this server does not accept.
func hasQueryToken(u *url.URL) bool {
	if u == nil || !strings.Contains(u.RawQuery, "access_token") {
		return false
	}
	q, _ := url.ParseQuery(u.RawQuery) // keeps the pairs it could read
	return q.Has("access_token")
}

// isToken68 reports whether s has the b64token syntax of RFC 6750 §2.1:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	end := len(s)
	for end > 0 && s[end-1] == '=' {
		end--
	}
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/':
		default:
			return false
		}
	}
	return true
}
