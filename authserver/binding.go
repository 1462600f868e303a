package authserver

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"

	"github.com/keyward/keyward/internal/dpop"
)

// Token types of token responses and introspection answers.
const (
	tokenTypeBearer = "Bearer"
	tokenTypeDPoP   = "DPoP" // RFC 9449 §5
)

// Binding kinds, for logs.
const (
	bindingDPoP        = "dpop"
	bindingCertificate = "certificate"
)

// confirmation is the "cnf" of a sender-constrained access token (RFC
// 7800 §3.1): a JWT claim, stored with an opaque token and answered by
// introspection. At most one member is set: a token is bound to one key.
type confirmation struct {
	// JKT is the RFC 7638 thumbprint of the client's DPoP key (RFC 9449
	// §6).
	JKT string `json:"jkt,omitempty"`
	// X5TS256 is the base64url SHA-256 of the client certificate's DER
	// (RFC 8705 §3.1).
	X5TS256 string `json:"x5t#S256,omitempty"`
}

// bound reports whether c binds a token to a key.
func (c confirmation) bound() bool { return c.JKT != "" || c.X5TS256 != "" }

// tokenType is the token_type of a token bound by c: DPoP for a DPoP key,
// Bearer otherwise (a certificate-bound token is still sent as Bearer, RFC
// 8705 §3).
func (c confirmation) tokenType() string {
	if c.JKT != "" {
		return tokenTypeDPoP
	}
	return tokenTypeBearer
}

// kind names the binding for logs: "dpop", "certificate" or "".
func (c confirmation) kind() string {
	switch {
	case c.JKT != "":
		return bindingDPoP
	case c.X5TS256 != "":
		return bindingCertificate
	}
	return ""
}

// claim is c as the cnf claim of a JWT, or nil when c binds nothing.
func (c confirmation) claim() map[string]string {
	switch {
	case c.JKT != "":
		return map[string]string{"jkt": c.JKT}
	case c.X5TS256 != "":
		return map[string]string{"x5t#S256": c.X5TS256}
	}
	return nil
}

// pointer is c for an introspection answer: nil when c binds nothing, so
// that cnf is left out.
func (c confirmation) pointer() *confirmation {
	if !c.bound() {
		return nil
	}
	return &c
}

// binding returns what the access token issued for r at ep is bound to.
//
// A request with a DPoP header gets a token bound to the proof's key, once
// the proof passes (RFC 9449 §4.3, §5): htm POST, htu the endpoint's URL
// under the issuer (the URL clients are told to use), no ath (no access
// token is presented), and a jti not seen before. Otherwise a request over
// TLS with a client certificate gets a token bound to the certificate (RFC
// 8705 §3): the TLS handshake proved that the client holds its key,
// whether or not the listener checked the certificate against a CA (RFC
// 8705 §2.2 allows self-signed ones). When a request has both, the token
// is bound to the DPoP key only: the client asked for DPoP, the token type
// it is told (DPoP) names one way to prove possession, and RFC 7800 §3.1
// has a cnf claim represent a single proof-of-possession key.
func (s *Server) binding(r *http.Request, ep endpoint) (confirmation, *oauthError) {
	if proofs := r.Header.Values("DPoP"); len(proofs) > 0 {
		p, err := s.dpop.Check(r.Context(), dpop.Request{
			Proofs: proofs,
			Method: r.Method,
			URI:    s.cfg.Issuer + ep.path,
		})
		if err != nil {
			return confirmation{}, errDPoP(err)
		}
		return confirmation{JKT: p.Thumbprint}, nil
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		return confirmation{X5TS256: certificateThumbprint(r.TLS.PeerCertificates[0].Raw)}, nil
	}
	return confirmation{}, nil
}

// certificateThumbprint is the x5t#S256 of a certificate's DER (RFC 8705
// §3.1).
func certificateThumbprint(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// errDPoP is the refusal of a token request whose DPoP proof the checker
// refused: 400 invalid_dpop_proof, the token endpoint's answer to a bad
// proof (RFC 9449 §5, the code registered in §12.2), or the checker's 429
// too_many_requests or 503 temporarily_unavailable when its replay cache
// cannot take the proof. The checker's descriptions are fixed ASCII texts
// that hold nothing of the proof.
func errDPoP(err error) *oauthError {
	var de *dpop.Error
	if !errors.As(err, &de) {
		e := errServer()
		e.cause = err
		return e
	}
	status := de.Status
	if status == http.StatusUnauthorized { // a bad proof (use_dpop_nonce cannot happen: no nonce is asked)
		status = http.StatusBadRequest
	}
	return &oauthError{status: status, code: de.Code, description: de.Description, retryAfter: de.RetryAfter, cause: err}
}
