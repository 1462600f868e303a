package jwtauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keyward/keyward/dualauth"
)

// BenchmarkReusedToken compares, in one run, a reused opaque token
// (answered from the introspection cache) with a reused JWT (answered from
// the verified-token cache) of the same issuer: through VerifyToken alone,
// and through the core as the net/http middleware calls it.
func BenchmarkReusedToken(b *testing.B) {
	s, iss := signedSetup(b, nil)
	jwt := iss.Token(b, nil)
	m := goodAnswer(s.clock.Now())
	m["iss"], m["aud"] = iss.URL, iss.Audience
	s.ep.add(opaque, m)
	a, err := dualauth.New(dualauth.Config{Tokens: s.v})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = a.Close() })
	for _, tc := range []struct{ name, token string }{{"kind=jwt", jwt}, {"kind=opaque", opaque}} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer "+tc.token)
		for _, via := range []struct {
			name   string
			verify func() error
		}{
			{"via=verifier", func() error {
				_, _, err := s.v.VerifyToken(context.Background(), tc.token, dualauth.Origin{})
				return err
			}},
			{"via=core", func() error { _, err := a.Authenticate(r); return err }},
		} {
			b.Run(tc.name+"/"+via.name, func(b *testing.B) {
				if err := via.verify(); err != nil { // the first use fills the cache
					b.Fatal(err)
				}
				calls := s.ep.calls.Load()
				b.ReportAllocs()
				for b.Loop() {
					if err := via.verify(); err != nil {
						b.Fatal(err)
					}
				}
				if s.ep.calls.Load() != calls {
					b.Fatal("the endpoint was called: not answered from the cache")
				}
			})
		}
	}
}
