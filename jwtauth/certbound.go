package jwtauth

import (
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
	// one of dualauth.Config.TrustedProxies, never from anyone else, and
	// only when the request has no client certificate of its own on its
	// TLS connection. Two forms are read:
	//
	//   - Envoy's X-Forwarded-Client-Cert (XFCC): a comma-separated list of
	//     elements, one per proxy that handled a client certificate, each
	//     a semicolon-separated list of Key=Value pairs (a value may be
	//     quoted, with \" and \\ inside). The last element is the one the
	//     trusted proxy next to this server added, naming the certificate
	//     its own client presented: it alone counts (an earlier element
	//     was written by a hop further away, which may be the client
	//     itself). Its Hash (the hex SHA-256 of the DER) is used, or if it
	//     has none its Cert (the URL-encoded PEM); Hash and Cert both
	//     present must agree. By, URI, DNS, Subject and Chain are ignored.
	//   - A URL-encoded PEM certificate, as nginx's
	//     $ssl_client_escaped_cert writes it (Traefik's and HAProxy's
	//     forms that hold PEM, URL-encoded, read alike).
	//
	// A value that is neither, repeated headers, or an empty value refuse
	// a bound token (401 invalid_token); an unbound token never looks at
	// the header. X-Forwarded-Client-Cert is the usual name.
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
