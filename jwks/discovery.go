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

// discoverer resolves an issuer's jwks_uri from its metadata. It is used only
// by the goroutine that owns the fetches (and the constructor before it), so
// it needs no lock.
type discoverer struct {
	issuer string
	urls   []string // metadata documents to try, in order
	opts   Options
	cached string // jwks_uri once discovery succeeded
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

func (d *discoverer) resolve(ctx context.Context, client *http.Client) (string, error) {
	if d.cached != "" {
		return d.cached, nil
	}
	var errs []error
	var msgs []string
	for _, u := range d.urls {
		jwksURI, err := d.fetchMetadata(ctx, client, u)
		if err == nil {
			d.cached = jwksURI
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
