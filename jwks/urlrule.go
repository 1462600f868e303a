package jwks

import (
	"fmt"
	"net/url"

	"github.com/keyward/keyward/internal/urlrule"
)

// checkURL parses raw and applies Keyward's URL rule (package urlrule):
// https always; http only for loopback hosts unless allowInsecure; a host
// required; no password.
func checkURL(raw string, allowInsecure bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("jwks: URL %w", urlrule.ErrMalformed)
	}
	if err := checkParsedURL(u, allowInsecure); err != nil {
		return nil, err
	}
	return u, nil
}

func checkParsedURL(u *url.URL, allowInsecure bool) error {
	if err := (urlrule.Rule{AllowInsecureHTTP: allowInsecure}).CheckURL(u); err != nil {
		return fmt.Errorf("jwks: URL %q %w (set AllowInsecureHTTP to allow http elsewhere)", u.Redacted(), err)
	}
	return nil
}
