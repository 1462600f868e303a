package signkey_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/signkey"
)

func TestGenerateSignVerify(t *testing.T) {
	for alg, want := range map[string]string{
		"RS256": "RSA 2048", "RS384": "RSA 2048", "RS512": "RSA 2048",
		"PS256": "RSA 2048", "PS384": "RSA 2048", "PS512": "RSA 2048",
		"ES256": "P-256", "ES384": "P-384", "ES512": "P-521",
		"EdDSA": "Ed25519",
	} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			key, err := signkey.Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			switch pub := key.Public().(type) {
			case *rsa.PublicKey:
				got = "RSA " + strconv.Itoa(pub.N.BitLen())
			case *ecdsa.PublicKey:
				got = pub.Curve.Params().Name
			case ed25519.PublicKey:
				got = "Ed25519"
			}
			if got != want {
				t.Fatalf("key is %q, want %q", got, want)
			}

			jwk, err := key.JWK("k1", alg, "sig")
			if err != nil {
				t.Fatal(err)
			}
			if m := jwk.Marshal(); m.KID != "k1" || string(m.ALG) != alg || m.USE != "sig" {
				t.Fatalf("JWK kid/alg/use = %s/%s/%s", m.KID, m.ALG, m.USE)
			}

			keyfunc := func(*jwt.Token) (any, error) { return key.Public(), nil }
			parser := jwt.NewParser(jwt.WithValidMethods([]string{alg}))
			signed, err := key.Sign(jwt.MapClaims{"sub": "s"}, "k1", map[string]any{"typ": "at+jwt"})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := parser.Parse(signed, keyfunc)
			if err != nil {
				t.Fatal(err)
			}
			if tok.Header["kid"] != "k1" || tok.Header["typ"] != "at+jwt" || tok.Claims.(jwt.MapClaims)["sub"] != "s" {
				t.Fatalf("token %v %v", tok.Header, tok.Claims)
			}

			noKid, err := key.Sign(jwt.MapClaims{}, "k1", map[string]any{"kid": nil})
			if err != nil {
				t.Fatal(err)
			}
			if tok, err = parser.Parse(noKid, keyfunc); err != nil || tok.Header["kid"] != nil {
				t.Fatalf("a nil kid left header %v (%v)", tok.Header, err)
			}

			raw, err := key.SignRaw([]byte(`{"alg":"`+alg+`"}`), []byte(`{"sub":"a","sub":"b"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tok, err = parser.Parse(raw, keyfunc); err != nil || tok.Header["kid"] != nil {
				t.Fatalf("raw token header %v (%v)", tok.Header, err)
			}
		})
	}
}

func TestGenerateRejectsUnknownAlg(t *testing.T) {
	for _, alg := range []string{"", "HS256", "none", "rs256", "RS1"} {
		if _, err := signkey.Generate(alg); err == nil || !strings.Contains(err.Error(), "not supported") {
			t.Errorf("Generate(%q) = %v, want a not-supported error", alg, err)
		}
	}
}
