package dualauth_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/keywardtest"
)

func TestAuthenticateHeaderParsing(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	a := newAuthenticator(t, nil, iss)
	token := iss.Token(t, nil)
	tests := []struct {
		name    string
		target  string
		headers []string // Authorization values
		status  int      // 0: accepted
		code    string
	}{
		{"bearer", "/", []string{"Bearer " + token}, 0, ""},
		{"scheme is case-insensitive", "/", []string{"bEaReR " + token}, 0, ""},
		{"several spaces after the scheme", "/", []string{"Bearer   " + token}, 0, ""},
		{"no header", "/", nil, 401, ""},
		{"basic in jwt mode", "/", []string{"Basic YTpi"}, 401, ""},
		{"other scheme", "/", []string{"Token " + token}, 401, ""},
		{"scheme alone", "/", []string{"Bearer"}, 400, dualauth.CodeInvalidRequest},
		{"scheme and spaces", "/", []string{"Bearer   "}, 400, dualauth.CodeInvalidRequest},
		{"two headers", "/", []string{"Bearer " + token, "Bearer " + token}, 400, dualauth.CodeInvalidRequest},
		{"token with a space", "/", []string{"Bearer " + token + " extra"}, 400, dualauth.CodeInvalidRequest},
		{"token with a comma", "/", []string{"Bearer a,b"}, 400, dualauth.CodeInvalidRequest},
		{"token in the query", "/?access_token=" + token, nil, 400, dualauth.CodeInvalidRequest},
		{"token in the query and the header", "/?x=1&access_token=" + token, []string{"Bearer " + token}, 400, dualauth.CodeInvalidRequest},
		{"other query parameter is fine", "/?my_access_token_hint=1", []string{"Bearer " + token}, 0, ""},
		{"token in the query, escaped name", "/?access%5Ftoken=x", []string{"Bearer " + token}, 400, dualauth.CodeInvalidRequest},
		{"token in the query, escaped letter", "/?acc%65ss_token=x", []string{"Bearer " + token}, 400, dualauth.CodeInvalidRequest},
		{"token in the query, bad value", "/?access_token=%zz", []string{"Bearer " + token}, 400, dualauth.CodeInvalidRequest},
		{"token in the query after a semicolon", "/?a=1;access_token=x", []string{"Bearer " + token}, 400, dualauth.CodeInvalidRequest},
		{"token in the query, no value", "/?access_token", []string{"Bearer " + token}, 400, dualauth.CodeInvalidRequest},
		{"garbage token", "/", []string{"Bearer abc.def.ghi"}, 401, dualauth.CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			p, err := a.Authenticate(r)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if p.Subject != "test-client" {
					t.Fatalf("subject = %q", p.Subject)
				}
				return
			}
			e := asError(t, err)
			if e.Status != tt.status || e.Code != tt.code {
				t.Fatalf("error = %d %q (%s), want %d %q", e.Status, e.Code, e.Description, tt.status, tt.code)
			}
			if tt.code == "" && !noCredentials(err) {
				t.Fatal("NoCredentials = false for a request without credentials")
			}
			if strings.Contains(e.Description, token) {
				t.Fatal("description contains the token")
			}
		})
	}
}
