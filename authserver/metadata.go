package authserver

import (
	"net/http"
	"strings"
)

// metadata is the authorization server metadata (RFC 8414 §2), served both
// as the OpenID Connect Discovery document and at RFC 8414's well-known
// path; they differ in nothing a resource server reads. scopes_supported is
// left out: a clients.Registry cannot list its clients' scopes.
type metadata struct {
	Issuer                      string   `json:"issuer"`
	JWKSURI                     string   `json:"jwks_uri"`
	TokenEndpoint               string   `json:"token_endpoint"`
	GrantTypesSupported         []string `json:"grant_types_supported"`
	TokenEndpointAuthMethods    []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpoint       string   `json:"introspection_endpoint"`
	IntrospectionAuthMethods    []string `json:"introspection_endpoint_auth_methods_supported"`
	ResponseTypesSupported      []string `json:"response_types_supported"`
	SubjectTypesSupported       []string `json:"subject_types_supported"`
	IDTokenSigningAlgsSupported []string `json:"id_token_signing_alg_values_supported"`
	// DPoPSigningAlgsSupported are the algorithms of the DPoP proofs the
	// token endpoints accept (RFC 9449 §5.1).
	DPoPSigningAlgsSupported []string `json:"dpop_signing_alg_values_supported"`
	// CertificateBoundAccessTokens is set when Config.MutualTLS says that
	// clients can present certificates (RFC 8705 §3.3); false is left out,
	// its default.
	CertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
}

func (s *Server) metadata() metadata {
	return metadata{
		Issuer:                   s.cfg.Issuer,
		JWKSURI:                  s.cfg.Issuer + PathJWKS,
		TokenEndpoint:            s.cfg.Issuer + PathToken,
		GrantTypesSupported:      []string{grantClientCredentials, grantRefreshToken},
		TokenEndpointAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		IntrospectionEndpoint:    s.cfg.Issuer + PathIntrospect,
		IntrospectionAuthMethods: []string{"client_secret_basic", "client_secret_post"},
		ResponseTypesSupported:   []string{"token"},
		SubjectTypesSupported:    []string{"public"},
		// The algorithm of every token this server signs. RFC 8414's
		// token_endpoint_auth_signing_alg_values_supported is left out: it is
		// for JWT client authentication (private_key_jwt), which this server
		// does not do.
		IDTokenSigningAlgsSupported:  []string{s.cfg.Algorithm},
		DPoPSigningAlgsSupported:     strings.Fields(s.dpop.Algorithms()),
		CertificateBoundAccessTokens: s.cfg.MutualTLS,
	}
}

func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, s.metadata())
}

func (s *Server) serveJWKS(w http.ResponseWriter, r *http.Request) {
	body, err := s.keys.jwks(s.cfg.Now())
	if err != nil {
		s.log.Error("encoding the key set", "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": codeServerError})
		return
	}
	w.Header().Set("Cache-Control", "no-cache") // a rotation shows at once
	writeRawJSON(w, http.StatusOK, body)
}
