package jwtverify

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unsafe"

	"github.com/keyward/keyward/internal/jsonobject"
)

// JOSEShaped reports whether raw is a JOSE object in compact form: a JWS
// (three parts, two dots) or a JWE (five parts, four dots; refused as
// ever), whose first part is entirely base64url without padding (RFC 7515
// §2: no other byte, no "=", no bits left over) and decodes to one JSON
// object, the protected header every JOSE object starts with. Anything
// else is an opaque token, whatever dots it holds: Hydra's "ory_at_…",
// fosite's "random.signature" (even when random happens to decode to a
// "{"), Keycloak's and random strings.
func JOSEShaped(raw string) bool {
	if n := strings.Count(raw, "."); n != 2 && n != 4 {
		return false
	}
	head, _, _ := strings.Cut(raw, ".")
	if head == "" {
		return false
	}
	for i := range len(head) {
		if !isBase64URL(head[i]) {
			return false // also the CR and LF the decoder would skip
		}
	}
	var buf [512]byte
	decoded := buf[:0]
	if n := base64.RawURLEncoding.DecodedLen(len(head)); n > len(buf) {
		decoded = make([]byte, 0, n)
	}
	decoded, err := base64.RawURLEncoding.Strict().AppendDecode(decoded, unsafe.Slice(unsafe.StringData(head), len(head))) // read only
	if err != nil {
		return false
	}
	object := bytes.TrimLeft(decoded, " \t\r\n")
	return len(object) > 0 && object[0] == '{' && json.Valid(object)
}

// isBase64URL reports whether b is in the base64url alphabet (RFC 4648 §5).
func isBase64URL(b byte) bool {
	return 'A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_'
}

// AnswerRules are what an issuer's answer about a token must meet when the
// answer is not the token itself: an RFC 7662 introspection response.
type AnswerRules struct {
	Issuer    string           // iss, when present, must equal it
	Audiences []string         // aud, when present, must name one of them
	Leeway    time.Duration    // on exp, nbf and iat; 0: none
	AcceptJKT bool             // as Config.AcceptJKT: a cnf.jkt binding passes, in Claims.JKT
	AcceptX5T bool             // as Config.AcceptX5T: a cnf."x5t#S256" binding passes, in Claims.X5T
	Now       func() time.Time // nil: time.Now
}

// AnswerChecker checks the members of introspection responses with the
// claim rules of Verify: exp, nbf and iat with the leeway (exp may be
// absent), iss and aud when present, no cnf (but cnf.jkt with
// AnswerRules.AcceptJKT, cnf."x5t#S256" with AnswerRules.AcceptX5T), and sub, client_id (or azp)
// and scope of the right types, the scopes read from "scope" alone
// (RFC 7662 §2.2). Its refusals are worded as Verify's.
type AnswerChecker struct {
	v      Verifier
	issuer Issuer
}

// NewAnswerChecker returns a checker of r.
func NewAnswerChecker(r AnswerRules) *AnswerChecker {
	a := &AnswerChecker{
		v: Verifier{
			scopeClaims: []string{"scope"},
			leeway:      max(r.Leeway, 0),
			now:         r.Now,
			expOptional: true,
			acceptJKT:   r.AcceptJKT,
			acceptX5T:   r.AcceptX5T,
			logger:      slog.New(slog.DiscardHandler),
		},
		issuer: Issuer{Issuer: r.Issuer, Audiences: r.Audiences},
	}
	if a.v.now == nil {
		a.v.now = time.Now
	}
	return a
}

// Check checks answer, one JSON object whose "active" member was true,
// and returns what it says of the caller (Claims.JSON is answer; its
// ExpiresAt is zero without exp) and its nbf (zero if absent). An answer
// that is not a JSON object is refused as malformed.
func (a *AnswerChecker) Check(answer string) (Claims, time.Time, *Error) {
	t := newToken("")
	defer t.release()
	t.payload = answer
	if err := t.claims.read(answer, a.v.scopeClaims); err != nil {
		return Claims{}, time.Time{}, invalid("the introspection answer is malformed", notObject("answer", []byte(answer)))
	}
	c := &t.claims
	if iss, ok := c.iss.Text(); c.iss.Kind() != jsonobject.Absent && (!ok || iss != a.issuer.Issuer) {
		return Claims{}, time.Time{}, invalid("the access token's issuer is not trusted",
			fmt.Errorf("%w: the introspection answer names iss %s", errUntrustedIssuer, claimValue{c.iss.Decode()}))
	}
	exp, nbf, err := a.v.checkTimes(c)
	if err != nil {
		return Claims{}, time.Time{}, invalid(describe(err), err)
	}
	if c.aud.Kind() != jsonobject.Absent && !audienceOK(c.aud, a.issuer.Audiences) {
		return Claims{}, time.Time{}, invalid("the access token is not meant for this API",
			causef("aud %s names none of %q", claimValue{c.aud.Decode()}, a.issuer.Audiences))
	}
	var jkt, x5t string
	if c.cnf.Kind() != jsonobject.Absent {
		var e *Error
		if jkt, x5t, e = checkConfirmation(c.cnf, c.cnfCount, a.v.acceptJKT, a.v.acceptX5T); e != nil {
			return Claims{}, time.Time{}, e
		}
	}
	claims, e := a.v.caller(&a.issuer, t, exp)
	claims.JKT, claims.X5T = jkt, x5t
	return claims, nbf, e
}
