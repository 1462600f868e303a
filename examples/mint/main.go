// Command mint signs an access token with a PEM private key, for trying the
// example servers without an authorization server:
//
//	TOKEN=$(go run ./examples/mint -scope "bookings:read reports:read")
//	curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v1/reports
//
// The default key is the quick-start key in testdata/keys, which only
// testdata/config/quickstart.yaml trusts.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func main() {
	keyFile := flag.String("key", "testdata/keys/quickstart_private.pem", "PEM file with the RSA private key to sign with")
	issuer := flag.String("iss", "https://issuer.quickstart.test", "issuer (iss)")
	audience := flag.String("aud", "bookings-api", "audience (aud)")
	clientID := flag.String("client", "quickstart-client", "client id (sub and client_id)")
	scope := flag.String("scope", "bookings:read", "space-delimited scopes (scope)")
	ttl := flag.Duration("ttl", 15*time.Minute, "lifetime")
	flag.Parse()

	token, err := mint(*keyFile, *issuer, *audience, *clientID, *scope, *ttl)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mint:", err)
		os.Exit(1)
	}
	fmt.Println(token)
}

func mint(keyFile, issuer, audience, clientID, scope string, ttl time.Duration) (string, error) {
	pemBytes, err := os.ReadFile(keyFile)
	if err != nil {
		return "", err
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes)
	if err != nil {
		return "", fmt.Errorf("%s: %w", keyFile, err)
	}
	now := time.Now()
	token := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss":       issuer,
		"aud":       audience,
		"sub":       clientID,
		"client_id": clientID,
		"scope":     scope,
		"iat":       now.Unix(),
		"nbf":       now.Unix(),
		"exp":       now.Add(ttl).Unix(),
		"jti":       rand.Text(),
	})
	token.Header["typ"] = "at+jwt"
	return token.SignedString(key)
}
