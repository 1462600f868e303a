package jwtauth_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/dualauth"
)

// BenchmarkReusedToken compares, in one run, a reused opaque token
// (answered from the introspection cache) with a reused JWT (answered from
// the verified-token cache) of the same issuer, through VerifyToken.
func BenchmarkReusedToken(b *testing.B) {
	s, iss := signedSetup(b, nil)
	jwt := iss.Token(b, nil)
	m := goodAnswer(s.clock.Now())
	m["iss"], m["aud"] = iss.URL, iss.Audience
	s.ep.add(opaque, m)
	for _, tc := range []struct{ name, token string }{{"kind=jwt", jwt}, {"kind=opaque", opaque}} {
		b.Run(tc.name, func(b *testing.B) {
			verify := func() *dualauth.Principal {
				p, _, err := s.v.VerifyToken(context.Background(), tc.token, dualauth.Origin{})
				if err != nil {
					b.Fatal(err)
				}
				return p
			}
			verify() // the first use fills the cache
			b.ReportAllocs()
			for b.Loop() {
				verify()
			}
			if _, cached, _ := s.v.VerifyToken(context.Background(), tc.token, dualauth.Origin{}); !cached {
				b.Fatal("not answered from the cache")
			}
		})
	}
}
