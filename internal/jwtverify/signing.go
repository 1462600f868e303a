package jwtverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"
)

// signingMethod is the jwt.SigningMethod that verifies alg's signatures:
// golang-jwt's, for its name, its signing and its key types, with a Verify
// of its own that checks the same signature with the same crypto/rsa,
// crypto/ecdsa or crypto/ed25519 call and two differences:
//
//   - RSASSA-PSS signatures must use a salt as long as the hash (RFC 7518
//     §3.5), where golang-jwt's PS256/384/512 accept any salt length;
//   - nothing is copied or allocated around the crypto call: the signing
//     input is hashed where it lies, into an array on the stack, and an
//     ECDSA signature (R and S, RFC 7518 §3.4) is handed to
//     ecdsa.VerifyASN1 as DER written into a stack buffer, where golang-jwt
//     copies the input, allocates the hash and turns R and S into big.Ints
//     that crypto/ecdsa then encodes as DER itself (13 allocations an ES256
//     token).
//
// A key set that is no jwks.KeyLookup sees golang-jwt's own method in the
// token its Keyfunc gets (see golangMethod): a Keyfunc that checks the
// method's type, as golang-jwt's documentation shows, finds the type it
// expects.
func signingMethod(alg string) jwt.SigningMethod {
	switch m := jwt.GetSigningMethod(alg).(type) {
	case *jwt.SigningMethodRSA:
		return &rsaMethod{SigningMethod: m, hash: m.Hash}
	case *jwt.SigningMethodRSAPSS:
		exact := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		pss := &jwt.SigningMethodRSAPSS{SigningMethodRSA: m.SigningMethodRSA, Options: exact, VerifyOptions: exact}
		return &rsaMethod{SigningMethod: pss, hash: m.Hash, pss: exact}
	case *jwt.SigningMethodECDSA:
		return &ecdsaMethod{m}
	case *jwt.SigningMethodEd25519:
		return &ed25519Method{m}
	}
	return nil // Validate admits no other algorithm
}

// golangMethod is golang-jwt's method of which m verifies the signatures,
// for a Keyfunc to look at.
func golangMethod(m jwt.SigningMethod) jwt.SigningMethod {
	switch m := m.(type) {
	case *rsaMethod:
		return m.SigningMethod
	case *ecdsaMethod:
		return m.SigningMethodECDSA
	case *ed25519Method:
		return m.SigningMethodEd25519
	}
	return m
}

// bytesOf views s as bytes, for reading only.
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// digest hashes the signing input with h (SHA-256, -384 or -512) into an
// array on the stack and returns its first h.Size() bytes.
func digest(h crypto.Hash, signingInput string) (d [sha512.Size]byte, n int) {
	in := bytesOf(signingInput)
	switch h {
	case crypto.SHA256:
		sum := sha256.Sum256(in)
		return d, copy(d[:], sum[:])
	case crypto.SHA384:
		sum := sha512.Sum384(in)
		return d, copy(d[:], sum[:])
	}
	return sha512.Sum512(in), sha512.Size
}

// rsaMethod verifies RS256/384/512 and, with pss, PS256/384/512; its name
// and signing are those of the golang-jwt method it holds.
type rsaMethod struct {
	jwt.SigningMethod
	hash crypto.Hash
	pss  *rsa.PSSOptions // nil for RSASSA-PKCS1-v1_5
}

func (m *rsaMethod) Verify(signingInput string, sig []byte, key any) error {
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: RSA verify expects *rsa.PublicKey", jwt.ErrInvalidKeyType)
	}
	d, n := digest(m.hash, signingInput)
	if m.pss != nil {
		return rsa.VerifyPSS(pub, m.hash, d[:n], sig, m.pss)
	}
	return rsa.VerifyPKCS1v15(pub, m.hash, d[:n], sig)
}

type ecdsaMethod struct{ *jwt.SigningMethodECDSA }

func (m *ecdsaMethod) Verify(signingInput string, sig []byte, key any) error {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: ECDSA verify expects *ecdsa.PublicKey", jwt.ErrInvalidKeyType)
	}
	if len(sig) != 2*m.KeySize {
		return jwt.ErrECDSAVerification
	}
	d, n := digest(m.Hash, signingInput)
	var buf [3 + 2*(2+67)]byte // the largest DER of P-521's R and S
	if !ecdsa.VerifyASN1(pub, d[:n], appendDER(buf[:0], sig[:m.KeySize], sig[m.KeySize:])) {
		return jwt.ErrECDSAVerification
	}
	return nil
}

// appendDER appends the DER SEQUENCE of the INTEGERs r and s, unsigned
// big-endian (ASN.1 of RFC 3279 §2.2.3): each without its leading zero
// bytes, and with one zero byte before a first byte whose high bit is set.
// r and s are at most 66 bytes (P-521), so an INTEGER's length is one byte
// and the SEQUENCE's at most two (0x81 and the length, from 128 on).
func appendDER(b, r, s []byte) []byte {
	integer := func(b, v []byte) []byte {
		for len(v) > 1 && v[0] == 0 {
			v = v[1:]
		}
		if v[0]&0x80 != 0 {
			return append(append(b, 0x02, byte(len(v)+1), 0), v...)
		}
		return append(append(b, 0x02, byte(len(v))), v...)
	}
	start := len(b)
	b = append(b, 0x30, 0x81, 0) // SEQUENCE, its length set below
	b = integer(integer(b, r), s)
	n := len(b) - start - 3
	if n < 0x80 {
		// The short form: one length byte, so drop the 0x81.
		b[start+1] = byte(n)
		return append(b[:start+2], b[start+3:]...)
	}
	b[start+2] = byte(n)
	return b
}

type ed25519Method struct{ *jwt.SigningMethodEd25519 }

func (m *ed25519Method) Verify(signingInput string, sig []byte, key any) error {
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return fmt.Errorf("%w: Ed25519 verify expects ed25519.PublicKey", jwt.ErrInvalidKeyType)
	}
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, bytesOf(signingInput), sig) {
		return jwt.ErrEd25519Verification
	}
	return nil
}
