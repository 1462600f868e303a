package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Static is a fixed key set for an issuer that publishes no JWK Set. It
// ignores a token's "kid": every key that fits the token's "alg" is offered.
type Static struct {
	source  string
	keys    *keySet
	keyfunc jwt.Keyfunc // built once; see Keyfunc
}

// NewStatic returns a fixed set of keys; source names them in Status (for
// instance the issuer or a file path). Each key must be an *rsa.PublicKey of
// 2048 to 8192 bits without the ROCA fingerprint (CVE-2017-15361), an
// *ecdsa.PublicKey on P-256, P-384 or P-521, or an ed25519.PublicKey.
// Private keys, other key types and an empty list are refused.
func NewStatic(source string, keys ...crypto.PublicKey) (*Static, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks: %s: %w", source, ErrNoKeys)
	}
	entries := make([]entry, 0, len(keys))
	for i, k := range keys {
		if err := checkStaticKey(k); err != nil {
			return nil, fmt.Errorf("jwks: %s: key %d: %w", source, i+1, err)
		}
		entries = append(entries, entry{key: k})
	}
	s := &Static{source: source, keys: newKeySet(entries, time.Now())}
	s.keyfunc = s.lookup
	return s, nil
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
		if rocaWeak(k) {
			return fmt.Errorf("RSA key has the ROCA fingerprint (CVE-2017-15361): its private key can be computed; replace it")
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

// Keyfunc returns the function golang-jwt calls to pick the key for a token:
// a jwt.VerificationKeySet of the keys of the set that fit the token's "alg",
// or ErrNoKeys. The "kid" header is ignored. ctx is not used; the function
// is the same for every request.
func (s *Static) Keyfunc(context.Context) jwt.Keyfunc { return s.keyfunc }

// Key returns the key for a token whose header has alg, as the function
// Keyfunc returns does: kid and ctx are not used. It never blocks and
// allocates nothing.
func (s *Static) Key(_ context.Context, alg, _ string) (any, error) { return s.keys.forAlg(alg) }

func (s *Static) lookup(token *jwt.Token) (any, error) {
	if token == nil {
		return nil, fmt.Errorf("%w: no token", errHeader)
	}
	alg, ok := token.Header["alg"].(string)
	if !ok {
		return nil, fmt.Errorf(`%w: "alg" is not a string`, errHeader)
	}
	return s.keys.forAlg(alg)
}

// Status reports the set: its keys, loaded once when it was created.
func (s *Static) Status() Status {
	return Status{Source: s.source, Keys: s.keys.n, LastRefresh: s.keys.loaded, LastAttempt: s.keys.loaded}
}

// LoadPEMFile reads the public keys of a PEM file; see ParsePEM. The path is
// the set's Status source.
func LoadPEMFile(path string) (*Static, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	return ParsePEM(path, data)
}

// ParsePEM returns a Static set of the public keys in data. Block types
// "PUBLIC KEY" (PKIX), "RSA PUBLIC KEY" (PKCS #1) and "CERTIFICATE" (its
// subject key; validity and chain are not checked) are accepted, one key per
// block. A private key block fails the whole parse, as does any other block
// type or data without a PEM block.
func ParsePEM(source string, data []byte) (*Static, error) {
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		key, err := parseBlock(block)
		if err != nil {
			return nil, fmt.Errorf("jwks: %s: PEM block %d (%s): %w", source, n, block.Type, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("jwks: %s: no PEM block found", source)
	}
	return NewStatic(source, keys...)
}

// errPrivateKey is the error of a PEM block holding a private key.
var errPrivateKey = errors.New("private key refused: give the public key only")

func parseBlock(b *pem.Block) (crypto.PublicKey, error) {
	switch {
	case b.Type == "PUBLIC KEY":
		return x509.ParsePKIXPublicKey(b.Bytes)
	case b.Type == "RSA PUBLIC KEY":
		return x509.ParsePKCS1PublicKey(b.Bytes)
	case b.Type == "CERTIFICATE":
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	case strings.Contains(b.Type, "PRIVATE KEY"):
		return nil, errPrivateKey
	}
	return nil, fmt.Errorf("unsupported PEM block type")
}
