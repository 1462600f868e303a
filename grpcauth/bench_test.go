package grpcauth_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/grpcauth"
)

// BenchmarkUnary is the unary interceptor's cost for a reused token,
// called in process as a server calls it (no transport): building the
// request from the metadata, the cached verification, the caller in the
// context.
func BenchmarkUnary(b *testing.B) {
	iss, a := newAuthenticator(b, nil)
	kw := grpcauth.New(a, testOptions())
	md := bearerMD(iss.Token(b, jwt.MapClaims{"scope": "bookings:read"}))
	md.Set("user-agent", "grpc-go/1.85.0")
	md.Set(":authority", "bookings.example")
	md.Set("content-type", "application/grpc")
	b.ReportAllocs()
	for b.Loop() {
		if caller, err := unaryOnce(kw, md, "127.0.0.1:50000"); err != nil || !caller {
			b.Fatal(caller, err)
		}
	}
}
