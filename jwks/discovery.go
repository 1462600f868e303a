package jwks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Well-known metadata paths, tried in this order.
const (
	oidcWellKnown  = "/.well-known/openid-configuration"       // OpenID Connect Discovery 1.0
	oauthWellKnown = "/.well-known/oauth-authorization-server" // RFC 8414
)

// discoverer resolves an issuer's jwks_uri from its metadata, which it reads
// again whenever asked to renew (see Remote.fetch for when). It is used only
// by the goroutine that owns the fetches (and the constructor before it), so
// it needs no lock.
type discoverer struct {
	issuer string
	urls   []string // metadata documents to try, in order
	opts   Options
	cached string // the jwks_uri found last; "" until discovery succeeds
}

// metadataURLs returns the OpenID Connect discovery URL of issuer u and its
// RFC 8414 URL, where the well-known path goes between host and path.
func metadataURLs(u *url.URL) []string {
	origin := u.Scheme + "://" + u.Host
	path := strings.TrimSuffix(u.EscapedPath(), "/")
	return []string{
		origin + path + oidcWellKnown,
		origin + oauthWellKnown + path,
	}
}

// resolve returns the jwks_uri found last, unless renew is true or none was
// found yet: then it reads the metadata. If that fails while a jwks_uri was
// found before, that one is returned (and the failure logged), so that a
// metadata outage does not stop refreshes.
func (d *discoverer) resolve(ctx context.Context, client *http.Client, renew bool) (string, bool, error) {
	if d.cached != "" && !renew {
		return d.cached, false, nil
	}
	jwksURI, err := d.discover(ctx, client)
	switch {
	case err == nil:
	case d.cached != "" && ctx.Err() == nil:
		d.opts.Logger.Warn("jwks: discovery failed; keeping the jwks_uri found before",
			"issuer", d.issuer, "jwks_uri", d.cached, "error", err.Error())
		return d.cached, true, nil
	default:
		return "", true, err
	}
	if d.cached != "" && jwksURI != d.cached {
		d.opts.Logger.Info("jwks: jwks_uri changed", "issuer", d.issuer, "from", d.cached, "to", jwksURI)
	}
	d.cached = jwksURI
	return jwksURI, true, nil
}

// discover reads the metadata documents in order and returns the jwks_uri
// of the first that yields one.
func (d *discoverer) discover(ctx context.Context, client *http.Client) (string, error) {
	var errs []error
	var msgs []string
	for _, u := range d.urls {
		jwksURI, err := d.fetchMetadata(ctx, client, u)
		if err == nil {
			d.opts.Logger.Debug("jwks: discovered jwks_uri", "issuer", d.issuer, "metadata", u, "jwks_uri", jwksURI)
			return jwksURI, nil
		}
		errs = append(errs, err)
		msgs = append(msgs, strings.TrimPrefix(err.Error(), "jwks: "))
		if ctx.Err() != nil {
			break
		}
	}
	return "", &fetchError{
		msg: "jwks: discovery failed: " + strings.Join(msgs, "; "),
		err: errors.Join(errs...),
	}
}

// fetchMetadata fetches one metadata document and returns its validated
// jwks_uri. Error texts never quote the document.
func (d *discoverer) fetchMetadata(ctx context.Context, client *http.Client, metaURL string) (string, error) {
	what := "metadata " + metaURL
	fail := func(format string, args ...any) error {
		return &fetchError{msg: "jwks: fetching " + what + ": " + fmt.Sprintf(format, args...)}
	}
	body, err := get(ctx, client, metaURL, what, d.opts)
	if err != nil {
		return "", err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", fail("empty response")
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", safeError(what, err, d.opts)
	}
	switch {
	case doc.Issuer != d.issuer:
		return "", fail(`"issuer" does not match the configured issuer`)
	case doc.JWKSURI == "":
		return "", fail(`no "jwks_uri"`)
	}
	if _, err := checkURL(doc.JWKSURI, d.opts.AllowInsecureHTTP); err != nil {
		return "", fail(`"jwks_uri" refused: must be https (http only for loopback hosts unless AllowInsecureHTTP), with a host and no password`)
	}
	return doc.JWKSURI, nil
}
