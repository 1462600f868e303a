package jwks_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

func ExampleNewRemote() {
	// An issuer publishing one P-256 key as a JWK Set (stands in for
	// https://issuer.example/.well-known/jwks.json).
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwk, _ := jwkset.NewJWKFromKey(key.Public(), jwkset.JWKOptions{
		Metadata: jwkset.JWKMetadataOptions{KID: "2025-01", USE: jwkset.UseSig},
	})
	doc, _ := json.Marshal(jwkset.JWKSMarshal{Keys: []jwkset.JWKMarshal{jwk.Marshal()}})
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
	}))
	defer issuer.Close()

	// One Remote per trusted issuer; it refreshes in the background until
	// Close or until ctx is done.
	ctx := context.Background()
	keys, err := jwks.NewRemote(ctx, issuer.URL+"/jwks.json", jwks.Options{})
	if err != nil {
		fmt.Println("bad configuration:", err)
		return
	}
	defer keys.Close()
	fmt.Println("keys:", keys.Status().Keys)

	// A token from that issuer.
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "alice"})
	tok.Header["kid"] = "2025-01"
	signed, _ := tok.SignedString(key)

	// Verify it, allowing only the algorithms the issuer uses.
	parsed, err := jwt.Parse(signed, keys.Keyfunc(ctx), jwt.WithValidMethods([]string{"ES256"}))
	if err != nil {
		fmt.Println("rejected:", err)
		return
	}
	sub, _ := parsed.Claims.GetSubject()
	fmt.Println("subject:", sub)
	// Output:
	// keys: 1
	// subject: alice
}

func ExampleLoadPEMFile() {
	// An issuer that publishes no JWK Set hands out its public key as PEM.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	dir, _ := os.MkdirTemp("", "jwks-example")
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "issuer_pub.pem")
	_ = os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)

	keys, err := jwks.LoadPEMFile(path)
	if err != nil {
		fmt.Println("bad key file:", err)
		return
	}
	fmt.Println("keys:", keys.Status().Keys)

	signed, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "bob"}).SignedString(key)
	_, err = jwt.Parse(signed, keys.Keyfunc(context.Background()), jwt.WithValidMethods([]string{"ES256"}))
	fmt.Println("valid:", err == nil)
	// Output:
	// keys: 1
	// valid: true
}
