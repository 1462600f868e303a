package keywardtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Key is a signing key with its JWS algorithm and key id.
type Key struct {
	// ID is the key's "kid".
	ID string
	// Alg is the JWS algorithm the key signs with, such as "RS256".
	Alg string
	// Use is the JWK "use" the key is published with: "sig" by default.
	Use string

	signer crypto.Signer
	method jwt.SigningMethod
}

// NewKey generates a key for alg: RS256/384/512 and PS256/384/512 (RSA 2048),
// ES256/384/512 (P-256, P-384, P-521) or EdDSA (Ed25519).
func NewKey(alg string) (*Key, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		signer, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ES512":
		signer, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "EdDSA":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("keywardtest: algorithm %q is not supported", alg)
	}
	if err != nil {
		return nil, err
	}
	return &Key{ID: rand.Text()[:16], Alg: alg, Use: "sig", signer: signer, method: jwt.GetSigningMethod(alg)}, nil
}

// Public returns the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.signer.Public() }

// JWK returns the public key as a JSON Web Key with kid, alg and use.
func (k *Key) JWK() (json.RawMessage, error) {
	jwk, err := k.jwk()
	if err != nil {
		return nil, err
	}
	return json.Marshal(jwk.Marshal())
}

func (k *Key) jwk() (jwkset.JWK, error) {
	return jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: k.ID,
		ALG: jwkset.ALG(k.Alg),
		USE: jwkset.USE(k.Use),
	}})
}

// Sign signs claims with the key. header entries are added to the JOSE
// header ("alg" and "kid" are set from the key unless header names them; a
// nil value removes an entry, so {"kid": nil} makes a token with no kid).
func (k *Key) Sign(claims jwt.Claims, header map[string]any) (string, error) {
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["kid"] = k.ID
	for name, v := range header {
		if v == nil {
			delete(t.Header, name)
			continue
		}
		t.Header[name] = v
	}
	return t.SignedString(k.signer)
}

// SignRaw signs header and payload exactly as given (each is base64url
// encoded, then signed with the key's algorithm): for tokens no JSON encoder
// would write, such as duplicate members or trailing data.
func (k *Key) SignRaw(header, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sig, err := k.method.Sign(signing, k.signer)
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
