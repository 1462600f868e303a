package config_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
)

func ExampleParse() {
	f, err := config.Parse([]byte(`
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
	_, err = config.Parse([]byte(`
jwt:
  issuers:
    - issuer: https://auth.example.com
      jwks_uri: https://auth.example.com/.well-known/jwks.json
      audiences: [bookings-api]
`))
	fmt.Println(err)
	_, err = config.Parse([]byte(`
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

func ExampleLoad() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The clients file of this sample is polled, and reloaded on SIGHUP too.
	cfg, err := config.Load(ctx, "../testdata/config/quickstart-dual.yaml", config.Options{ReloadOnSIGHUP: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	authn, err := dualauth.New(cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer authn.Close() // stops watching the clients file

	r := httptest.NewRequest(http.MethodGet, "/v1/bookings", nil)
	r.SetBasicAuth("globex", "globex-secret")
	if p, err := authn.Authenticate(r); err == nil {
		fmt.Println(authn.Mode(), p.Method, p.ClientID)
	}

	// What dualauth refuses is reported at the key and line of the file.
	_, err = config.Load(ctx, "../testdata/config/bad/alg-none.yaml", config.Options{})
	fmt.Println(err)
	// Output:
	// dual credentials globex
	// config: ../testdata/config/bad/alg-none.yaml: line 7: jwt.algorithms[1]: "none" is never accepted: an unsigned token can be forged by anyone
}

// An issuer whose access tokens are opaque, checked at its introspection
// endpoint: it needs no key source, and in mode jwt the credentials section
// may bound guessed tokens per caller address.
func ExampleParse_introspection() {
	const issuer = `
jwt:
  issuers:
    - issuer: https://auth.example.com
      audiences: [bookings-api]
      introspection:
        endpoint: https://auth.example.com/oauth2/introspect
        client_id: keyward-rs
        client_secret_file: /run/secrets/introspect
`
	f, err := config.Parse([]byte(issuer + `        cache: {max_ttl: 5m, negative_ttl: 10s}
credentials:
  trusted_proxies: [10.0.0.0/8]
  throttle: {max_address_failures: 20, window: 1m}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	in := f.JWT.Issuers[0].Introspection
	fmt.Println(in.Endpoint, in.ClientID, in.Cache.MaxTTL, f.Credentials.Throttle.MaxAddressFailures)

	_, err = config.Parse([]byte(issuer + "        auth_method: basic\n"))
	fmt.Println(err)
	// Output:
	// https://auth.example.com/oauth2/introspect keyward-rs 5m0s 20
	// config: line 10: jwt.issuers[0].introspection.auth_method: unknown method "basic"; use client_secret_basic (the default) or client_secret_post
}
