package jwtverify

import (
	"strings"
	"testing"
)

// TestConfirmationMethods: cnf {"x5t#S256": <thumbprint>} alone binds the
// token to a certificate with AcceptX5T, as {"jkt": …} alone binds it to a
// DPoP key with AcceptJKT; both at once, either twice, two cnf members,
// a value that is no thumbprint or a method that is off are refused.
func TestConfirmationMethods(t *testing.T) {
	const (
		tp    = "Q1VSVElGSUNBVEVfVEhVTUJQUklOVF9fX19fX19fX18" // 43 characters, 32 bytes
		other = "T1RIRVJfQ0VSVElGSUNBVEVfVEhVTUJQUklOVF9fX18"
	)
	for _, tt := range []struct {
		cnf      string // the cnf member(s), written into the answer as they are
		jkt, x5t bool   // what is accepted
		wantJKT  string
		wantX5T  string
		refused  string // a part of the refusal's description and cause; "" means accepted
	}{
		{`"cnf":{"x5t#S256":"` + tp + `"}`, false, true, "", tp, ""},
		{`"cnf":{"x5t#S256":"` + tp + `"}`, true, true, "", tp, ""},
		{`"cnf":{"jkt":"` + tp + `"}`, true, true, tp, "", ""},
		{`"cnf":{"x5t#S256":"` + tp + `"}`, true, false, "", "", `cannot verify that binding / cnf names 1 confirmation method(s) this server does not verify: "x5t#S256"`},
		{`"cnf":{"jkt":"` + tp + `"}`, false, true, "", "", `does not verify: "jkt"`},
		{`"cnf":{"jkt":"` + tp + `","x5t#S256":"` + tp + `"}`, true, true, "", "", `does not verify: "jkt", "x5t#S256"`},
		{`"cnf":{"x5t#S256":"` + tp + `","x5t#S256":"` + other + `"}`, false, true, "", "", "malformed / cnf has 2 x5t#S256 members"},
		{`"cnf":{"x5t#S256":"` + tp + `"},"cnf":{"x5t#S256":"` + other + `"}`, false, true, "", "", "malformed / the claims set has 2 cnf members"},
		{`"cnf":{"x5t#S256":"` + tp + `"},"cnf":{}`, false, true, "", "", "malformed / the claims set has 2 cnf members"},
		{`"cnf":{"x5t#S256":"` + tp[:42] + `"}`, false, true, "", "", `malformed / cnf.x5t#S256 is not the base64url encoding of a SHA-256 thumbprint`},
		{`"cnf":{"x5t#S256":"` + strings.Repeat("a", 64) + `"}`, false, true, "", "", `cnf.x5t#S256 is not the base64url`}, // hex, as x5t#S256 is not
		{`"cnf":{"x5t#S256":42}`, false, true, "", "", `cnf.x5t#S256 is not the base64url`},
		{`"cnf":{"x5t":"` + tp + `"}`, false, true, "", "", `does not verify: "x5t"`},
		{`"cnf":{}`, false, true, "", "", "it binds the token to nothing"},
	} {
		a := NewAnswerChecker(AnswerRules{Issuer: "https://issuer.example", AcceptJKT: tt.jkt, AcceptX5T: tt.x5t})
		c, _, e := a.Check(`{"active":true,"sub":"u",` + tt.cnf + `}`)
		switch got := refusal(e); {
		case tt.refused == "" && (e != nil || c.JKT != tt.wantJKT || c.X5T != tt.wantX5T):
			t.Errorf("%s (jkt %v, x5t %v): %q, JKT %q X5T %q; want accepted, JKT %q X5T %q", tt.cnf, tt.jkt, tt.x5t, got, c.JKT, c.X5T, tt.wantJKT, tt.wantX5T)
		case tt.refused != "" && !strings.Contains(got, tt.refused):
			t.Errorf("%s (jkt %v, x5t %v): %q; want a refusal with %q", tt.cnf, tt.jkt, tt.x5t, got, tt.refused)
		}
	}
}
