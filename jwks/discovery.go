package jwks

import (
	"bytes"
	"cmp"
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
	member string   // the URL it looks for: "jwks_uri" when empty
	urls   []string // metadata documents to try, in order
	opts   Options
	cached string // the URL found last; "" until discovery succeeds
}

// name is the metadata member d looks for.
func (d *discoverer) name() string { return cmp.Or(d.member, "jwks_uri") }

// DiscoverEndpoint returns the URL that issuer's metadata names in member
// (such as "introspection_endpoint", RFC 8414), read once as NewDiscovered
// reads "jwks_uri": the OpenID Connect Discovery document first, then the
// RFC 8414 one; the document's "issuer" must equal issuer exactly, and the
// URL must be https (http only for a loopback host unless
// opts.AllowInsecureHTTP) with a host and no password. opts.Timeout bounds
// each document's fetch and opts.MaxBytes its size; opts.Client, if set,
// makes the requests (redirects checked as a Remote checks them). Errors
// never quote a document.
func DiscoverEndpoint(ctx context.Context, issuer, member string, opts Options) (string, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return "", err
	}
	u, err := checkIssuer(issuer, o.AllowInsecureHTTP)
	if err != nil {
		return "", err
	}
	client, owned := newClient(o.Client, o)
	if owned != nil {
		defer owned.CloseIdleConnections()
	}
	d := &discoverer{issuer: issuer, member: member, urls: metadataURLs(u), opts: o}
	return d.discover(ctx, client)
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
		d.opts.Logger.Warn("jwks: discovery failed; keeping the "+d.name()+" found before",
			"issuer", d.issuer, d.name(), d.cached, "error", err.Error())
		return d.cached, true, nil
	default:
		return "", true, err
	}
	if d.cached != "" && jwksURI != d.cached {
		d.opts.Logger.Info("jwks: "+d.name()+" changed", "issuer", d.issuer, "from", d.cached, "to", jwksURI)
	}
	d.cached = jwksURI
	return jwksURI, true, nil
}

// discover reads the metadata documents in order and returns the URL of
// d's member in the first that yields one.
func (d *discoverer) discover(ctx context.Context, client *http.Client) (string, error) {
	var errs []error
	var msgs []string
	for _, u := range d.urls {
		jwksURI, err := d.fetchMetadata(ctx, client, u)
		if err == nil {
			d.opts.Logger.Debug("jwks: discovered "+d.name(), "issuer", d.issuer, "metadata", u, d.name(), jwksURI)
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
// URL of d's member. Error texts never quote the document.
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
	var doc map[string]json.RawMessage // exact member names
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", safeError(what, err, d.opts)
	}
	var issuer, found string
	_ = json.Unmarshal(doc["issuer"], &issuer) // not a string: no issuer
	_ = json.Unmarshal(doc[d.name()], &found)
	switch {
	case issuer != d.issuer:
		return "", fail(`"issuer" does not match the configured issuer`)
	case found == "":
		return "", fail(`no "%s"`, d.name())
	}
	if _, err := checkURL(found, d.opts.AllowInsecureHTTP); err != nil {
		return "", fail(`"%s" refused: must be https (http only for loopback hosts unless AllowInsecureHTTP), with a host and no password`, d.name())
	}
	return found, nil
}
