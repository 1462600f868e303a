package dualauth_test

import (
	"fmt"

	"github.com/keyward/keyward/dualauth"
)

func ExampleParseConfigFile() {
	f, err := dualauth.ParseConfigFile([]byte(`
mode: jwt
realm: bookings-api
jwt:
  issuers:
    - issuer: https://auth.example.com
      discovery: true
      audiences: [bookings-api]
  algorithms: [RS256, ES256]
  leeway: 30s
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	iss := f.JWT.Issuers[0]
	fmt.Println(f.Realm, iss.Issuer, iss.Audiences, f.JWT.Algorithms, f.JWT.Leeway)

	// Mistakes are reported with the line and key to fix.
	_, err = dualauth.ParseConfigFile([]byte(`
jwt:
  issuers:
    - issuer: https://auth.example.com
      jwks_uri: https://auth.example.com/.well-known/jwks.json
      audiences: [bookings-api]
`))
	fmt.Println(err)
	_, err = dualauth.ParseConfigFile([]byte(`
jwt:
  issuers:
    - issuer: https://auth.example.com
      discovery: true
      audiences: [bookings-api]
  jwks:
    timeout: 10
`))
	fmt.Println(err)
	// Output:
	// bookings-api https://auth.example.com [bookings-api] [RS256 ES256] 30s
	// config: line 5: unknown key "jwks_uri" in jwt.issuers[0]; did you mean "jwks_url"?
	// config: line 8: jwt.jwks.timeout: "10" is not a duration (use Go syntax such as 10s)
}
