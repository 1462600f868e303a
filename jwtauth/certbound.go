package jwtauth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/authheader"
)

// CertificateBound says where a client certificate may come from besides
// the TLS connection, for certificate-bound access tokens (RFC 8705 §3).
//
// A token whose cnf claim (or introspection member) is exactly
// {"x5t#S256": <base64url SHA-256 of the client certificate's DER>} is
// accepted only when the certificate the client presented has that
// thumbprint (compared in constant time); otherwise it is refused 401
// invalid_token with a Bearer challenge. That check is always on, with or
// without Config.CertificateBound: without it only the TLS connection
// counts — the first of the request's r.TLS.PeerCertificates, which a
// tls.Config with ClientAuth VerifyClientCertIfGiven (or stricter) asks
// for, and for gRPC the peer's TLS connection — so over plain HTTP, or
// over TLS without a client certificate, a bound token is refused.
type CertificateBound struct {
	// Header, if set, is the request header a TLS-terminating proxy puts
	// the client's certificate in. It is read only when the direct peer is
	// one of dualauth.Config.TrustedProxies, never from anyone else; from
	// such a peer it alone counts (the TLS connection, if any, is the
	// proxy's own), and without it the request has no client
	// certificate. Two forms are read:
	//
	//   - Envoy's X-Forwarded-Client-Cert (XFCC): a comma-separated list of
	//     elements, one per proxy that handled a client certificate, each
	//     a semicolon-separated list of Key=Value pairs (a value may be
	//     quoted, with \" and \\ inside). Envoy appends its element to
	//     those it was sent (forward_client_cert_details APPEND_FORWARD),
	//     so the last element is the one the trusted proxy next to this
	//     server wrote about the certificate its own client presented: it
	//     alone counts (an earlier one was written by a hop further away,
	//     perhaps the client itself). Its Hash (the hex SHA-256 of the
	//     certificate's DER) is used, else its Cert (the URL-encoded PEM);
	//     with both, they must agree. By, URI, DNS, Subject and Chain are
	//     not read.
	//   - A URL-encoded PEM certificate, as nginx's
	//     $ssl_client_escaped_cert writes it: the value starts with
	//     "-----BEGIN".
	//
	// A value that is neither, a header sent more than once, or one over
	// 32 KiB refuses a bound token (401 invalid_token); an unbound token
	// never looks at the header.
	Header string
}

// validateCertificateBound checks c.CertificateBound as New does.
func (c Config) validateCertificateBound() error {
	cb := c.CertificateBound
	if cb == nil || cb.Header == "" {
		return nil
	}
	problem := authheader.NameProblem(cb.Header)
	if problem == "" && strings.EqualFold(cb.Header, "DPoP") {
		problem = "may not be DPoP, which carries DPoP proofs"
	}
	if problem != "" {
		return &dualauth.ConfigError{Package: "jwtauth", Field: "CertificateBound.Header", Reason: problem}
	}
	return nil
}

// maxCertificateHeader bounds the forwarded certificate read: a PEM
// certificate with a long chain of names fits in a few KiB.
const maxCertificateHeader = 32 << 10

// checkCertificate holds a token bound to the client certificate whose
// SHA-256 thumbprint is x5t (base64url, as cnf."x5t#S256" has it) to the
// certificate of the request from comes with: 401 invalid_token when it
// has none, or another.
func (v *Verifier) checkCertificate(x5t string, from dualauth.Origin) error {
	const bound = "the access token is bound to a client certificate (cnf x5t#S256)"
	want, err := base64.RawURLEncoding.DecodeString(x5t)
	if err != nil || len(want) != sha256.Size { // not reached: jwtverify checked it
		return bindingRefusal(bound + " whose thumbprint is malformed")
	}
	got, present, err := v.clientCertificate(from)
	switch {
	case err != nil:
		e := bindingRefusal("the client certificate forwarded by the proxy is malformed")
		e.Err = fmt.Errorf("jwtauth: %s: header %s: %w", e.Description, v.certHeader, err)
		return e
	case !present:
		return bindingRefusal(bound + ", and the request has none")
	case subtle.ConstantTimeCompare(got[:], want) != 1:
		return bindingRefusal(bound + ", and the request's is another")
	}
	return nil
}

// clientCertificate returns the SHA-256 thumbprint of the client
// certificate of the request from comes with (see CertificateBound), and
// whether it has one; an error says the forwarded header is malformed.
func (v *Verifier) clientCertificate(from dualauth.Origin) (thumbprint [sha256.Size]byte, present bool, _ error) {
	r := from.Request()
	switch {
	case r == nil:
		return thumbprint, false, nil
	case v.certHeader != "" && from.ViaTrustedProxy():
		switch values := r.Header.Values(v.certHeader); len(values) {
		case 0:
			return thumbprint, false, nil
		case 1:
			thumbprint, err := forwardedCertificate(values[0])
			return thumbprint, err == nil, err
		default:
			return thumbprint, false, fmt.Errorf("sent %d times", len(values))
		}
	case r.TLS != nil && len(r.TLS.PeerCertificates) > 0:
		return sha256.Sum256(r.TLS.PeerCertificates[0].Raw), true, nil
	}
	return thumbprint, false, nil
}

// forwardedCertificate is the thumbprint of the client certificate a
// header value names: Envoy's XFCC or a URL-encoded PEM certificate.
func forwardedCertificate(value string) ([sha256.Size]byte, error) {
	value = strings.TrimSpace(value)
	switch {
	case len(value) > maxCertificateHeader:
		return [sha256.Size]byte{}, fmt.Errorf("%d bytes, more than %d", len(value), maxCertificateHeader)
	case strings.HasPrefix(value, "-----BEGIN"):
		return pemCertificate(value)
	}
	return xfccCertificate(value)
}

// pemCertificate is the thumbprint of the one PEM certificate escaped
// holds, URL-encoded (a "+" is itself, not a space).
func pemCertificate(escaped string) ([sha256.Size]byte, error) {
	var thumbprint [sha256.Size]byte
	text, err := url.PathUnescape(escaped)
	if err != nil {
		return thumbprint, errors.New("the PEM certificate is not URL-encoded")
	}
	block, rest := pem.Decode([]byte(text))
	switch {
	case block == nil || block.Type != "CERTIFICATE":
		return thumbprint, errors.New("no PEM certificate")
	case len(bytes.TrimSpace(rest)) > 0:
		return thumbprint, errors.New("more than one PEM block")
	}
	if _, err := x509.ParseCertificate(block.Bytes); err != nil {
		return thumbprint, errors.New("the PEM block is not an X.509 certificate")
	}
	return sha256.Sum256(block.Bytes), nil
}

// xfccCertificate is the thumbprint of the certificate the last element
// of an X-Forwarded-Client-Cert value names (see CertificateBound.Header).
func xfccCertificate(value string) ([sha256.Size]byte, error) {
	var thumbprint [sha256.Size]byte
	elements, err := splitQuoted(value, ',')
	if err != nil {
		return thumbprint, err
	}
	pairs, err := splitQuoted(elements[len(elements)-1], ';')
	if err != nil {
		return thumbprint, err
	}
	var hash, cert string
	var hashSeen, certSeen bool
	for _, pair := range pairs {
		key, val, ok := strings.Cut(pair, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return thumbprint, errors.New("an XFCC element has a pair that is not Key=Value")
		}
		if val, err = unquote(strings.TrimSpace(val)); err != nil {
			return thumbprint, err
		}
		for _, m := range []struct {
			name  string
			value *string
			seen  *bool
		}{{"Hash", &hash, &hashSeen}, {"Cert", &cert, &certSeen}} {
			if strings.EqualFold(key, m.name) {
				if *m.seen {
					return thumbprint, fmt.Errorf("the last XFCC element has %s twice", m.name)
				}
				*m.value, *m.seen = val, true
			}
		}
	}
	if certSeen {
		if thumbprint, err = pemCertificate(cert); err != nil {
			return thumbprint, fmt.Errorf("XFCC Cert: %w", err)
		}
	}
	if !hashSeen {
		if !certSeen {
			return thumbprint, errors.New("the last XFCC element has neither Hash nor Cert")
		}
		return thumbprint, nil
	}
	h, err := hex.DecodeString(hash)
	switch {
	case err != nil || len(h) != sha256.Size:
		return thumbprint, errors.New("XFCC Hash is not a hex SHA-256")
	case certSeen && !bytes.Equal(h, thumbprint[:]):
		return thumbprint, errors.New("XFCC Hash is not the SHA-256 of its Cert")
	}
	return [sha256.Size]byte(h), nil
}

// splitQuoted splits s at every sep outside a quoted string ("…", with
// backslash escapes inside); an element may be empty only if s is.
func splitQuoted(s string, sep byte) ([]string, error) {
	var parts []string
	quoted, escaped, start := false, false, 0
	for i := range len(s) {
		switch c := s[i]; {
		case escaped:
			escaped = false
		case quoted && c == '\\':
			escaped = true
		case c == '"':
			quoted = !quoted
		case !quoted && c == sep:
			parts, start = append(parts, s[start:i]), i+1
		}
	}
	if quoted {
		return nil, errors.New("an XFCC value has a quote that does not end")
	}
	parts = append(parts, s[start:])
	for _, p := range parts {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("an empty XFCC element or pair (%q separated)", sep)
		}
	}
	return parts, nil
}

// unquote is v without its quotes and escapes if it is quoted, else v;
// a quote inside an unquoted value is malformed.
func unquote(v string) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		if strings.Contains(v, `"`) {
			return "", errors.New("an XFCC value has a stray quote")
		}
		return v, nil
	}
	var b strings.Builder
	escaped := false
	for _, c := range []byte(v[1 : len(v)-1]) {
		switch {
		case escaped:
			b.WriteByte(c)
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			return "", errors.New("an XFCC value has a stray quote")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}
