package dualauth_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/keywardtest"
)

// FuzzAuthenticateHeader feeds arbitrary Authorization headers and query
// strings: every answer must be an *Error with 400 or 401, never a panic,
// and never an accepted caller.
func FuzzAuthenticateHeader(f *testing.F) {
	iss := keywardtest.NewIssuer(f)
	f.Add("Bearer "+iss.Token(f, nil)[:40], "")
	f.Add("bearer a.b.c", "access_token=x")
	f.Add("Basic Zm9vOmJhcg==", "")
	f.Add("Bearer ", "")
	f.Add("Bearer\t\x00", "%zz&access_token")
	a := newAuthenticator(f, nil, iss)
	f.Fuzz(func(t *testing.T, header, query string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = query
		r.Header.Set("Authorization", header)
		p, err := a.Authenticate(r)
		if err == nil {
			t.Fatalf("accepted %q as %+v", header, p)
		}
		var e *dualauth.Error
		if !errors.As(err, &e) || (e.Status != 400 && e.Status != 401) {
			t.Fatalf("Authenticate(%q) = %v", header, err)
		}
	})
}

// FuzzVerifyPrecheck feeds arbitrary token strings to Verify.
func FuzzVerifyPrecheck(f *testing.F) {
	iss := keywardtest.NewIssuer(f)
	good := iss.Token(f, nil)
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJSUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.c2ln")
	f.Add("a.b.c.d.e")
	f.Add("....")
	a := newAuthenticator(f, nil, iss)
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := a.Verify(context.Background(), raw, "")
		if err == nil {
			if raw != good {
				t.Fatalf("accepted %q as %+v", raw, p)
			}
			return
		}
		var e *dualauth.Error
		if !errors.As(err, &e) || e.Status != 401 || e.Code != dualauth.CodeInvalidToken {
			t.Fatalf("Verify(%q) = %v", raw, err)
		}
	})
}
