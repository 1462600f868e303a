package jwks_test

import (
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

func TestStatic(t *testing.T) {
	s, err := jwks.NewStatic("issuer-x", rsaA().Public(), ecP256().Public(), ecP384().Public(), ecP521().Public(), edKey().Public())
	wantOK(t, err)
	if st := s.Status(); st.Source != "issuer-x" || st.Keys != 5 || st.LastRefresh.IsZero() || st.LastError != "" {
		t.Fatalf("status = %+v", st)
	}
	tests := []struct {
		method jwt.SigningMethod
		key    any
	}{
		{jwt.SigningMethodRS256, rsaA()},
		{jwt.SigningMethodPS512, rsaA()},
		{jwt.SigningMethodES256, ecP256()},
		{jwt.SigningMethodES384, ecP384()},
		{jwt.SigningMethodES512, ecP521()},
		{jwt.SigningMethodEdDSA, edKey()},
	}
	for _, tc := range tests {
		t.Run(tc.method.Alg(), func(t *testing.T) {
			// kid is ignored entirely, whatever it says.
			for _, kid := range []string{"", "whatever"} {
				wantOK(t, verify(s, sign(t, tc.method, tc.key, kid)))
			}
		})
	}
	wantErr(t, verify(s, sign(t, jwt.SigningMethodRS256, rsaB(), "")), jwt.ErrTokenSignatureInvalid)
	wantErr(t, verify(s, sign(t, jwt.SigningMethodHS256, []byte("secret-secret-secret-secret-1234"), "")), jwks.ErrNoKeys)

	only, err := jwks.NewStatic("ec-only", ecP256().Public())
	wantOK(t, err)
	wantErr(t, verify(only, sign(t, jwt.SigningMethodRS256, rsaA(), "")), jwks.ErrNoKeys)
	wantErr(t, verify(only, sign(t, jwt.SigningMethodES384, ecP384(), "")), jwks.ErrNoKeys)
}

func TestNewStaticRefuses(t *testing.T) {
	p224, err := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	wantOK(t, err)
	x25519, err := ecdh.X25519().GenerateKey(rand.Reader)
	wantOK(t, err)
	tests := []struct {
		name string
		keys []crypto.PublicKey
	}{
		{"no keys", nil},
		{"RSA private key", []crypto.PublicKey{rsaA()}},
		{"EC private key", []crypto.PublicKey{ecP256()}},
		{"Ed25519 private key", []crypto.PublicKey{edKey()}},
		{"1024-bit RSA", []crypto.PublicKey{rsa1024().Public()}},
		{"P-224", []crypto.PublicKey{p224.Public()}},
		{"X25519", []crypto.PublicKey{x25519.PublicKey()}},
		{"symmetric", []crypto.PublicKey{[]byte("secret")}},
		{"nil", []crypto.PublicKey{nil}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := jwks.NewStatic("x", tc.keys...); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestStaticRefusesOversizedRSA(t *testing.T) {
	_, err := jwks.NewStatic("x", fakeRSA(t, 8193))
	if err == nil || !strings.Contains(err.Error(), "above the maximum of 8192") {
		t.Fatalf("error = %v", err)
	}
	s, err := jwks.NewStatic("x", fakeRSA(t, 8192))
	wantOK(t, err)
	if st := s.Status(); st.Keys != 1 {
		t.Fatalf("status = %+v", st)
	}
}

func pemBlock(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func pkixPEM(t *testing.T, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	wantOK(t, err)
	return pemBlock(t, "PUBLIC KEY", der)
}

func selfSigned(t *testing.T, key crypto.Signer) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "test issuer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	wantOK(t, err)
	return pemBlock(t, "CERTIFICATE", der)
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	wantOK(t, os.WriteFile(path, data, 0o600))
	return path
}

func TestLoadPEMFile(t *testing.T) {
	pkcs8, err := x509.MarshalPKCS8PrivateKey(rsaA())
	wantOK(t, err)
	ecPriv, err := x509.MarshalECPrivateKey(ecP256())
	wantOK(t, err)
	tests := []struct {
		name    string
		data    []byte
		keys    int
		verify  func(t *testing.T, s *jwks.Static)
		wantErr string
	}{
		{name: "PKIX RSA", data: pkixPEM(t, rsaA().Public()), keys: 1, verify: func(t *testing.T, s *jwks.Static) {
			wantOK(t, verify(s, sign(t, jwt.SigningMethodRS256, rsaA(), "")))
		}},
		{name: "PKCS1 RSA", data: pemBlock(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsaB().PublicKey)), keys: 1,
			verify: func(t *testing.T, s *jwks.Static) {
				wantOK(t, verify(s, sign(t, jwt.SigningMethodPS256, rsaB(), "")))
			}},
		{name: "certificate", data: selfSigned(t, ecP384()), keys: 1, verify: func(t *testing.T, s *jwks.Static) {
			wantOK(t, verify(s, sign(t, jwt.SigningMethodES384, ecP384(), "")))
		}},
		{name: "several blocks", data: concat([]byte("comment line\n"), pkixPEM(t, rsaA().Public()), pkixPEM(t, edKey().Public()), selfSigned(t, ecP256())), keys: 3,
			verify: func(t *testing.T, s *jwks.Static) {
				wantOK(t, verify(s, sign(t, jwt.SigningMethodRS256, rsaA(), "")))
				wantOK(t, verify(s, sign(t, jwt.SigningMethodEdDSA, edKey(), "")))
				wantOK(t, verify(s, sign(t, jwt.SigningMethodES256, ecP256(), "")))
			}},
		{name: "PKCS8 private key", data: pemBlock(t, "PRIVATE KEY", pkcs8), wantErr: "private key"},
		{name: "PKCS1 private key", data: pemBlock(t, "RSA PRIVATE KEY", []byte("x")), wantErr: "private key"},
		{name: "EC private key after a public key", data: concat(pkixPEM(t, rsaA().Public()), pemBlock(t, "EC PRIVATE KEY", ecPriv)), wantErr: "private key"},
		{name: "1024-bit RSA", data: pkixPEM(t, rsa1024().Public()), wantErr: "1024 bits"},
		{name: "unknown block type", data: pemBlock(t, "FOO", []byte("x")), wantErr: "unsupported PEM block type"},
		{name: "corrupt public key", data: pemBlock(t, "PUBLIC KEY", []byte("garbage")), wantErr: "PEM block 1"},
		{name: "no PEM", data: []byte("not pem"), wantErr: "no PEM block"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "key.pem", tc.data)
			s, err := jwks.LoadPEMFile(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			wantOK(t, err)
			if st := s.Status(); st.Source != path || st.Keys != tc.keys {
				t.Fatalf("status = %+v, want source %s and %d keys", st, path, tc.keys)
			}
			tc.verify(t, s)
		})
	}
	if _, err := jwks.LoadPEMFile(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func TestParsePEMSource(t *testing.T) {
	s, err := jwks.ParsePEM("inline", pkixPEM(t, ecP521().Public()))
	wantOK(t, err)
	if st := s.Status(); st.Source != "inline" || st.Keys != 1 {
		t.Fatalf("status = %+v", st)
	}
}

func concat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
