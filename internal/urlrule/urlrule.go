// Package urlrule is Keyward's one rule for the URLs it sends requests to —
// key sets, discovery documents, token endpoints: https always; http only for
// loopback hosts unless insecure HTTP is explicitly allowed; a host required;
// no password in the userinfo.
package urlrule

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// What Check refuses. The texts complete a sentence whose subject is the URL.
var (
	ErrMalformed    = errors.New("is not a valid URL")
	ErrNoHost       = errors.New("must be an absolute https:// URL with a host")
	ErrPassword     = errors.New("may not contain a password")
	ErrUserinfo     = errors.New("may not contain user info (user:password@)")
	ErrScheme       = errors.New("must be an https:// URL")
	ErrInsecureHTTP = errors.New("uses http:// for a host that is not loopback (127.0.0.1, ::1, localhost)")
)

// Rule says what Check allows beyond https.
type Rule struct {
	// AllowInsecureHTTP allows http:// for any host, not only loopback ones.
	AllowInsecureHTTP bool
	// NoUserinfo refuses any userinfo, not only a password: for URLs that
	// must not carry credentials of their own.
	NoUserinfo bool
}

// Check parses raw and applies the rule.
func (r Rule) Check(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, ErrMalformed
	}
	return u, r.CheckURL(u)
}

// CheckURL applies the rule to a parsed URL, such as a redirect's target.
func (r Rule) CheckURL(u *url.URL) error {
	if u.User != nil {
		if r.NoUserinfo {
			return ErrUserinfo
		}
		if _, ok := u.User.Password(); ok {
			return ErrPassword
		}
	}
	if u.Host == "" || u.Hostname() == "" {
		return ErrNoHost
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return nil
	case "http":
		if r.AllowInsecureHTTP || IsLoopback(u.Hostname()) {
			return nil
		}
		return ErrInsecureHTTP
	default:
		return ErrScheme
	}
}

// IsLoopback reports whether host is localhost or a loopback IP address.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
