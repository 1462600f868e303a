package jwks

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
)

// RSA modulus sizes accepted for RS* and PS*. The maximum bounds the cost of
// one verification: it grows with the square of the size, and a token without
// a "kid" is tried against every key that fits.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// signatureAlgs are the token algorithms for which a key can ever fit.
var signatureAlgs = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// fits reports whether key may verify a token signed with alg. Algorithms
// outside signatureAlgs ("none", HS*, unknown) never fit any key.
func fits(alg string, key any) bool {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N != nil && k.N.BitLen() >= minRSABits && k.N.BitLen() <= maxRSABits
	case "ES256":
		return onCurve(key, elliptic.P256())
	case "ES384":
		return onCurve(key, elliptic.P384())
	case "ES512":
		return onCurve(key, elliptic.P521())
	case "EdDSA":
		k, ok := key.(ed25519.PublicKey)
		return ok && len(k) == ed25519.PublicKeySize
	}
	return false
}

// tooLarge reports whether key is an RSA key above maxRSABits, which is
// never stored.
func tooLarge(key crypto.PublicKey) bool {
	k, ok := key.(*rsa.PublicKey)
	return ok && k.N != nil && k.N.BitLen() > maxRSABits
}

func onCurve(key any, c elliptic.Curve) bool {
	k, ok := key.(*ecdsa.PublicKey)
	return ok && k.Curve == c
}

// publicKey returns the public half of a signature key of a supported type
// (RSA, ECDSA, Ed25519), or false for anything else: symmetric keys, X25519,
// unknown types.
func publicKey(key any) (crypto.PublicKey, bool) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return k, k != nil
	case *rsa.PrivateKey:
		return &k.PublicKey, k != nil
	case *ecdsa.PublicKey:
		return k, k != nil
	case *ecdsa.PrivateKey:
		return &k.PublicKey, k != nil
	case ed25519.PublicKey:
		return k, len(k) == ed25519.PublicKeySize
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return nil, false
		}
		return k.Public(), true
	}
	return nil, false
}

// checkStaticKey tells why key cannot serve in a static set, or nil if it fits
// at least one signature algorithm.
func checkStaticKey(key crypto.PublicKey) error {
	switch k := key.(type) {
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return fmt.Errorf("%T is a private key; give the public key only", key)
	case *rsa.PublicKey:
		if k == nil || k.N == nil {
			return fmt.Errorf("nil RSA public key")
		}
		if k.N.BitLen() < minRSABits {
			return fmt.Errorf("RSA key of %d bits is below the minimum of %d", k.N.BitLen(), minRSABits)
		}
		if k.N.BitLen() > maxRSABits {
			return fmt.Errorf("RSA key of %d bits is above the maximum of %d", k.N.BitLen(), maxRSABits)
		}
	case *ecdsa.PublicKey:
		if k == nil || k.Curve == nil {
			return fmt.Errorf("nil ECDSA public key")
		}
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() && k.Curve != elliptic.P521() {
			return fmt.Errorf("ECDSA curve %s is not supported", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("ed25519 public key of %d bytes, want %d", len(k), ed25519.PublicKeySize)
		}
	default:
		return fmt.Errorf("unsupported key type %T", key)
	}
	return nil
}
