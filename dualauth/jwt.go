package dualauth

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/jsonobject"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/scopes"
)

var errUntrustedIssuer = errors.New("dualauth: the token's issuer is not configured")

// Verify checks a raw Bearer token and returns the caller it names. Every
// failure is an *Error with status 401 and code invalid_token, its cause in
// Err for logs. A token with a cnf claim (a DPoP or certificate-bound token,
// RFC 7800) is refused: this server does not check the proof of possession
// such a token needs.
//
// A token that passed every check is remembered (see TokenCache) and, when
// presented again, answered from memory after its exp and nbf are checked
// again, as long as the key that verified it is still in its issuer's set.
func (a *Authenticator) Verify(ctx context.Context, raw string) (*Principal, error) {
	return a.verify(ctx, raw, false)
}

// errNotToken68 refuses a Bearer value outside RFC 6750's b64token syntax,
// with the offset of its first stray byte as the cause (never the byte).
func errNotToken68(raw string) *Error {
	e := errInvalidRequest("the Bearer token has characters RFC 6750 does not allow")
	e.Err = causef("byte %d of the %d-byte Bearer value is outside the b64token syntax", notToken68At(raw), len(raw))
	return e
}

// verify is Verify; for a value from an Authorization header (bearer), the
// b64token syntax is checked too (invalid_request), except for a token the
// cache holds: every token that verified has that syntax. Its duration is
// recorded in keyward.verify.duration.
func (a *Authenticator) verify(ctx context.Context, raw string, bearer bool) (*Principal, error) {
	if !a.tel.timing(ctx) {
		p, _, err := a.verifyToken(ctx, raw, bearer)
		return p, err
	}
	start := monotonic()
	p, cached, err := a.verifyToken(ctx, raw, bearer)
	a.tel.verified(ctx, methodJWT, cached, start)
	return p, err
}

// verifyToken is verify; cached reports whether the token cache answered.
func (a *Authenticator) verifyToken(ctx context.Context, raw string, bearer bool) (_ *Principal, cached bool, _ error) {
	if len(raw) > a.maxTokenBytes {
		if bearer && !isToken68(raw) {
			return nil, false, errNotToken68(raw)
		}
		return nil, false, errInvalidToken("the access token is too large",
			causef("the token has %d bytes, more than the %d allowed", len(raw), a.maxTokenBytes))
	}
	var key tokenKey
	if a.tokens != nil {
		key = hashToken(raw)
		if p := a.tokens.get(key, a.core); p != nil {
			return p, true, nil
		}
	}
	p, err := a.verifyUncached(ctx, raw, bearer, key)
	return p, false, err
}

// verifyUncached verifies raw, hashed to key when the token cache is on,
// and caches it if it passes.
func (a *Authenticator) verifyUncached(ctx context.Context, raw string, bearer bool, key tokenKey) (*Principal, error) {
	if bearer && !isToken68(raw) {
		return nil, errNotToken68(raw)
	}
	t, e := a.parse(raw)
	if e != nil {
		return nil, e
	}
	defer t.release()
	// The unverified "iss" only selects the key set; the signature decides.
	iss, _ := t.claims["iss"].(string)
	issuer := a.issuers[iss]
	if issuer == nil {
		return nil, a.refuse(ctx, fmt.Errorf("%w: %.80q", errUntrustedIssuer, iss))
	}
	generation := issuer.generation() // before the key is looked up: see tokenCache
	if err := a.checkSignature(ctx, issuer, t); err != nil {
		if errors.Is(err, jwks.ErrUnavailable) {
			// No usable key because fetching failed: the server's trouble,
			// not the caller's.
			return nil, errKeysUnavailable(issuer, err)
		}
		return nil, a.refuse(ctx, err)
	}
	exp, nbf, err := a.checkTimes(t.claims)
	if err != nil {
		return nil, a.refuse(ctx, err)
	}
	if iss, _ := t.claims["iss"].(string); iss != issuer.Issuer {
		return nil, errInvalidToken("the access token's issuer is not trusted",
			causef("the verified iss is not the issuer whose key verified the token"))
	}
	if !audienceOK(t.claims["aud"], issuer.Audiences) {
		return nil, errInvalidToken("the access token is not meant for this API",
			causef("aud %s names none of %q", claimValue{t.claims["aud"]}, issuer.Audiences))
	}
	// Before the token is cached: a cached token passed every check.
	if e := checkConfirmation(t.claims); e != nil {
		return nil, e
	}
	p, err := a.principal(issuer, t.claims, t.payload, exp)
	if err != nil {
		return nil, err
	}
	if a.tokens != nil {
		a.tokens.put(key, p, nbf, issuer, generation) // keeps copies, not p
	}
	return p, nil
}

// errKeysUnavailable is the 503 of a token whose issuer's key set holds no
// usable key because fetching it failed, with Retry-After until the set's
// next attempt (1 to 30 seconds; 5 when it is not known).
func errKeysUnavailable(issuer *Issuer, cause error) *Error {
	retry := 5 * time.Second
	if next := issuer.Keys.Status().NextAttempt; !next.IsZero() {
		if until := time.Until(next); until > 0 {
			retry = min(max(until.Round(time.Second), time.Second), 30*time.Second)
		}
	}
	return &Error{
		Status:      http.StatusServiceUnavailable,
		Code:        CodeTemporarilyUnavailable,
		Description: "the issuer's signing keys cannot be fetched right now; retry later",
		RetryAfter:  retry,
		Err:         cause,
	}
}

// refuse logs a verification failure at debug and returns it as an *Error.
func (a *Authenticator) refuse(ctx context.Context, err error) *Error {
	e := errInvalidToken(describe(err), err)
	a.logger.DebugContext(ctx, "bearer token refused", "reason", e.Description, "cause", err)
	return e
}

// checkSignature verifies t's signature with the key its issuer's set
// gives for it, through golang-jwt's signing method for its algorithm.
func (a *Authenticator) checkSignature(ctx context.Context, issuer *Issuer, t *token) error {
	t.jwt = jwt.Token{Raw: t.raw, Header: t.header, Method: t.method, Claims: t.claims}
	var key any
	var err error
	if kl, ok := issuer.Keys.(jwks.KeyLookup); ok {
		key, err = kl.Key(ctx, &t.jwt) // no closure per request
	} else {
		key, err = issuer.Keys.Keyfunc(ctx)(&t.jwt)
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

// principal builds the caller from verified claims.
func (a *Authenticator) principal(issuer *Issuer, claims jwt.MapClaims, payload string, exp time.Time) (*Principal, error) {
	sub, err := claims.GetSubject()
	if err != nil {
		return nil, errInvalidToken("the access token's sub claim is malformed", err)
	}
	clientID, ok := stringClaim(claims, "client_id")
	if !ok {
		return nil, errInvalidToken("the access token's client_id claim is malformed", notA("client_id", "a string", claims["client_id"]))
	}
	if clientID == "" {
		if clientID, ok = stringClaim(claims, "azp"); !ok {
			return nil, errInvalidToken("the access token's azp claim is malformed", notA("azp", "a string", claims["azp"]))
		}
	}
	granted, err := scopes.Parse(claims, a.scopeClaims)
	if err != nil {
		return nil, errInvalidToken("the access token's scope claim is malformed", err)
	}
	return &Principal{
		by:        a.core,
		Method:    MethodJWT,
		Subject:   sub,
		ClientID:  clientID,
		Issuer:    issuer.Issuer,
		Scopes:    granted,
		payload:   payload,
		ExpiresAt: exp,
	}, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates cannot be written as
// RFC 3339 times, and no real token lives that long.
const maxNumericDate = 253402300799

// checkTimes applies exp (required), nbf and iat with the leeway, as
// golang-jwt's validator does (exp is exclusive, nbf and iat inclusive, all
// to the second), and returns the expiry and the nbf (zero if absent). The errors are golang-jwt's, so
// that describe words them alike; of several, the one describe would pick
// first. A value that is not a number is malformed, and one outside 0 to
// the year 9999 is out of range before anything else (as a time it would
// differ between platforms).
func (a *Authenticator) checkTimes(claims jwt.MapClaims) (exp, nbf time.Time, err error) {
	var at [3]time.Time // exp, nbf, iat
	var present [3]bool
	var outOfRange string
	for i, name := range [...]string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		n, isNumber := v.(json.Number)
		if !isNumber {
			return time.Time{}, time.Time{}, fmt.Errorf("%w: %w: %s", jwt.ErrTokenInvalidClaims, jwt.ErrInvalidType, name)
		}
		f, ferr := n.Float64() // valid JSON: an error only says ±Inf
		if ferr != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
			outOfRange = cmp.Or(outOfRange, name)
			continue
		}
		sec, frac := math.Modf(f)
		at[i], present[i] = time.Unix(int64(sec), int64(frac*1e9)).Truncate(time.Second), true
	}
	now := a.now()
	switch {
	case outOfRange != "":
		return time.Time{}, time.Time{}, &outOfRangeError{outOfRange}
	case present[0] && !now.Before(at[0].Add(a.leeway)):
		return time.Time{}, time.Time{}, jwt.ErrTokenExpired
	case present[1] && now.Before(at[1].Add(-a.leeway)):
		return time.Time{}, time.Time{}, jwt.ErrTokenNotValidYet
	case present[2] && now.Before(at[2].Add(-a.leeway)):
		return time.Time{}, time.Time{}, jwt.ErrTokenUsedBeforeIssued
	case !present[0]:
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
func audienceOK(aud any, want []string) bool {
	switch aud := aud.(type) {
	case string:
		return slices.Contains(want, aud)
	case []any:
		found := false
		for _, v := range aud {
			s, ok := v.(string)
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
func stringClaim(claims jwt.MapClaims, name string) (string, bool) {
	v, present := claims[name]
	if !present || v == nil {
		return "", true
	}
	s, ok := v.(string)
	return s, ok
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

// maxHeaderBytes caps the encoded JOSE header.
const maxHeaderBytes = 2048

// token is a JWS in compact form, each part decoded once.
type token struct {
	jwt          jwt.Token // what a key set's Keyfunc reads
	raw          string
	header       map[string]any // member names are case-sensitive (RFC 7515 §4); the last duplicate wins, as in golang-jwt
	claims       jwt.MapClaims  // numbers as json.Number
	payload      string         // the decoded claims set, as JSON
	method       jwt.SigningMethod
	signingInput string // header "." payload, as signed
	signature    []byte // in buf
	buf          *[]byte
}

// buffers hold the decoded parts of tokens being verified.
var buffers = sync.Pool{New: func() any { return new([]byte) }}

// release returns t's buffer; t's signature is gone after it.
func (t *token) release() {
	t.signature = nil
	buffers.Put(t.buf)
}

// parse decodes raw and checks its shape and header before any signature
// work: cheap refusals for what can never verify, so that hostile input
// costs little. Release the token when done with its signature.
func (a *Authenticator) parse(raw string) (*token, *Error) {
	t := &token{raw: raw, buf: buffers.Get().(*[]byte)}
	if e := a.decode(t); e != nil {
		t.release()
		return nil, e
	}
	return t, nil
}

// decode fills t from t.raw.
func (a *Authenticator) decode(t *token) *Error {
	raw := t.raw
	switch dots := strings.Count(raw, "."); dots {
	case 2:
	case 4:
		return errInvalidToken("encrypted tokens (JWE) are not accepted", causef("the token has the 5 parts of a JWE"))
	default:
		return errInvalidToken("the access token is not a JWT", causef("the token has %d dot-separated part(s), not the 3 of a JWS", dots+1))
	}
	dot := strings.LastIndexByte(raw, '.')
	t.signingInput = raw[:dot]
	encHeader, encPayload, _ := strings.Cut(t.signingInput, ".")
	if len(encHeader) > maxHeaderBytes {
		return errInvalidToken("the access token's header is too large",
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
		if strings.ContainsAny(part, "\r\n") {
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
		return errInvalidToken("the access token's header is not base64url", causef("header: %v", err))
	}
	if t.header, err = jsonobject.Decode(data); err != nil {
		return errInvalidToken("the access token's header is malformed", notObject("header", data))
	}
	h := t.header
	algValue, hasAlg := h["alg"]
	alg, isString := algValue.(string)
	has := func(name string) bool { _, ok := h[name]; return ok }
	switch {
	case !hasAlg:
		return errInvalidToken("the access token's header names no algorithm", causef("the header has no alg"))
	case !isString && algValue != nil:
		return errInvalidToken("the access token's header is malformed", notA("alg", "a string", algValue))
	case a.methods[alg] == nil:
		return errInvalidToken("the access token's signing algorithm is not accepted",
			causef("alg %.32q is none of %q", alg, a.algorithms))
	case has("crit"):
		// RFC 7515 §4.1.11: a recipient must reject a token whose critical
		// extensions it does not understand; this one understands none.
		return errInvalidToken("the access token has critical header extensions this server does not support",
			causef("the header has crit %s", claimValue{h["crit"]}))
	case has("zip") || has("enc"):
		return errInvalidToken("encrypted or compressed tokens are not accepted", causef("the header has zip or enc"))
	case has("b64"):
		// RFC 7797: b64 changes what the signature covers; it is only
		// meaningful as a critical extension, and none is supported.
		return errInvalidToken("the access token uses the unencoded payload option (b64), which this server does not support",
			causef("the header has b64"))
	case isNestedJWT(h["cty"]):
		// RFC 7519 §5.2: the payload would be another JWT, not claims.
		return errInvalidToken("nested tokens (cty JWT) are not accepted", causef("the header has cty %s", claimValue{h["cty"]}))
	}
	t.method = a.methods[alg]
	if e := a.checkType(h["typ"]); e != nil {
		return e
	}
	// RFC 7519 §7.2: the claims are one complete JSON object, and nothing
	// follows it.
	payload, err := decode(encPayload)
	if err != nil {
		return errInvalidToken("the access token's claims are malformed", causef("payload: %v", err))
	}
	// The claims' strings are substrings of t.payload, which a cached
	// token keeps as the whole of its claims (see Principal).
	t.payload = string(payload)
	if t.claims, err = jsonobject.DecodeString(t.payload); err != nil {
		return errInvalidToken("the access token's claims are malformed", notObject("payload", payload))
	}
	if t.signature, err = decode(raw[dot+1:]); err != nil {
		return errInvalidToken("the access token is malformed", causef("signature: %v", err))
	}
	return nil
}

// isNestedJWT reports whether a cty header value says the payload is a JWT
// (RFC 7519 §5.2; the "application/" prefix and case are ignored).
func isNestedJWT(cty any) bool {
	s, _ := cty.(string)
	return canonicalType(s) == "jwt"
}

// checkType applies explicit typing (RFC 8725 §3.11, RFC 9068 §4). With a
// required type, typ must name it. Without one, typ may be absent, "JWT" or
// "at+jwt", and any other "+jwt" type (an ID token, a logout token, a DPoP
// proof…) is refused so that tokens of other kinds are never taken for access
// tokens.
func (a *Authenticator) checkType(value any) *Error {
	typ, ok := value.(string)
	if !ok && value != nil {
		return errInvalidToken("the access token's typ header is malformed", notA("typ", "a string", value))
	}
	t := canonicalType(typ)
	if a.requireType != "" {
		if t != a.requireType {
			return errInvalidToken("the access token's type is not "+a.requireType, causef("typ is %.40q", typ))
		}
		return nil
	}
	if strings.HasSuffix(t, "+jwt") && t != "at+jwt" {
		return errInvalidToken("the token is not an access token", causef("typ is %.40q", typ))
	}
	return nil
}

// canonicalType lowercases a media type and drops an "application/" prefix
// (RFC 7515 §4.1.9).
func canonicalType(t string) string {
	t = strings.ToLower(strings.TrimSpace(t))
	return strings.TrimPrefix(t, "application/")
}
