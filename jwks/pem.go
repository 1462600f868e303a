package jwks

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
)

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
