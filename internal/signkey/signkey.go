// Package signkey generates signing keys for JWS algorithms, describes their
// public halves as JWKs and signs tokens with them. It serves authserver's
// keyring and keywardtest's Key.
package signkey

import (
	"crypto"
	"encoding/base64"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Key is a private key with the JWS signing method it was generated for.
type Key struct {
	signer crypto.Signer
	method jwt.SigningMethod
}

// Public returns the key's public half.
func (k Key) Public() crypto.PublicKey { return k.signer.Public() }

// JWK returns the public half as a JSON Web Key with the given kid, alg and
// use.
func (k Key) JWK(kid, alg, use string) (jwkset.JWK, error) {
	return jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: kid,
		ALG: jwkset.ALG(alg),
		USE: jwkset.USE(use),
	}})
}

// Sign signs claims and returns the compact JWS. Its JOSE header has "alg"
// (and "typ": "JWT") from the signing method, "kid": kid, then the entries
// of header on top; an entry whose value is nil is removed instead, so
// {"kid": nil} makes a token with no kid.
func (k Key) Sign(claims jwt.Claims, kid string, header map[string]any) (string, error) {
	t := jwt.NewWithClaims(k.method, claims)
	t.Header["kid"] = kid
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
// encoded, then signed with the key's algorithm) and returns the compact JWS.
func (k Key) SignRaw(header, payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString(header) + "." + enc.EncodeToString(payload)
	sig, err := k.method.Sign(signing, k.signer)
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
