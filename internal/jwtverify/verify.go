// Package jwtverify is the JWT method of package jwtauth: it verifies JWT
// access tokens (RFC 9068, with the checks of RFC 8725) against the key sets
// of trusted issuers, and remembers the tokens that passed (cache.go). It
// knows nothing of requests, nor of dualauth's Principal: Verify returns the
// verified Claims, or an *Error that says why the token is refused.
//
// A token is checked in this order, each step cheaper than the next: its
// size and form (a JWS in compact form; a JWE is refused), its header
// (algorithm allowlist, explicit type, no critical extensions), the key set
// of the issuer its unverified "iss" names, the signature with the key the
// set gives for its "kid", and then the claims: exp (required), nbf and iat
// with the leeway, iss exactly, aud naming a configured audience, and no cnf
// (a sender-constrained token, RFC 7800, whose proof of possession is not
// checked here) unless Config.AcceptJKT lets a DPoP-bound one pass (see
// checkConfirmation), its binding returned for the caller to check.
package jwtverify

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/fielderr"
	"github.com/keyward/keyward/internal/jsonobject"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/scopes"
)

// Issuer is one trusted authorization server.
type Issuer struct {
	Issuer    string   // the exact "iss" of its tokens
	Audiences []string // a token's aud must name one of them
	Keys      jwks.Set // verifies its signatures
}

// Config says what a Verifier accepts. Its fields mean what the fields of
// the same names in jwtauth.Config mean (their documentation is there).
type Config struct {
	Issuers       []Issuer
	Algorithms    []string      // empty: DefaultAlgorithms
	Leeway        time.Duration // 0: 30 seconds; negative: none
	ScopeClaims   []string      // empty: scopes.DefaultClaims
	RequireType   string
	MaxTokenBytes int // 0: 8 KiB
	// ExpOptional lets a token without exp pass (a signed introspection
	// response, RFC 9701, need not have one); its Claims.ExpiresAt is zero.
	ExpOptional bool
	// AcceptJKT lets a token bound to a DPoP key (cnf.jkt, RFC 9449 §6.1)
	// pass, its thumbprint in Claims.JKT: the caller must then check a
	// DPoP proof made with that key. Every other cnf is refused.
	AcceptJKT bool
	// AcceptX5T lets a token bound to a client certificate (cnf."x5t#S256",
	// RFC 8705 §3.1) pass, its thumbprint in Claims.X5T: the caller must
	// then check the certificate the client presented. Every other cnf is
	// refused.
	AcceptX5T bool
	Cache     CacheConfig
	Now       func() time.Time // nil: time.Now
	Logger    *slog.Logger     // debug logs of refusals; nil: none
}

// DefaultLeeway is Config.Leeway when it is zero.
const DefaultLeeway = 30 * time.Second

// MaxLeeway is the largest Config.Leeway.
const MaxLeeway = 5 * time.Minute

// Defaults of Config fields left zero.
const (
	defaultMaxTokenBytes = 8 << 10
	// maxHeaderBytes caps the encoded JOSE header.
	maxHeaderBytes = 2048
	// maxNumericDate is 9999-12-31T23:59:59Z: later dates cannot be written
	// as RFC 3339 times, and no real token lives that long.
	maxNumericDate = 253402300799
)

// DefaultAlgorithms are the JWS algorithms accepted when Config.Algorithms
// is empty, and the only ones it may name: the asymmetric ones of RFC 7518
// and RFC 8037.
var DefaultAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Validate checks c as New does, without building anything (Keys may be
// nil). Every error is a *fielderr.Error naming a field of Config.
func (c Config) Validate() error {
	first := map[string]int{}
	for i, iss := range c.Issuers {
		at := fmt.Sprintf("Issuers[%d]", i)
		if iss.Issuer == "" {
			return fielderr.New(at+".Issuer", "is required: the exact \"iss\" value of the issuer's tokens")
		}
		if j, dup := first[iss.Issuer]; dup {
			return fielderr.New(at+".Issuer", "%s is already configured in Issuers[%d]", excerpt.Quote(iss.Issuer), j)
		}
		first[iss.Issuer] = i
		if len(iss.Audiences) == 0 {
			return fielderr.New(at+".Audiences", "at least one audience is required, such as [my-api]")
		}
		if k := slices.Index(iss.Audiences, ""); k >= 0 {
			return fielderr.New(fmt.Sprintf("%s.Audiences[%d]", at, k), "an audience may not be empty")
		}
	}
	for i, alg := range c.Algorithms {
		field := fmt.Sprintf("Algorithms[%d]", i)
		switch {
		case slices.Contains(DefaultAlgorithms, alg):
		case strings.EqualFold(alg, "none"):
			return fielderr.New(field, "%q is never accepted: an unsigned token can be forged by anyone", alg)
		case slices.ContainsFunc([]string{"HS256", "HS384", "HS512"}, func(hs string) bool { return strings.EqualFold(alg, hs) }):
			return fielderr.New(field, "%s is not accepted: HMAC needs the issuer's shared secret on every API, and whoever holds it can mint tokens; use an asymmetric algorithm such as RS256 or ES256", excerpt.Quote(alg))
		default:
			return fielderr.New(field, "unknown algorithm %s (allowed, case-sensitive: %s)", excerpt.Quote(alg), strings.Join(DefaultAlgorithms, ", "))
		}
	}
	switch {
	case c.Leeway > MaxLeeway:
		return fielderr.New("Leeway", "%s is outside 0s to %s", c.Leeway, MaxLeeway)
	case slices.Contains(c.ScopeClaims, ""):
		return fielderr.New(fmt.Sprintf("ScopeClaims[%d]", slices.Index(c.ScopeClaims, "")), "a claim name may not be empty")
	case c.MaxTokenBytes < 0:
		return fielderr.New("MaxTokenBytes", "may not be negative")
	case c.Cache.MaxEntries < 0:
		return fielderr.New("TokenCache.MaxEntries", "may not be negative")
	case c.Cache.MaxTTL < 0:
		return fielderr.New("TokenCache.MaxTTL", "may not be negative")
	}
	return nil
}

// Verifier verifies JWT access tokens. It is safe for concurrent use.
type Verifier struct {
	issuers       map[string]*Issuer
	methods       map[string]jwt.SigningMethod // the accepted algorithms
	algorithms    []string
	scopeClaims   []string
	requireType   string // canonical (see canonicalType), or ""
	maxTokenBytes int
	leeway        time.Duration
	expOptional   bool
	acceptJKT     bool
	acceptX5T     bool
	now           func() time.Time
	logger        *slog.Logger
	cache         *tokenCache // nil when off, or when no issuer is trusted
}

// New checks cfg (see Validate; every Issuers[i].Keys must be set) and
// returns a Verifier for it. It starts nothing: the key sets are the
// caller's.
func New(cfg Config) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{
		issuers:       make(map[string]*Issuer, len(cfg.Issuers)),
		algorithms:    orDefault(cfg.Algorithms, DefaultAlgorithms),
		scopeClaims:   orDefault(cfg.ScopeClaims, scopes.DefaultClaims),
		requireType:   canonicalType(cfg.RequireType),
		maxTokenBytes: cmp.Or(cfg.MaxTokenBytes, defaultMaxTokenBytes),
		leeway:        max(cmp.Or(cfg.Leeway, DefaultLeeway), 0),
		expOptional:   cfg.ExpOptional,
		acceptJKT:     cfg.AcceptJKT,
		acceptX5T:     cfg.AcceptX5T,
		now:           cfg.Now,
		logger:        cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
	}
	if v.now == nil {
		v.now = time.Now
	}
	for i, iss := range cfg.Issuers {
		if isNil(iss.Keys) {
			return nil, fielderr.New(fmt.Sprintf("Issuers[%d].Keys", i), "no key set")
		}
		iss.Audiences = slices.Clone(iss.Audiences)
		v.issuers[iss.Issuer] = &iss
	}
	v.methods = make(map[string]jwt.SigningMethod, len(v.algorithms))
	for _, alg := range v.algorithms {
		v.methods[alg] = signingMethod(alg)
	}
	if !cfg.Cache.Disabled && len(v.issuers) > 0 {
		v.cache = newTokenCache(cfg.Cache, v.leeway, v.now)
	}
	return v, nil
}

// orDefault is a copy of list, or of deflt when list is empty.
func orDefault(list, deflt []string) []string {
	if len(list) == 0 {
		return slices.Clone(deflt)
	}
	return slices.Clone(list)
}

// isNil reports whether set is nil or a nil *jwks.Remote or *jwks.Static, as
// a key set returned with an error would be.
func isNil(set jwks.Set) bool {
	switch s := set.(type) {
	case nil:
		return true
	case *jwks.Remote:
		return s == nil
	case *jwks.Static:
		return s == nil
	}
	return false
}

// Claims is what a verified token says of its caller.
type Claims struct {
	Subject   string     // sub
	ClientID  string     // client_id, else azp
	Issuer    string     // iss
	Scopes    scopes.Set // from the scope claims
	ExpiresAt time.Time  // exp
	// JKT is the thumbprint of the DPoP key the token is bound to
	// (cnf.jkt), "" for a token that is not bound (see Config.AcceptJKT).
	JKT string
	// X5T is the SHA-256 thumbprint of the client certificate the token is
	// bound to (cnf."x5t#S256", base64url), "" for a token that is not
	// bound to one (see Config.AcceptX5T).
	X5T string
	// JSON is the whole claims set, one JSON object. Its strings are shared
	// with the cache and with every request that presents the token: read
	// it, never write through unsafe views of it.
	JSON string
}

// Error is a refused token. Description is safe to show to the caller;
// Err is the cause, for logs, and never quotes the token.
type Error struct {
	Description string
	// Unavailable says the token could not be checked because its issuer's
	// key set holds no usable key, fetching having failed: the server's
	// trouble, to be answered 503 with RetryAfter. Otherwise the token is
	// not good (401 invalid_token).
	Unavailable bool
	RetryAfter  time.Duration
	Err         error
}

func (e *Error) Error() string { return "jwtverify: " + e.Description }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func invalid(description string, cause error) *Error {
	return &Error{Description: description, Err: cause}
}

var errUntrustedIssuer = errors.New("the token's issuer is not configured")

// Verify checks raw and returns what it says of its caller; cached reports
// whether the answer came from the cache of verified tokens. Every error is
// an *Error.
//
// A token that passed every check is remembered and, when presented again,
// answered from memory after its exp and nbf are checked again, as long as
// the key that verified it is still in its issuer's set (see cache.go).
func (v *Verifier) Verify(ctx context.Context, raw string) (_ Claims, cached bool, _ error) {
	if len(raw) > v.maxTokenBytes {
		return Claims{}, false, invalid("the access token is too large",
			causef("the token has %d bytes, more than the %d allowed", len(raw), v.maxTokenBytes))
	}
	var key tokenKey
	if v.cache != nil {
		key = hashToken(raw)
		if c, ok := v.cache.get(key); ok {
			return c, true, nil
		}
	}
	c, err := v.verify(ctx, raw, key)
	return c, false, err
}

// verify verifies raw, hashed to key when the cache is on, and caches it if
// it passes: the whole check, top to bottom.
func (v *Verifier) verify(ctx context.Context, raw string, key tokenKey) (Claims, error) {
	// Form and header first: cheap refusals for what can never verify.
	t, e := v.parse(raw)
	if e != nil {
		return Claims{}, e
	}
	defer t.release()

	// The unverified "iss" only selects the key set; the signature decides.
	// The issuers are keyed by their exact iss, so a verified token names
	// the issuer whose key verified it: iss needs no second comparison.
	iss, _ := t.claims.iss.Text()
	issuer := v.issuers[iss]
	if issuer == nil {
		return Claims{}, v.refuse(ctx, fmt.Errorf("%w: %.80q", errUntrustedIssuer, iss))
	}
	generation := issuer.generation() // before the key is looked up: see tokenCache
	if err := v.checkSignature(ctx, issuer, t); err != nil {
		if errors.Is(err, jwks.ErrUnavailable) {
			return Claims{}, keysUnavailable(issuer, err)
		}
		return Claims{}, v.refuse(ctx, err)
	}

	// The claims, now that they are the issuer's.
	exp, nbf, err := v.checkTimes(&t.claims)
	if err != nil {
		return Claims{}, v.refuse(ctx, err)
	}
	if !audienceOK(t.claims.aud, issuer.Audiences) {
		return Claims{}, invalid("the access token is not meant for this API",
			causef("aud %s names none of %q", claimValue{t.claims.aud.Decode()}, issuer.Audiences))
	}
	var jkt, x5t string
	if cnf := t.claims.cnf; cnf.Kind() != jsonobject.Absent { // before caching: a cached token passed every check
		if jkt, x5t, e = checkConfirmation(cnf, t.claims.cnfCount, v.acceptJKT, v.acceptX5T); e != nil {
			return Claims{}, e
		}
	}
	c, e := v.caller(issuer, t, exp)
	if e != nil {
		return Claims{}, e
	}
	c.JKT, c.X5T = jkt, x5t
	if v.cache != nil {
		v.cache.put(key, c, nbf, issuer, generation)
	}
	return c, nil
}

// keysUnavailable refuses a token whose issuer's key set holds no usable
// key because fetching it failed, with RetryAfter until the set's next
// attempt (1 to 30 seconds; 5 when it is not known).
func keysUnavailable(issuer *Issuer, cause error) *Error {
	retry := 5 * time.Second
	if next := issuer.Keys.Status().NextAttempt; !next.IsZero() {
		if until := time.Until(next); until > 0 {
			retry = min(max(until.Round(time.Second), time.Second), 30*time.Second)
		}
	}
	return &Error{
		Description: "the issuer's signing keys cannot be fetched right now; retry later",
		Unavailable: true,
		RetryAfter:  retry,
		Err:         cause,
	}
}

// refuse logs a verification failure at debug and returns it as an *Error.
func (v *Verifier) refuse(ctx context.Context, err error) *Error {
	e := invalid(describe(err), err)
	v.logger.DebugContext(ctx, "bearer token refused", "reason", e.Description, "cause", err)
	return e
}

// checkSignature verifies t's signature with the key its issuer's set
// gives for it, through golang-jwt's signing method for its algorithm.
func (v *Verifier) checkSignature(ctx context.Context, issuer *Issuer, t *token) error {
	var key any
	var err error
	kl, isLookup := issuer.Keys.(jwks.KeyLookup)
	kid, kidString := t.header.kid.Text()
	if isLookup && (kidString || t.header.kid.Kind() == jsonobject.Absent) {
		key, err = kl.Key(ctx, t.header.alg, kid) // no closure, no jwt.Token
	} else {
		// Another kind of set, or a kid that is not a string, which only a
		// Keyfunc can judge (a Remote refuses it, a Static ignores it):
		// the token as golang-jwt would hand it over.
		key, err = issuer.Keys.Keyfunc(ctx)(t.jwtToken())
	}
	if err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenUnverifiable, err)
	}
	set, isSet := key.(jwt.VerificationKeySet)
	switch {
	case !isSet:
		err = t.method.Verify(t.signingInput, t.signature, key)
	case len(set.Keys) == 0:
		return fmt.Errorf("%w: %w", jwt.ErrTokenUnverifiable, jwks.ErrNoKeys)
	default:
		for _, k := range set.Keys {
			if err = t.method.Verify(t.signingInput, t.signature, k); err == nil {
				break
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err)
	}
	return nil
}

// caller reads the caller from t's verified claims.
func (v *Verifier) caller(issuer *Issuer, t *token, exp time.Time) (Claims, *Error) {
	c := &t.claims
	sub, ok := c.sub.Text()
	if !ok && c.sub.Kind() != jsonobject.Absent {
		// golang-jwt's error, as MapClaims.GetSubject words it.
		_, err := jwt.MapClaims{"sub": c.sub.Decode()}.GetSubject()
		return Claims{}, invalid("the access token's sub claim is malformed", err)
	}
	clientID, ok := stringClaim(c.clientID)
	if !ok {
		return Claims{}, invalid("the access token's client_id claim is malformed", notA("client_id", "a string", c.clientID.Decode()))
	}
	if clientID == "" {
		if clientID, ok = stringClaim(c.azp); !ok {
			return Claims{}, invalid("the access token's azp claim is malformed", notA("azp", "a string", c.azp.Decode()))
		}
	}
	granted, err := readScopes(v.scopeClaims, c.scopes)
	if err != nil {
		return Claims{}, invalid("the access token's scope claim is malformed", err)
	}
	return Claims{Subject: sub, ClientID: clientID, Issuer: issuer.Issuer, Scopes: granted, ExpiresAt: exp, JSON: t.payload}, nil
}

// checkTimes applies exp (required), nbf and iat with the leeway, as
// golang-jwt's validator does (exp is exclusive, nbf and iat inclusive, all
// to the second), and returns the expiry and the nbf (zero if absent). The errors are golang-jwt's, so
// that describe words them alike; of several, the one describe would pick
// first. A value that is not a number is malformed, and one outside 0 to
// the year 9999 is out of range before anything else (as a time it would
// differ between platforms).
func (v *Verifier) checkTimes(claims *claimSet) (exp, nbf time.Time, err error) {
	var dates [3]dateClaim
	for i, value := range [...]jsonobject.Value{claims.exp, claims.nbf, claims.iat} {
		switch value.Kind() {
		case jsonobject.Absent:
		case jsonobject.Number:
			f, err := strconv.ParseFloat(value.Raw(), 64) // as json.Number's Float64; valid JSON: an error only says ±Inf
			dates[i] = dateClaim{present: true, number: true, value: f, err: err}
		default:
			dates[i] = dateClaim{present: true}
		}
	}
	return v.checkDates(dates)
}

// dateClaim is a date claim as read: present or not, a number or not, and
// a number's value and the error of parsing it.
type dateClaim struct {
	present, number bool
	value           float64
	err             error
}

// checkDates is checkTimes for exp, nbf and iat as read.
func (v *Verifier) checkDates(dates [3]dateClaim) (exp, nbf time.Time, err error) {
	var at [3]time.Time // exp, nbf, iat
	var present [3]bool
	var outOfRange string
	for i, name := range [...]string{"exp", "nbf", "iat"} {
		d := dates[i]
		if !d.present {
			continue
		}
		if !d.number {
			return time.Time{}, time.Time{}, fmt.Errorf("%w: %w: %s", jwt.ErrTokenInvalidClaims, jwt.ErrInvalidType, name)
		}
		f := d.value
		if d.err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
			outOfRange = cmp.Or(outOfRange, name)
			continue
		}
		sec, frac := math.Modf(f)
		at[i], present[i] = time.Unix(int64(sec), int64(frac*1e9)).Truncate(time.Second), true
	}
	now := v.now()
	switch {
	case outOfRange != "":
		return time.Time{}, time.Time{}, &outOfRangeError{outOfRange}
	case present[0] && !now.Before(at[0].Add(v.leeway)):
		return time.Time{}, time.Time{}, jwt.ErrTokenExpired
	case present[1] && now.Before(at[1].Add(-v.leeway)):
		return time.Time{}, time.Time{}, jwt.ErrTokenNotValidYet
	case present[2] && now.Before(at[2].Add(-v.leeway)):
		return time.Time{}, time.Time{}, jwt.ErrTokenUsedBeforeIssued
	case !present[0] && !v.expOptional:
		return time.Time{}, time.Time{}, jwt.ErrTokenRequiredClaimMissing
	}
	return at[0], at[1], nil
}

// outOfRangeError is a date claim outside 0 to the year 9999.
type outOfRangeError struct{ claim string }

func (e *outOfRangeError) Error() string {
	return "the access token's " + e.claim + " claim is out of range"
}

// audienceOK reports whether aud (a string or an array of strings, RFC
// 7519 §4.1.3) names one of want.
func audienceOK(aud jsonobject.Value, want []string) bool {
	switch aud.Kind() {
	case jsonobject.String:
		s, _ := aud.Text()
		return slices.Contains(want, s)
	case jsonobject.Array:
		found := false
		for e := range aud.Elements {
			s, ok := e.Text()
			if !ok {
				return false // a malformed array names nobody
			}
			found = found || slices.Contains(want, s)
		}
		return found
	}
	return false
}

// stringClaim returns a claim that must be a string when present.
func stringClaim(v jsonobject.Value) (string, bool) {
	switch v.Kind() {
	case jsonobject.Absent, jsonobject.Null:
		return "", true
	}
	return v.Text()
}

// describe turns a verification error into a description safe to send.
func describe(err error) string {
	switch {
	case errors.Is(err, errUntrustedIssuer):
		return "the access token's issuer is not trusted"
	case errors.Is(err, jwks.ErrUnknownKey):
		return "the access token is signed with an unknown key"
	case errors.Is(err, jwks.ErrNoKeys), errors.Is(err, jwks.ErrKeyMismatch):
		return "no key of the issuer can verify the access token"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the access token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the access token is not valid yet"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "the access token's iat is in the future"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the access token has no expiry"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the access token's signature is invalid"
	case errors.As(err, new(*outOfRangeError)):
		return err.Error()
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "the access token's claims are malformed"
	default:
		return "the access token is malformed"
	}
}

// token is a JWS in compact form, each part decoded once.
type token struct {
	raw          string
	header       header
	claims       claimSet
	payload      string // the decoded claims set, as JSON
	method       jwt.SigningMethod
	signingInput string // header "." payload, as signed
	signature    []byte // in buf
	buf          *[]byte
}

// jwtToken is t as golang-jwt hands a token to a Keyfunc, its header and
// claims decoded into maps: for a key set that is no jwks.KeyLookup.
func (t *token) jwtToken() *jwt.Token {
	h, _ := jsonobject.DecodeString(t.header.json)
	var claims jwt.MapClaims
	if t.payload != "" {
		claims, _ = jsonobject.DecodeString(t.payload)
	}
	return &jwt.Token{Raw: t.raw, Header: h, Method: golangMethod(t.method), Claims: claims}
}

// tokens are the tokens being verified, with buffers for their decoded
// parts.
var tokens = sync.Pool{New: func() any { return &token{buf: new([]byte)} }}

// newToken returns a token for raw, with an empty buffer.
func newToken(raw string) *token {
	t := tokens.Get().(*token)
	*t = token{raw: raw, buf: t.buf, claims: claimSet{scopes: t.claims.scopes[:0]}}
	return t
}

// release returns t and its buffer to the pool; t is gone after it.
func (t *token) release() {
	clear(t.claims.scopes)
	*t = token{buf: t.buf, claims: claimSet{scopes: t.claims.scopes[:0]}}
	tokens.Put(t)
}

// parse decodes raw and checks its shape and header before any signature
// work: cheap refusals for what can never verify, so that hostile input
// costs little. Release the token when done with its signature.
func (v *Verifier) parse(raw string) (*token, *Error) {
	t := newToken(raw)
	if e := v.decode(t); e != nil {
		t.release()
		return nil, e
	}
	return t, nil
}

// decode fills t from t.raw.
func (v *Verifier) decode(t *token) *Error {
	raw := t.raw
	switch dots := strings.Count(raw, "."); dots {
	case 2:
	case 4:
		return invalid("encrypted tokens (JWE) are not accepted", causef("the token has the 5 parts of a JWE"))
	default:
		return invalid("the access token is not a JWT", causef("the token has %d dot-separated part(s), not the 3 of a JWS", dots+1))
	}
	dot := strings.LastIndexByte(raw, '.')
	t.signingInput = raw[:dot]
	encHeader, encPayload, _ := strings.Cut(t.signingInput, ".")
	if len(encHeader) > maxHeaderBytes {
		return invalid("the access token's header is too large",
			causef("the encoded header has %d bytes, more than the %d allowed", len(encHeader), maxHeaderBytes))
	}
	// One buffer holds the decoded header, payload and signature: the
	// header and payload only until they are decoded, the signature until
	// it is checked.
	b64 := base64.RawURLEncoding.Strict()
	if need := b64.DecodedLen(len(raw)); cap(*t.buf) < need {
		*t.buf = make([]byte, need)
	}
	buf := (*t.buf)[:cap(*t.buf)]
	decode := func(part string) ([]byte, error) {
		if strings.IndexByte(part, '\r') >= 0 || strings.IndexByte(part, '\n') >= 0 { // two vector scans, where ContainsAny walks byte by byte
			// encoding/base64 skips line breaks even in Strict mode: one
			// token would have several spellings.
			return nil, base64.CorruptInputError(strings.IndexAny(part, "\r\n"))
		}
		n, err := b64.Decode(buf, unsafe.Slice(unsafe.StringData(part), len(part))) // read only
		out := buf[:n:n]
		buf = buf[n:]
		return out, err
	}
	data, err := decode(encHeader)
	if err != nil {
		return invalid("the access token's header is not base64url", causef("header: %v", err))
	}
	// One copy out of the buffer, of which the header's names and values
	// are substrings.
	h := &t.header
	if err = h.read(string(data)); err != nil {
		return invalid("the access token's header is malformed", notObject("header", data))
	}
	alg := h.alg
	switch {
	case h.algValue.Kind() == jsonobject.Absent:
		return invalid("the access token's header names no algorithm", causef("the header has no alg"))
	case h.algValue.Kind() != jsonobject.String && h.algValue.Kind() != jsonobject.Null:
		return invalid("the access token's header is malformed", notA("alg", "a string", h.algValue.Decode()))
	case v.methods[alg] == nil:
		return invalid("the access token's signing algorithm is not accepted",
			causef("alg %.32q is none of %q", alg, v.algorithms))
	case h.crit.Kind() != jsonobject.Absent:
		// RFC 7515 §4.1.11: a recipient must reject a token whose critical
		// extensions it does not understand; this one understands none.
		return invalid("the access token has critical header extensions this server does not support",
			causef("the header has crit %s", claimValue{h.crit.Decode()}))
	case h.zip || h.enc:
		return invalid("encrypted or compressed tokens are not accepted", causef("the header has zip or enc"))
	case h.b64:
		// RFC 7797: b64 changes what the signature covers; it is only
		// meaningful as a critical extension, and none is supported.
		return invalid("the access token uses the unencoded payload option (b64), which this server does not support",
			causef("the header has b64"))
	case isNestedJWT(h.cty):
		// RFC 7519 §5.2: the payload would be another JWT, not claims.
		cty, _ := h.cty.Text()
		return invalid("nested tokens (cty JWT) are not accepted", causef("the header has cty %s", claimValue{cty}))
	}
	t.method = v.methods[alg]
	if e := v.checkType(h.typ); e != nil {
		return e
	}
	// RFC 7519 §7.2: the claims are one complete JSON object, and nothing
	// follows it.
	payload, err := decode(encPayload)
	if err != nil {
		return invalid("the access token's claims are malformed", causef("payload: %v", err))
	}
	// The claims' strings are substrings of t.payload, which a cached
	// token keeps as the whole of its claims (see Claims.JSON).
	t.payload = string(payload)
	if err = t.claims.read(t.payload, v.scopeClaims); err != nil {
		return invalid("the access token's claims are malformed", notObject("payload", payload))
	}
	if t.signature, err = decode(raw[dot+1:]); err != nil {
		return invalid("the access token is malformed", causef("signature: %v", err))
	}
	return nil
}

// isNestedJWT reports whether a cty header value says the payload is a JWT
// (RFC 7519 §5.2; the "application/" prefix and case are ignored).
func isNestedJWT(cty jsonobject.Value) bool {
	s, _ := cty.Text()
	return canonicalType(s) == "jwt"
}

// checkType applies explicit typing (RFC 8725 §3.11, RFC 9068 §4). With a
// required type, typ must name it. Without one, typ may be absent, "JWT" or
// "at+jwt", and any other "+jwt" type (an ID token, a logout token, a DPoP
// proof…) is refused so that tokens of other kinds are never taken for access
// tokens.
func (v *Verifier) checkType(value jsonobject.Value) *Error {
	typ, ok := value.Text()
	if !ok && value.Kind() != jsonobject.Absent && value.Kind() != jsonobject.Null {
		return invalid("the access token's typ header is malformed", notA("typ", "a string", value.Decode()))
	}
	t := canonicalType(typ)
	if v.requireType != "" {
		if t != v.requireType {
			return invalid("the access token's type is not "+v.requireType, causef("typ is %.40q", typ))
		}
		return nil
	}
	if strings.HasSuffix(t, "+jwt") && t != "at+jwt" {
		return invalid("the token is not an access token", causef("typ is %.40q", typ))
	}
	return nil
}

// canonicalType lowercases a media type and drops an "application/" prefix
// (RFC 7515 §4.1.9).
func canonicalType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	return strings.TrimPrefix(t, "application/")
}
