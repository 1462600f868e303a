package keywardtest_test

import (
	"context"
	"fmt"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// In a test, keywardtest.NewIssuer(t) does this and closes the issuer when
// the test ends; iss.Authenticator(t, nil) builds the authenticator.
func ExampleStartIssuer() {
	iss, err := keywardtest.StartIssuer("ES256")
	if err != nil {
		panic(err)
	}
	defer iss.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := jwks.NewRemote(ctx, iss.JWKSURL, jwks.Options{})
	if err != nil {
		panic(err)
	}
	tokens, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{
		{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys},
	}})
	if err != nil {
		panic(err)
	}
	authn, err := dualauth.New(dualauth.Config{Tokens: tokens})
	if err != nil {
		panic(err)
	}
	defer authn.Close()

	raw, err := iss.Key().Sign(iss.Claims(jwt.MapClaims{"sub": "acme", "scope": "bookings:read"}), nil)
	if err != nil {
		panic(err)
	}
	p, err := authn.Verify(ctx, raw, "")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Subject, p.Scopes)
	// Output: acme bookings:read
}
