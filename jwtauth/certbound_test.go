package jwtauth_test

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
)

// TestValidateCertificateBound: the header must be a valid header name and
// none that carries credentials; a zero section is valid.
func TestValidateCertificateBound(t *testing.T) {
	issuers := []jwtauth.Issuer{{Issuer: issuerURL, Audiences: []string{audience}, Introspection: &jwtauth.Introspection{
		Endpoint: "https://auth.example.com/introspect", ClientID: rsClientID, ClientSecret: rsSecret}}}
	for _, tt := range []struct {
		header string
		valid  bool
	}{
		{"", true},
		{"X-Forwarded-Client-Cert", true},
		{"ssl-client-cert", true},
		{"X Client Cert", false},
		{"X-Cert:", false},
		{"authorization", false},
		{"DPoP", false},
	} {
		err := jwtauth.Config{Issuers: issuers, CertificateBound: &jwtauth.CertificateBound{Header: tt.header}}.Validate()
		var ce *dualauth.ConfigError
		switch {
		case tt.valid && err != nil:
			t.Errorf("%q: %v", tt.header, err)
		case !tt.valid && (!errors.As(err, &ce) || ce.Package != "jwtauth" || ce.Field != "CertificateBound.Header"):
			t.Errorf("%q: %v, want a ConfigError of CertificateBound.Header", tt.header, err)
		}
	}
}
