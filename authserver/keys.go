package authserver

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// signingKey is one key pair with its key id and public JWK.
type signingKey struct {
	kid    string
	signer crypto.Signer
	method jwt.SigningMethod
	jwk    jwkset.JWKMarshal
	// lastExpiry is the latest exp of a token the key signed; zero if none.
	// Guarded by the keyring's mutex.
	lastExpiry time.Time
}

// keyring holds the signing key, the next one (published ahead of its use,
// so that resource servers that refresh their key sets on a schedule know it
// before its first token), and retired keys that still have tokens alive.
type keyring struct {
	alg string

	mu      sync.Mutex
	current *signingKey
	next    *signingKey
	retired []*signingKey
}

func newKeyring(alg string) (*keyring, error) {
	current, err := newSigningKey(alg)
	if err != nil {
		return nil, err
	}
	next, err := newSigningKey(alg)
	if err != nil {
		return nil, err
	}
	return &keyring{alg: alg, current: current, next: next}, nil
}

// newSigningKey generates a key for alg: RSA 2048 for RS256, P-256 for
// ES256, Ed25519 for EdDSA.
func newSigningKey(alg string) (*signingKey, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case "RS256":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	default:
		err = fmt.Errorf("algorithm %q is not supported", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("authserver: generating a signing key: %w", err)
	}
	kid := rand.Text()
	jwk, err := jwkset.NewJWKFromKey(signer.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
		KID: kid,
		ALG: jwkset.ALG(alg),
		USE: jwkset.UseSig,
	}})
	if err != nil {
		return nil, fmt.Errorf("authserver: encoding a signing key as a JWK: %w", err)
	}
	return &signingKey{kid: kid, signer: signer, method: jwt.GetSigningMethod(alg), jwk: jwk.Marshal()}, nil
}

// sign signs claims, whose exp is exp, with the current key, and returns the
// compact JWS and the key id. The key is remembered to stay published until
// exp.
func (k *keyring) sign(claims jwt.MapClaims, exp time.Time) (token, kid string, err error) {
	k.mu.Lock()
	key := k.current
	if exp.After(key.lastExpiry) {
		key.lastExpiry = exp
	}
	k.mu.Unlock()

	t := jwt.NewWithClaims(key.method, claims)
	t.Header["typ"] = "at+jwt" // RFC 9068 §2.1
	t.Header["kid"] = key.kid
	token, err = t.SignedString(key.signer)
	if err != nil {
		return "", "", fmt.Errorf("authserver: signing an access token: %w", err)
	}
	return token, key.kid, nil
}

// rotate makes the published next key the signing key, publishes a new next
// key and retires the old signing key until the tokens it signed expire.
// It returns the new signing key's id.
func (k *keyring) rotate(now time.Time) (string, error) {
	fresh, err := newSigningKey(k.alg) // outside the lock: RSA takes a while
	if err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.retired = append(k.retired, k.current)
	k.current, k.next = k.next, fresh
	k.pruneLocked(now)
	return k.current.kid, nil
}

// pruneLocked drops retired keys whose tokens have all expired (a token is
// valid while now is before its exp).
func (k *keyring) pruneLocked(now time.Time) {
	k.retired = slices.DeleteFunc(k.retired, func(key *signingKey) bool { return !now.Before(key.lastExpiry) })
}

// jwks returns the published key set: retired keys still in use, the
// signing key and the next key.
func (k *keyring) jwks(now time.Time) ([]byte, error) {
	k.mu.Lock()
	k.pruneLocked(now)
	keys := make([]jwkset.JWKMarshal, 0, len(k.retired)+2)
	for _, key := range k.retired {
		keys = append(keys, key.jwk)
	}
	keys = append(keys, k.current.jwk, k.next.jwk)
	k.mu.Unlock()
	return json.Marshal(jwkset.JWKSMarshal{Keys: keys})
}
