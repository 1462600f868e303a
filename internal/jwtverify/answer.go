package jwtverify

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unsafe"

	"github.com/keyward/keyward/internal/jsonobject"
)

// joseProbe is how much of a token's first part JOSEShaped decodes: room
// for a brace after some whitespace.
const joseProbe = 64

// JOSEShaped reports whether raw is a JOSE object in compact form (a JWS,
// or a JWE, refused as ever): its text before the first dot, decoded as
// base64url, starts with "{" (after JSON whitespace), as every JOSE header
// does. Anything else (no dot, or a first part that is not base64url of a
// JSON object) is an opaque token: Hydra's "ory_at_…" tokens and random
// strings are, whatever dots they hold.
func JOSEShaped(raw string) bool {
	head, _, found := strings.Cut(raw, ".")
	if !found {
		return false
	}
	head = head[:min(len(head), joseProbe)]
	var buf [joseProbe * 3 / 4]byte
	n, _ := base64.RawURLEncoding.Decode(buf[:], unsafe.Slice(unsafe.StringData(head), len(head))) // read only; what decoded before an error counts
	for _, b := range buf[:n] {
		switch b {
		case ' ', '\t', '\r', '\n':
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}

// AnswerRules are what an issuer's answer about a token must meet when the
// answer is not the token itself: an RFC 7662 introspection response.
type AnswerRules struct {
	Issuer    string           // iss, when present, must equal it
	Audiences []string         // aud, when present, must name one of them
	Leeway    time.Duration    // on exp, nbf and iat; 0: none
	AcceptJKT bool             // as Config.AcceptJKT: a cnf.jkt binding passes, in Claims.JKT
	Now       func() time.Time // nil: time.Now
}

// AnswerChecker checks the members of introspection responses with the
// claim rules of Verify: exp, nbf and iat with the leeway (exp may be
// absent), iss and aud when present, no cnf (but cnf.jkt with
// AnswerRules.AcceptJKT), and sub, client_id (or azp)
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
	var jkt string
	if c.cnf.Kind() != jsonobject.Absent {
		var e *Error
		if jkt, e = checkConfirmation(c.cnf, c.cnfCount, a.v.acceptJKT); e != nil {
			return Claims{}, time.Time{}, e
		}
	}
	claims, e := a.v.caller(&a.issuer, t, exp)
	claims.JKT = jkt
	return claims, nbf, e
}
