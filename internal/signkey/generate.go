package signkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Generate generates a key for alg: RS256/384/512 and PS256/384/512 (RSA
// 2048), ES256/384/512 (P-256, P-384, P-521) or EdDSA (Ed25519). The error
// for any other alg names it and says it is not supported; callers add their
// package's prefix.
func Generate(alg string) (Key, error) {
	k := Key{method: jwt.GetSigningMethod(alg)}
	var err error
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k.signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k.signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		k.signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		k.signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, k.signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return Key{}, fmt.Errorf("algorithm %q is not supported", alg)
	}
	if err != nil {
		return Key{}, err
	}
	return k, nil
}
