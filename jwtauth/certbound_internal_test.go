package jwtauth

import (
	"strings"
	"testing"
)

// FuzzForwardedCertificate: no header value makes the parser panic, and a
// value it accepts names a certificate through a Hash, a Cert or a PEM
// certificate (a thumbprint is never made of nothing).
func FuzzForwardedCertificate(f *testing.F) {
	for _, seed := range []string{
		`By=spiffe://a;Hash=` + strings.Repeat("ab", 32) + `;Subject="CN=x,O=y;z";URI=`,
		`Hash=` + strings.Repeat("00", 32) + `,Hash=` + strings.Repeat("11", 32),
		`Cert="-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A"`,
		`-----BEGIN%20CERTIFICATE-----%0A`, `"`, `a="\"`, `,`, `;`, `=`, `Hash="\\"`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, value string) {
		lower := strings.ToLower(value)
		if _, err := forwardedCertificate(value); err == nil && !strings.Contains(lower, "hash") &&
			!strings.Contains(lower, "cert") && !strings.HasPrefix(strings.TrimSpace(value), "-----BEGIN") {
			t.Fatalf("%q accepted without a Hash or a PEM certificate", value)
		}
	})
}
