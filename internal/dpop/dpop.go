// Package dpop checks DPoP proofs (RFC 9449): the JWT a client signs with
// its own key for each request, so that an access token bound to that key
// (cnf.jkt) works only for whoever holds it. A Checker checks one proof for
// one request (RFC 9449 §4.3), remembers it so that it cannot be replayed,
// and returns the RFC 7638 thumbprint of the proof's key for the caller to
// compare with the token's binding (or compares it itself, given the
// token's cnf.jkt).
//
// A proof is checked in this order, each refusal with a cause of its own
// (see Error): one DPoP header; a JWS in compact form; typ dpop+jwt; no
// crit; alg in the allowlist (asymmetric only); a jwk header holding a
// public key (no private or symmetric member) that fits alg; the signature
// with that key; the claims jti (required, at most 256 bytes), htm (the
// request method, exactly), htu (the request URI, see normalURI), iat
// (within MaxAge of now, and not beyond the leeway into the future), ath
// (the access token's SHA-256, when there is a token), nonce (when the
// server requires one); the token's cnf.jkt, when given; and last the
// replay cache, so that only proofs that passed everything else take room
// in it.
package dpop

import (
	"cmp"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/jsonobject"
	"github.com/keyward/keyward/internal/jwtverify"
)

// Bounds of a proof and of the options.
const (
	// MaxProofBytes bounds a proof: a 4096-bit RSA key in the header and
	// its signature take less than 3 KiB.
	MaxProofBytes = 8 << 10
	// MaxJTIBytes bounds the jti claim (RFC 9449 §4.2 asks for 96 random
	// bits at least; a UUID takes 36 bytes).
	MaxJTIBytes = 256
	// DefaultMaxAge is Options.MaxAge when it is zero.
	DefaultMaxAge = 60 * time.Second
	// MaxMaxAge is the largest Options.MaxAge: the replay cache keeps a
	// proof this long.
	MaxMaxAge = 10 * time.Minute
	// ReplayMargin is how much longer than its iat lets it pass a proof
	// is kept against replay: it covers the rounding of a shared store's
	// expiry (Redis counts milliseconds) and replicas whose clocks differ
	// by up to as much (a replica whose clock is behind accepts a proof
	// for longer than the one that recorded it computed).
	ReplayMargin = 5 * time.Second
)

// Options configure a Checker. The zero value is usable.
type Options struct {
	// Algorithms are the JWS algorithms a proof may be signed with; empty
	// means jwtverify.DefaultAlgorithms (RS*, PS*, ES*, EdDSA), the only
	// ones it may name. none and HMAC are never accepted.
	Algorithms []string
	// MaxAge is how old a proof's iat may be: 0 means DefaultMaxAge, at
	// most MaxMaxAge.
	MaxAge time.Duration
	// Leeway is the clock skew allowed both ways around MaxAge and now:
	// 0 means 30 seconds, negative none, at most jwtverify.MaxLeeway.
	Leeway time.Duration
	// Nonce, when set, makes the nonce claim required (RFC 9449 §8): it is
	// called with the proof's nonce, and a missing nonce or one it refuses
	// is answered use_dpop_nonce (the caller sends a fresh nonce in a
	// DPoP-Nonce header).
	Nonce func(nonce string) bool
	// Shared, when set, is where accepted proofs are recorded, shared by
	// every replica that uses it, so that a proof replayed to another one
	// is refused too. When it cannot answer, a proof is refused (503): a
	// proof that cannot be recorded could be replayed. Nil means the
	// memory of this process, bounded by MaxEntries and MaxEntriesPerKey.
	Shared OnceSetter
	// MaxEntries bounds the proofs the memory replay cache keeps: 0 means
	// DefaultMaxEntries.
	MaxEntries int
	// MaxEntriesPerKey bounds those of one key: 0 means MaxEntries (no
	// bound of its own). With a Shared store that is a CountingSetter, it
	// bounds the proofs of one key recorded there within a record's
	// longest lifetime (0: DefaultMaxEntries), past which 429. Whatever it is, when the cache is full the key
	// holding the most is made to give room to a key below its fair share
	// (MaxEntries over the keys recorded), and refused (429) meanwhile.
	MaxEntriesPerKey int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Checker checks DPoP proofs. It is safe for concurrent use.
type Checker struct {
	methods map[string]jwt.SigningMethod
	algs    string // space-separated, for the challenge
	maxAge  time.Duration
	leeway  time.Duration
	nonce   func(string) bool
	replay  replayStore
	now     func() time.Time
}

// New returns a Checker for o, or an error naming the option at fault.
func New(o Options) (*Checker, error) {
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = jwtverify.DefaultAlgorithms
	}
	c := &Checker{methods: map[string]jwt.SigningMethod{}, nonce: o.Nonce, now: o.Now}
	for _, alg := range algs {
		if !slices.Contains(jwtverify.DefaultAlgorithms, alg) {
			return nil, fmt.Errorf("dpop: Algorithms: %q is not one of %s", alg, strings.Join(jwtverify.DefaultAlgorithms, ", "))
		}
		c.methods[alg] = signingMethod(alg)
	}
	c.algs = strings.Join(algs, " ")
	switch {
	case o.MaxAge < 0 || o.MaxAge > MaxMaxAge:
		return nil, fmt.Errorf("dpop: MaxAge %s is outside 0s to %s", o.MaxAge, MaxMaxAge)
	case o.Leeway > jwtverify.MaxLeeway:
		return nil, fmt.Errorf("dpop: Leeway %s is above %s", o.Leeway, jwtverify.MaxLeeway)
	case o.MaxEntries < 0 || o.MaxEntriesPerKey < 0:
		return nil, errors.New("dpop: MaxEntries and MaxEntriesPerKey may not be negative")
	}
	c.maxAge = cmp.Or(o.MaxAge, DefaultMaxAge)
	c.leeway = max(cmp.Or(o.Leeway, jwtverify.DefaultLeeway), 0)
	if c.now == nil {
		c.now = time.Now
	}
	if o.Shared != nil {
		// The longest a record lives: a proof dated the leeway ahead.
		window := c.maxAge + 2*c.leeway + ReplayMargin
		c.replay = sharedReplay{store: o.Shared, perKey: int64(cmp.Or(o.MaxEntriesPerKey, DefaultMaxEntries)), window: window}
	} else {
		maxEntries := cmp.Or(o.MaxEntries, DefaultMaxEntries)
		perKey := cmp.Or(o.MaxEntriesPerKey, maxEntries)
		c.replay = newMemoryReplay(maxEntries, min(perKey, maxEntries), c.now)
	}
	return c, nil
}

// signingMethod is golang-jwt's method for alg, except that RSASSA-PSS
// signatures must have a salt as long as the hash (RFC 7518 §3.5), where
// golang-jwt's PS256/384/512 accept any salt length.
func signingMethod(alg string) jwt.SigningMethod {
	m := jwt.GetSigningMethod(alg)
	if pss, ok := m.(*jwt.SigningMethodRSAPSS); ok {
		exact := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		return &jwt.SigningMethodRSAPSS{SigningMethodRSA: pss.SigningMethodRSA, Options: exact, VerifyOptions: exact}
	}
	return m
}

// Algorithms returns the accepted algorithms, space-separated, as the
// algs parameter of a DPoP challenge (RFC 9449 §7.1) lists them.
func (c *Checker) Algorithms() string { return c.algs }

// Request is what Check needs of a request.
type Request struct {
	// Proofs are the values of the request's DPoP header fields
	// (http.Header.Values("DPoP")): exactly one is accepted.
	Proofs []string
	// Method is the request method.
	Method string
	// URI is the request URI as the client used it: scheme, host, port
	// and path (a query and a fragment are ignored). Behind a proxy, the
	// caller builds it from the forwarded scheme and host only when the
	// proxy is trusted.
	URI string
	// AccessToken is the token the request presents with the proof; its
	// hash must be the proof's ath. Empty when there is none (a token
	// request): then ath is not read.
	AccessToken string
	// BoundTo, when set, is the token's cnf.jkt: the proof's key must have
	// this thumbprint, checked before its signature is verified.
	BoundTo string
}

// Proof is what Check learnt of an accepted proof.
type Proof struct {
	// Thumbprint is the RFC 7638 SHA-256 thumbprint of the proof's key,
	// base64url encoded: what a token bound to it carries as cnf.jkt.
	Thumbprint string
	// IssuedAt is the proof's iat.
	IssuedAt time.Time
}

// Check checks r's proof, records it against replay, and returns its key's
// thumbprint. Every error is an *Error.
func (c *Checker) Check(ctx context.Context, r Request) (Proof, error) {
	if len(r.Proofs) != 1 {
		return Proof{}, invalid(errHeaderCount, "a request must carry exactly one DPoP header")
	}
	raw := r.Proofs[0]
	claims, jwk, e := c.verified(raw, r.BoundTo)
	if e != nil {
		return Proof{}, e
	}
	iat, e := c.checkClaims(claims, r)
	if e != nil {
		return Proof{}, e
	}
	jti := claims["jti"].(string) // checkClaims made sure
	ttl := iat.Add(c.maxAge+c.leeway).Sub(c.now()) + ReplayMargin
	if err := c.replay.remember(ctx, jwk.thumbprint, jti, ttl); err != nil {
		return Proof{}, replayError(err)
	}
	return Proof{Thumbprint: jwk.thumbprint, IssuedAt: iat}, nil
}

// replayError is the refusal for a replay store's error.
func replayError(err error) *Error {
	var full *storeFull
	switch {
	case errors.Is(err, errReplayed):
		return invalid(errReplayed, "the DPoP proof was used before (its jti was seen)")
	case errors.As(err, &full) && errors.Is(err, errKeyShareFull):
		return &Error{Status: http.StatusTooManyRequests, Code: CodeTooManyRequests, RetryAfter: retrySeconds(full.retry),
			Description: "too many DPoP proofs with this key within their lifetime; retry later", Err: err}
	case errors.As(err, &full):
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, RetryAfter: retrySeconds(full.retry),
			Description: "the DPoP replay cache is full; retry later", Err: err}
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, RetryAfter: time.Second,
		Description: "DPoP proofs cannot be checked for replay at the moment; retry later", Err: err}
}

// retrySeconds rounds d up to whole seconds, as Retry-After counts them.
func retrySeconds(d time.Duration) time.Duration {
	return max(time.Second, (d + time.Second - 1).Truncate(time.Second))
}

// verified parses raw and checks its header and signature; it returns the
// decoded claims and the proof's key. When boundTo is set, a key with
// another thumbprint is refused before the signature is verified, so that
// a proof made with a key of one's own costs no signature work on a token
// bound to someone else's.
func (c *Checker) verified(raw, boundTo string) (map[string]any, publicJWK, *Error) {
	if len(raw) > MaxProofBytes {
		return nil, publicJWK{}, malformed()
	}
	h, rest, ok1 := strings.Cut(raw, ".")
	p, s, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s, ".") {
		return nil, publicJWK{}, malformed()
	}
	header, err := decodeObject(h)
	if err != nil {
		return nil, publicJWK{}, malformed()
	}
	if typ, _ := header["typ"].(string); !isDPoPType(typ) {
		return nil, publicJWK{}, invalid(errTyp, "the DPoP proof's typ is not dpop+jwt")
	}
	if _, found := header["crit"]; found {
		return nil, publicJWK{}, invalid(errCrit, "the DPoP proof names critical extensions (crit), which this server does not understand")
	}
	alg, _ := header["alg"].(string)
	method := c.methods[alg]
	if method == nil {
		return nil, publicJWK{}, invalid(errAlg, "the DPoP proof's alg is not one of "+c.algs)
	}
	jwkValue, found := header["jwk"]
	if !found {
		return nil, publicJWK{}, invalid(errNoJWK, "the DPoP proof has no jwk header")
	}
	jwk, err := parseJWK(jwkValue)
	switch {
	case errors.Is(err, errPrivateJWK):
		return nil, publicJWK{}, invalid(err, "the DPoP proof's jwk holds private or symmetric key material")
	case err != nil:
		return nil, publicJWK{}, invalid(err, "the DPoP proof's jwk is not a usable public key")
	case !fits(jwk.key, method):
		return nil, publicJWK{}, invalid(errKeyAlg, "the DPoP proof's jwk is not a key for its alg")
	case boundTo != "" && boundTo != jwk.thumbprint:
		return nil, publicJWK{}, invalid(errBoundKey, "the DPoP proof is signed with another key than the one the access token is bound to")
	}
	sig, err := b64.DecodeString(s)
	if err != nil {
		return nil, publicJWK{}, malformed()
	}
	if err := method.Verify(raw[:len(h)+1+len(p)], sig, jwk.key); err != nil {
		return nil, publicJWK{}, invalid(errSignature, "the DPoP proof's signature does not verify with its jwk")
	}
	claims, err := decodeObject(p)
	if err != nil {
		return nil, publicJWK{}, invalid(errClaims, "the DPoP proof's claims are not a JSON object")
	}
	return claims, jwk, nil
}

func malformed() *Error { return invalid(errForm, "the DPoP proof is not a JWS in compact form") }

// decodeObject decodes a base64url JSON object.
func decodeObject(part string) (map[string]any, error) {
	b, err := b64.DecodeString(part)
	if err != nil {
		return nil, err
	}
	// b is nobody else's and never written again: the decoded strings
	// may point into it.
	return jsonobject.DecodeString(unsafe.String(unsafe.SliceData(b), len(b)))
}

// isDPoPType reports whether typ names the media type
// application/dpop+jwt: media types compare without regard to case (RFC
// 9110 §8.3.1), and a typ without "/" stands for one under application/
// (RFC 7515 §4.1.9). Parameters are not accepted.
func isDPoPType(typ string) bool {
	return strings.EqualFold(typ, "dpop+jwt") || strings.EqualFold(typ, "application/dpop+jwt")
}

// fits reports whether key is of the type and size alg's method signs
// with: RSA for RS and PS, the curve of the hash for ES, Ed25519 for EdDSA.
func fits(key any, method jwt.SigningMethod) bool {
	switch m := method.(type) {
	case *jwt.SigningMethodRSA, *jwt.SigningMethodRSAPSS:
		_, ok := key.(*rsa.PublicKey)
		return ok
	case *jwt.SigningMethodECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve.Params().BitSize == m.CurveBits
	case *jwt.SigningMethodEd25519:
		_, ok := key.(ed25519.PublicKey)
		return ok
	}
	return false
}

// checkClaims checks jti, htm, htu, iat, ath and nonce, and returns iat.
func (c *Checker) checkClaims(claims map[string]any, r Request) (time.Time, *Error) {
	if jti, _ := claims["jti"].(string); jti == "" || len(jti) > MaxJTIBytes {
		return time.Time{}, invalid(errJTI, fmt.Sprintf("the DPoP proof's jti is missing or longer than %d bytes", MaxJTIBytes))
	}
	if htm, _ := claims["htm"].(string); htm != r.Method {
		return time.Time{}, invalid(errHTM, "the DPoP proof's htm is not the request's method")
	}
	want, err := normalURI(r.URI)
	if err != nil {
		return time.Time{}, invalid(fmt.Errorf("%w: %v", errRequestURI, err), "the request URI cannot be compared with the DPoP proof's htu")
	}
	htu, _ := claims["htu"].(string)
	if got, err := normalURI(htu); err != nil || got != want {
		return time.Time{}, invalid(errHTU, "the DPoP proof's htu is not the request's URI")
	}
	iat, ok := numericDate(claims["iat"])
	if !ok {
		return time.Time{}, invalid(errIATMissing, "the DPoP proof has no iat, or not a number")
	}
	now := c.now()
	switch {
	case iat.Before(now.Add(-c.maxAge - c.leeway)):
		return time.Time{}, invalid(errIATOld, "the DPoP proof is too old (iat)")
	case iat.After(now.Add(c.leeway)):
		return time.Time{}, invalid(errIATFuture, "the DPoP proof's iat is in the future")
	}
	if r.AccessToken != "" {
		ath, found := claims["ath"].(string)
		if !found {
			return time.Time{}, invalid(errATHMissing, "the DPoP proof has no ath, which a request with an access token needs")
		}
		if !isHashOf(ath, r.AccessToken) {
			return time.Time{}, invalid(errATH, "the DPoP proof's ath is not the hash of the access token")
		}
	}
	if c.nonce != nil {
		if nonce, _ := claims["nonce"].(string); nonce == "" || !c.nonce(nonce) {
			return time.Time{}, &Error{Status: http.StatusUnauthorized, Code: CodeUseNonce, Err: errNonce,
				Description: "the DPoP proof must carry the nonce this server provides (DPoP-Nonce)"}
		}
	}
	return iat, nil
}

// isHashOf reports whether ath is the base64url SHA-256 of token (RFC 9449
// §4.2), in its one unpadded spelling.
func isHashOf(ath, token string) bool {
	var got [sha256.Size]byte
	if len(ath) != b64.EncodedLen(sha256.Size) {
		return false
	}
	if n, err := b64.Decode(got[:], []byte(ath)); err != nil || n != sha256.Size {
		return false
	}
	want := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// numericDate reads a NumericDate (RFC 7519 §2): seconds since the epoch,
// possibly with a fraction, within the years 1970 to 9999.
func numericDate(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || f < 0 || f > 253402300799 {
		return time.Time{}, false
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}
