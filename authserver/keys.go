package authserver

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/signkey"
)

// signingKey is one key pair with its key id and public JWK.
type signingKey struct {
	kid string
	key signkey.Key
	jwk jwkset.JWKMarshal
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

// newSigningKey generates a key for alg (see signkey.Generate; Config
// allows RS256, ES256 and EdDSA) with a random key id.
func newSigningKey(alg string) (*signingKey, error) {
	key, err := signkey.Generate(alg)
	if err != nil {
		return nil, fmt.Errorf("authserver: generating a signing key: %w", err)
	}
	kid := rand.Text()
	jwk, err := key.JWK(kid, alg, string(jwkset.UseSig))
	if err != nil {
		return nil, fmt.Errorf("authserver: encoding a signing key as a JWK: %w", err)
	}
	return &signingKey{kid: kid, key: key, jwk: jwk.Marshal()}, nil
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

	token, err = key.key.Sign(claims, key.kid, map[string]any{"typ": accessTokenType}) // RFC 9068 §2.1
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

// publicKey returns the public key of kid if it is published at now: the
// signing key, the next key or a retired key some token of which is still
// alive.
func (k *keyring) publicKey(kid string, now time.Time) (any, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pruneLocked(now)
	for _, key := range append([]*signingKey{k.current, k.next}, k.retired...) {
		if key.kid == kid {
			return key.key.Public(), true
		}
	}
	return nil, false
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
