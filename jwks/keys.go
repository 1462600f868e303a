package jwks

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// RSA modulus sizes accepted for RS* and PS*. The maximum bounds the cost of
// one verification: it grows with the square of the size, and a token without
// a "kid" is tried against every key that fits.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// signatureAlgs are the token algorithms for which a key can ever fit, in
// the order of algIndex.
var signatureAlgs = [...]string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// numAlgs is the number of signature algorithms.
const numAlgs = len(signatureAlgs)

// algIndex is the position of alg in signatureAlgs, or -1 for any other
// algorithm ("none", HS*, unknown).
func algIndex(alg string) int {
	switch alg {
	case "RS256":
		return 0
	case "RS384":
		return 1
	case "RS512":
		return 2
	case "PS256":
		return 3
	case "PS384":
		return 4
	case "PS512":
		return 5
	case "ES256":
		return 6
	case "ES384":
		return 7
	case "ES512":
		return 8
	case "EdDSA":
		return 9
	}
	return -1
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

func onCurve(key any, c elliptic.Curve) bool {
	k, ok := key.(*ecdsa.PublicKey)
	return ok && k.Curve == c
}

// tooLarge reports whether key is an RSA key above maxRSABits, which is
// never stored.
func tooLarge(key crypto.PublicKey) bool {
	k, ok := key.(*rsa.PublicKey)
	return ok && k.N != nil && k.N.BitLen() > maxRSABits
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

// entry is one public signature key with the JWK metadata that restricts its
// use.
type entry struct {
	kid string // JWK "kid"; "" if none
	alg string // JWK "alg"; "" if none (the key may serve any algorithm it fits)
	key crypto.PublicKey
	jwk jwkset.JWK // the public key with kid and alg, as keyfunc reads it
}

// usableFor reports whether e may verify a token signed with alg.
func (e entry) usableFor(alg string) bool {
	return (e.alg == "" || e.alg == alg) && fits(alg, e.key)
}

// keySet is the immutable index of a set's keys, built once per load. Every
// answer a request can get is computed here, so a lookup is one map access
// (by kid) or one array access (by alg) and allocates nothing. The keys and
// key sets handed out are shared by all requests.
type keySet struct {
	n      int                      // keys held
	usable int                      // keys usable for at least one algorithm
	byAlg  [numAlgs]any             // per algorithm: a jwt.VerificationKeySet of the usable keys, or nil
	byKID  map[string]*[numAlgs]any // per kid and algorithm: the one usable key, a jwt.VerificationKeySet of several, or nil
	loaded time.Time                // when the keys were loaded

	entries    []entry // the keys, as loaded
	generation uint64  // see Remote.Generation

	// unique holds the JWK of every kid that one key alone has, for
	// keyfunc (see Remote.forKID).
	unique map[string]jwkset.JWK
}

// newKeySet indexes entries. A kid shared by several keys (RFC 7517 allows
// that across key types) offers those that fit the token's algorithm.
func newKeySet(entries []entry, loaded time.Time) *keySet {
	ks := &keySet{n: len(entries), byKID: make(map[string]*[numAlgs]any), loaded: loaded, entries: entries}
	var byAlg [numAlgs][]jwt.VerificationKey
	byKID := make(map[string]*[numAlgs][]jwt.VerificationKey)
	for _, e := range entries {
		var kid *[numAlgs][]jwt.VerificationKey
		if e.kid != "" {
			if kid = byKID[e.kid]; kid == nil {
				kid = new([numAlgs][]jwt.VerificationKey)
				byKID[e.kid] = kid
			}
		}
		used := false
		for i, alg := range signatureAlgs {
			if !e.usableFor(alg) {
				continue
			}
			used = true
			byAlg[i] = append(byAlg[i], e.key)
			if kid != nil {
				kid[i] = append(kid[i], e.key)
			}
		}
		if used {
			ks.usable++
		}
	}
	for i, keys := range byAlg {
		if len(keys) > 0 {
			ks.byAlg[i] = jwt.VerificationKeySet{Keys: slices.Clip(keys)}
		}
	}
	ks.unique = make(map[string]jwkset.JWK, len(byKID))
	for _, e := range entries {
		if e.kid != "" && countKID(entries, e.kid) == 1 {
			ks.unique[e.kid] = e.jwk
		}
	}
	for kid, perAlg := range byKID {
		answers := new([numAlgs]any)
		for i, keys := range perAlg {
			switch len(keys) {
			case 0:
			case 1:
				answers[i] = keys[0]
			default:
				answers[i] = jwt.VerificationKeySet{Keys: slices.Clip(keys)}
			}
		}
		ks.byKID[kid] = answers
	}
	return ks
}

func countKID(entries []entry, kid string) (n int) {
	for _, e := range entries {
		if e.kid == kid {
			n++
		}
	}
	return n
}

// keyStore is the jwkset.Storage keyfunc reads keys from: the index of a
// Remote's current keys. keyfunc's Keyfunc calls KeyRead alone, and only
// for a kid one key alone has (see Remote.forKID); the set's keys are
// written by replacing the index, never through the Storage methods.
type keyStore struct {
	jwkset.Storage // the methods keyfunc does not call; nil
	keys           *atomic.Pointer[keySet]
}

// KeyRead returns the key with the given kid, or ErrUnknownKey.
func (s keyStore) KeyRead(_ context.Context, kid string) (jwkset.JWK, error) {
	j, ok := s.keys.Load().unique[kid]
	if !ok {
		return jwkset.JWK{}, ErrUnknownKey
	}
	return j, nil
}

// keeps reports whether every key of old is in ks, with the same kid and
// alg.
func (ks *keySet) keeps(old *keySet) bool {
	for _, o := range old.entries {
		if !slices.ContainsFunc(ks.entries, func(e entry) bool {
			k, ok := e.key.(interface{ Equal(crypto.PublicKey) bool })
			return e.kid == o.kid && e.alg == o.alg && ok && k.Equal(o.key)
		}) {
			return false
		}
	}
	return true
}

// forAlg returns a jwt.VerificationKeySet of the keys usable for alg, or
// ErrNoKeys.
func (ks *keySet) forAlg(alg string) (any, error) {
	i := algIndex(alg)
	if i < 0 || ks.byAlg[i] == nil {
		return nil, ErrNoKeys
	}
	return ks.byAlg[i], nil
}

// forKID returns the key with the given kid that is usable for alg (or a
// jwt.VerificationKeySet if several are), ErrUnknownKey if no key has that
// kid, or ErrKeyMismatch if none of those that have it is usable for alg.
func (ks *keySet) forKID(alg, kid string) (any, error) {
	perAlg, ok := ks.byKID[kid]
	if !ok {
		return nil, ErrUnknownKey
	}
	i := algIndex(alg)
	if i < 0 || perAlg[i] == nil {
		return nil, ErrKeyMismatch
	}
	return perAlg[i], nil
}

// hasKID reports whether a key with the given kid is held.
func (ks *keySet) hasKID(kid string) bool {
	_, ok := ks.byKID[kid]
	return ok
}

// maxSkipLogs bounds the "key skipped" records of one load.
const maxSkipLogs = 10

var (
	// errNotJWK is the error of a "keys" member that is not a JWK object.
	errNotJWK = errors.New("not a JWK object")
	// errRSATooLarge is the error of an RSA JWK above maxRSABits.
	errRSATooLarge = errors.New("RSA modulus above 8192 bits")
)

// readKeys reads the members of a JWK Set's "keys" array one by one and
// returns the public signature keys among them.
//
// A member jwkset cannot read (unsupported type or curve, missing or
// malformed parameters, point off the curve, unregistered "use" or "key_ops"
// value, bad "x5c") or an RSA key above maxRSABits is skipped and counted, and
// the others are kept: RFC 7517 §5 has implementations ignore keys they do not
// understand, so one such key must not hide the rest of the set. Keys that are
// not for signatures (encryption, symmetric, other types) are dropped without
// being counted. Private members are reduced to their public parts, so no
// private material is kept. Neither kind is logged with key material.
func readKeys(ctx context.Context, raws []json.RawMessage, logger *slog.Logger, source string) (keys []entry, skipped int) {
	keys = make([]entry, 0, len(raws))
	for i, raw := range raws {
		j, m, err := parseKey(raw)
		if err != nil {
			skipped++
			if skipped <= maxSkipLogs {
				logger.DebugContext(ctx, "jwks: key skipped", "source", source, "index", i,
					"kid", logText(m.KID), "kty", logText(m.KTY.String()), "reason", skipReason(m, err))
			}
			continue
		}
		e, reason, unsafe := signatureKey(j.Key(), m)
		if reason == "" {
			keys = append(keys, e)
			continue
		}
		if unsafe {
			skipped++
		}
		logger.DebugContext(ctx, "jwks: key dropped", "source", source, "index", i,
			"kid", logText(m.KID), "kty", logText(m.KTY.String()), "reason", reason)
	}
	return keys, skipped
}

// parseKey reads one JWK. Private members are read so that a key published
// with them still yields its public part.
func parseKey(raw json.RawMessage) (jwkset.JWK, jwkset.JWKMarshal, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return jwkset.JWK{}, jwkset.JWKMarshal{}, errNotJWK
	}
	// Checked before jwkset validates the key, which for a private RSA key
	// costs time growing with the modulus size.
	if m.KTY == jwkset.KtyRSA && modulusBits(m.N) > maxRSABits {
		return jwkset.JWK{}, m, errRSATooLarge
	}
	// The zero JWKValidateOptions have no GetX5U: "x5u" is never fetched.
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	return j, m, err
}

// signatureKey returns the entry of a key jwkset has read, with its metadata
// m, or why it is dropped; unsafe reports whether the drop is counted as a
// skip (an unsafe or invalid key rather than one that is not for signatures).
func signatureKey(key any, m jwkset.JWKMarshal) (e entry, reason string, unsafe bool) {
	pub, isSigKey := publicKey(key)
	_, isEd25519 := pub.(ed25519.PublicKey)
	switch {
	case m.USE == jwkset.UseEnc:
		return e, `"use" is "enc"`, false
	case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
		return e, `"key_ops" lacks "verify"`, false
	case m.KTY == jwkset.KtyOct:
		return e, "symmetric key", false
	case !isSigKey:
		return e, "not a signature key type", false
	case m.ALG != "" && algIndex(m.ALG.String()) < 0:
		return e, `"alg" is not an accepted signature algorithm`, false
	case tooLarge(pub): // parseKey refuses these first; the limit holds here too
		return e, "RSA modulus above 8192 bits", true
	case rocaWeak(pub): // see roca.go
		return e, "RSA modulus with the ROCA fingerprint (CVE-2017-15361)", true
	case isEd25519 && m.ALG != "" && m.ALG != jwkset.AlgEdDSA:
		return e, "invalid key metadata", true // jwkset refuses such a key when built from Go
	}
	j, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: m.KID, ALG: m.ALG}})
	if err != nil {
		return e, "unreadable public key", true
	}
	return entry{kid: m.KID, alg: m.ALG.String(), key: pub, jwk: j}, "", false
}

// modulusBits is the size of the base64url modulus n, or 0 if n does not
// decode (jwkset then reports the key as malformed).
func modulusBits(n string) int {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return 0
	}
	return new(big.Int).SetBytes(b).BitLen()
}

// skipReason describes why parseKey refused m, from known parts only: never
// key material, never jwkset's error text.
func skipReason(m jwkset.JWKMarshal, err error) string {
	unregistered := func(o jwkset.KEYOPS) bool { return !o.IANARegistered() }
	switch {
	case errors.Is(err, errNotJWK), errors.Is(err, errRSATooLarge):
		return err.Error()
	case errors.Is(err, jwkset.ErrUnsupportedKey):
		return "unsupported key type or curve"
	case !m.USE.IANARegistered():
		return `unregistered "use" value`
	case slices.ContainsFunc(m.KEYOPS, unregistered):
		return `unregistered "key_ops" value`
	case errors.Is(err, jwkset.ErrInvalidKey):
		return "invalid key (point off the curve or exponent out of range)"
	case errors.Is(err, jwkset.ErrKeyUnmarshalParameter):
		return "missing or malformed key parameter"
	case errors.Is(err, jwkset.ErrX509Mismatch):
		return `"x5c" certificate does not match the key`
	case len(m.X5C) > 0 && !x5cParses(m.X5C):
		return `invalid "x5c" certificate chain`
	}
	var corrupt base64.CorruptInputError
	if errors.As(err, &corrupt) {
		return "malformed base64url key parameter"
	}
	return "key failed validation"
}

// x5cParses reports whether every certificate of an "x5c" chain decodes.
func x5cParses(chain []string) bool {
	for _, c := range chain {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return false
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			return false
		}
	}
	return true
}

// maxLogText bounds issuer-supplied strings (kid, kty) in log records.
const maxLogText = 64

// logText shortens s to its first maxLogText bytes, as valid UTF-8.
func logText(s string) string {
	if len(s) <= maxLogText {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:maxLogText], "\uFFFD") + "…"
}
