package jwks

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkURL parses raw and applies the scheme rule: https always; http only
// for loopback hosts unless allowInsecure; nothing else. URLs without a host
// or with a password in their userinfo are refused.
func checkURL(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("jwks: malformed URL")
	}
	if err := checkParsedURL(u, allowInsecure); err != nil {
		return nil, err
	}
	return u, nil
}

func checkParsedURL(u *url.URL, allowInsecure bool) error {
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("jwks: URL %q has no host", u.Redacted())
	}
	if u.User != nil {
		if _, hasPassword := u.User.Password(); hasPassword {
			return fmt.Errorf("jwks: URL %q carries a password", u.Redacted())
		}
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowInsecure || isLoopback(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("jwks: http URL %q refused for a non-loopback host (use https, or set AllowInsecureHTTP)", u.Redacted())
	default:
		return fmt.Errorf("jwks: URL scheme %q not supported (use https)", u.Scheme)
	}
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
