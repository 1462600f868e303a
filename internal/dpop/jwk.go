package dpop

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"

	"github.com/keyward/keyward/internal/jsonobject"
)

// RSA moduli outside these bounds are refused: below, too weak (RFC 7518
// §3.3 asks for 2048 bits at least); above, a proof would cost its server
// more than a client should make it spend (an RSA verification grows with
// the square of the modulus).
const (
	minRSABits = 2048
	maxRSABits = 4096
	// rsaExponent is the one public exponent accepted: F4 = 2^16 + 1.
	rsaExponent = 65537
)

// b64 is unpadded base64url that refuses non-zero trailing bits, so that
// one value has one spelling (RFC 7515 §2; RFC 7638 hashes the spelling).
var b64 = base64.RawURLEncoding.Strict()

// privateMembers are the JWK members that hold private or symmetric key
// material (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

// publicJWK is a proof's public key: the crypto key its signature is
// verified with, and its RFC 7638 thumbprint.
type publicJWK struct {
	key        any // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	thumbprint string
}

// parseJWK reads v, the jwk header of a proof (RFC 9449 §4.2): a public
// RSA, EC (P-256, P-384, P-521) or OKP (Ed25519) key, and nothing private.
// Members other than those of the key type (kid, alg, use…) are ignored,
// as RFC 7638 §3.1 ignores them.
func parseJWK(v any) (publicJWK, error) {
	jwk, ok := v.(map[string]any)
	if !ok {
		return publicJWK{}, fmt.Errorf("%w: not a JSON object", errJWK)
	}
	for _, name := range privateMembers {
		if _, found := jwk[name]; found {
			return publicJWK{}, fmt.Errorf("%w: member %s", errPrivateJWK, name)
		}
	}
	switch kty, _ := jwk["kty"].(string); kty {
	case "RSA":
		return parseRSA(jwk)
	case "EC":
		return parseEC(jwk)
	case "OKP":
		return parseOKP(jwk)
	case "oct":
		return publicJWK{}, fmt.Errorf("%w: kty oct", errPrivateJWK)
	default:
		return publicJWK{}, fmt.Errorf("%w: kty is not RSA, EC or OKP", errJWK)
	}
}

// member decodes the base64url member name of jwk.
func member(jwk map[string]any, name string) ([]byte, string, error) {
	s, ok := jwk[name].(string)
	if !ok {
		return nil, "", fmt.Errorf("%w: %s missing or not a string", errJWK, name)
	}
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %s is not base64url", errJWK, name)
	}
	return b, s, nil
}

func parseRSA(jwk map[string]any) (publicJWK, error) {
	n, nText, err := member(jwk, "n")
	if err != nil {
		return publicJWK{}, err
	}
	e, eText, err := member(jwk, "e")
	if err != nil {
		return publicJWK{}, err
	}
	// RFC 7518 §6.3.1 wants the shortest big-endian form; a key that
	// writes leading zeros is the same key, and RFC 7638 §3.3 hashes its
	// shortest form.
	n, nText = minimal(n, nText)
	e, eText = minimal(e, eText)
	modulus := new(big.Int).SetBytes(n)
	switch bits := modulus.BitLen(); {
	case bits < minRSABits || bits > maxRSABits:
		return publicJWK{}, fmt.Errorf("%w: RSA modulus of %d bits (%d to %d accepted)", errJWK, bits, minRSABits, maxRSABits)
	case len(e) > 3 || len(e) == 0:
		return publicJWK{}, fmt.Errorf("%w: RSA exponent out of range", errJWK)
	}
	// Only e = 65537: every key generator in use picks it, and a large
	// exponent would make each refused proof cost its server a long
	// modular exponentiation.
	exponent := int(new(big.Int).SetBytes(e).Int64())
	if exponent != rsaExponent {
		return publicJWK{}, fmt.Errorf("%w: RSA exponent is not 65537", errJWK)
	}
	return publicJWK{
		key:        &rsa.PublicKey{N: modulus, E: exponent},
		thumbprint: thumbprintOf(`{"e":"` + eText + `","kty":"RSA","n":"` + nText + `"}`),
	}, nil
}

// minimal drops the leading zero octets of an unsigned big-endian integer
// and gives its base64url text, text itself when there were none.
func minimal(b []byte, text string) ([]byte, string) {
	i := 0
	for i < len(b)-1 && b[i] == 0 {
		i++
	}
	if i == 0 {
		return b, text
	}
	return b[i:], b64.EncodeToString(b[i:])
}

// curves are the EC curves of RFC 7518 §6.2.1.1 with their coordinates'
// length in octets.
var curves = map[string]struct {
	curve elliptic.Curve
	size  int
}{
	"P-256": {elliptic.P256(), 32},
	"P-384": {elliptic.P384(), 48},
	"P-521": {elliptic.P521(), 66},
}

func parseEC(jwk map[string]any) (publicJWK, error) {
	crv, _ := jwk["crv"].(string)
	c, ok := curves[crv]
	if !ok {
		return publicJWK{}, fmt.Errorf("%w: EC crv is not P-256, P-384 or P-521", errJWK)
	}
	x, xText, err := member(jwk, "x")
	if err != nil {
		return publicJWK{}, err
	}
	y, yText, err := member(jwk, "y")
	if err != nil {
		return publicJWK{}, err
	}
	// RFC 7518 §6.2.1.2: each coordinate is exactly the curve's size.
	if len(x) != c.size || len(y) != c.size {
		return publicJWK{}, fmt.Errorf("%w: EC coordinates are not %d octets", errJWK, c.size)
	}
	point := make([]byte, 0, 1+2*c.size)
	point = append(append(append(point, 4), x...), y...)
	pub, err := ecdsa.ParseUncompressedPublicKey(c.curve, point)
	if err != nil {
		return publicJWK{}, fmt.Errorf("%w: not a point of %s", errJWK, crv)
	}
	return publicJWK{
		key:        pub,
		thumbprint: thumbprintOf(`{"crv":"` + crv + `","kty":"EC","x":"` + xText + `","y":"` + yText + `"}`),
	}, nil
}

func parseOKP(jwk map[string]any) (publicJWK, error) {
	if crv, _ := jwk["crv"].(string); crv != "Ed25519" {
		return publicJWK{}, fmt.Errorf("%w: OKP crv is not Ed25519", errJWK)
	}
	x, xText, err := member(jwk, "x")
	if err != nil {
		return publicJWK{}, err
	}
	if len(x) != ed25519.PublicKeySize {
		return publicJWK{}, fmt.Errorf("%w: Ed25519 x is not %d octets", errJWK, ed25519.PublicKeySize)
	}
	if smallOrder(x) {
		return publicJWK{}, fmt.Errorf("%w: Ed25519 x is a point of small order", errJWK)
	}
	return publicJWK{
		key:        ed25519.PublicKey(x),
		thumbprint: thumbprintOf(`{"crv":"Ed25519","kty":"OKP","x":"` + xText + `"}`),
	}, nil
}

// fieldPrime is p = 2^255 - 19, the prime of Curve25519's field.
var fieldPrime = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))

// smallOrderY are the y coordinates, modulo p, of the eight points of
// edwards25519 whose order divides the cofactor 8 (RFC 7748 §4.1 gives the
// curve; the eight are listed in, among others, "Taming the many EdDSAs",
// Chalkias et al. 2020, and libsodium's blocklist): y = 1 (the identity), y = -1
// (order 2), y = 0 (the two of order 4), and ±y8 (the four of order 8,
// two for each y, one for each sign of x).
var smallOrderY = func() []*big.Int {
	y8, _ := new(big.Int).SetString("7a03ac9277fdc74ec6cc392cfa53202a0f67100d760b3cba4fd84d3d706a17c7", 16)
	return []*big.Int{
		big.NewInt(0),
		big.NewInt(1),
		new(big.Int).Sub(fieldPrime, big.NewInt(1)),
		y8,
		new(big.Int).Sub(fieldPrime, y8),
	}
}()

// smallOrder reports whether the Ed25519 public key x encodes a point of
// small order, in any of its spellings (either sign bit, y written
// reduced or not). Such a key signs nothing of its own: a signature
// whose R is a small-order point and S = 0 verifies for every message
// under it (RFC 8032 §5.1.7 does not refuse such keys), so a proof
// carrying one proves nothing.
func smallOrder(x []byte) bool {
	le := [32]byte(x)
	le[31] &= 0x7f // the sign bit of x
	be := make([]byte, 32)
	for i, b := range le {
		be[31-i] = b
	}
	y := new(big.Int).SetBytes(be)
	y.Mod(y, fieldPrime)
	for _, small := range smallOrderY {
		if y.Cmp(small) == 0 {
			return true
		}
	}
	return false
}

// thumbprintOf is the base64url SHA-256 of a JWK's canonical JSON (RFC 7638
// §3.2: the required members only, sorted, no white space). The callers
// build it from base64url texts and fixed names, which need no escaping.
func thumbprintOf(canonical string) string {
	sum := sha256.Sum256([]byte(canonical))
	return b64.EncodeToString(sum[:])
}

// Thumbprint returns the RFC 7638 SHA-256 thumbprint, base64url encoded, of
// the public JWK jwk (JSON): the value a DPoP-bound token carries as
// cnf.jkt (RFC 9449 §6.1). It accepts the keys a proof may carry, and
// refuses private or symmetric ones.
func Thumbprint(jwk []byte) (string, error) {
	v, err := jsonobject.DecodeString(string(jwk))
	if err != nil {
		return "", errors.New("dpop: the JWK is not a JSON object")
	}
	k, err := parseJWK(v)
	if err != nil {
		return "", fmt.Errorf("dpop: %w", err)
	}
	return k.thumbprint, nil
}
