package keywardtest

import (
	"crypto"
	"crypto/rand"
	"encoding/json"
	"fmt"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/signkey"
)

// Key is a signing key with its JWS algorithm and key id.
type Key struct {
	// ID is the key's "kid".
	ID string
	// Alg is the JWS algorithm the key signs with, such as "RS256".
	Alg string
	// Use is the JWK "use" the key is published with: "sig" by default.
	Use string

	key signkey.Key
}

// NewKey generates a key for alg: RS256/384/512 and PS256/384/512 (RSA 2048),
// ES256/384/512 (P-256, P-384, P-521) or EdDSA (Ed25519).
func NewKey(alg string) (*Key, error) {
	key, err := signkey.Generate(alg)
	if err != nil {
		return nil, fmt.Errorf("keywardtest: %w", err)
	}
	return &Key{ID: rand.Text()[:16], Alg: alg, Use: "sig", key: key}, nil
}

// Public returns the key's public half.
func (k *Key) Public() crypto.PublicKey { return k.key.Public() }

// JWK returns the public key as a JSON Web Key with kid, alg and use.
func (k *Key) JWK() (json.RawMessage, error) {
	jwk, err := k.jwk()
	if err != nil {
		return nil, err
	}
	return json.Marshal(jwk.Marshal())
}

func (k *Key) jwk() (jwkset.JWK, error) { return k.key.JWK(k.ID, k.Alg, k.Use) }

// Sign signs claims with the key. header entries are added to the JOSE
// header ("alg" and "kid" are set from the key unless header names them; a
// nil value removes an entry, so {"kid": nil} makes a token with no kid).
func (k *Key) Sign(claims jwt.Claims, header map[string]any) (string, error) {
	return k.key.Sign(claims, k.ID, header)
}

// SignRaw signs header and payload exactly as given (each is base64url
// encoded, then signed with the key's algorithm): for tokens no JSON encoder
// would write, such as duplicate members or trailing data.
func (k *Key) SignRaw(header, payload []byte) (string, error) {
	return k.key.SignRaw(header, payload)
}
