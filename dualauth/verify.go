package dualauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/scopes"
)

var errUntrustedIssuer = errors.New("dualauth: the token's issuer is not configured")

// Verify checks a raw Bearer token and returns the caller it names. Every
// failure is an *Error with status 401 and code invalid_token.
func (a *Authenticator) Verify(ctx context.Context, raw string) (*Principal, error) {
	if e := a.precheck(raw); e != nil {
		return nil, e
	}
	// The unverified "iss" only selects the key set; the signature decides.
	var issuer *Issuer
	keyfunc := func(t *jwt.Token) (any, error) {
		claims, _ := t.Claims.(jwt.MapClaims)
		iss, _ := claims["iss"].(string)
		issuer = a.issuers[iss]
		if issuer == nil {
			return nil, fmt.Errorf("%w: %.80q", errUntrustedIssuer, iss)
		}
		return issuer.Keys.Keyfunc(ctx)(t)
	}
	token, err := a.parser.Parse(raw, keyfunc)
	if err != nil {
		e := errInvalidToken(describe(err), err)
		a.logger.DebugContext(ctx, "bearer token refused", "reason", e.Description, "cause", err)
		return nil, e
	}
	claims := token.Claims.(jwt.MapClaims)
	if e := checkNumericDates(claims); e != nil {
		return nil, e
	}
	if iss, _ := claims.GetIssuer(); iss != issuer.Issuer {
		return nil, errInvalidToken("the access token's issuer is not trusted", nil)
	}
	aud, err := claims.GetAudience()
	if err != nil || !slices.ContainsFunc(aud, func(s string) bool { return slices.Contains(issuer.Audiences, s) }) {
		return nil, errInvalidToken("the access token is not meant for this API", err)
	}
	return a.principal(issuer, claims)
}

// principal builds the caller from verified claims.
func (a *Authenticator) principal(issuer *Issuer, claims jwt.MapClaims) (*Principal, error) {
	sub, err := claims.GetSubject()
	if err != nil {
		return nil, errInvalidToken("the access token's sub claim is malformed", err)
	}
	clientID, ok := stringClaim(claims, "client_id")
	if !ok {
		return nil, errInvalidToken("the access token's client_id claim is malformed", nil)
	}
	if clientID == "" {
		if clientID, ok = stringClaim(claims, "azp"); !ok {
			return nil, errInvalidToken("the access token's azp claim is malformed", nil)
		}
	}
	granted, err := scopes.Parse(claims, a.scopeClaims)
	if err != nil {
		return nil, errInvalidToken("the access token's scope claim is malformed", err)
	}
	exp, _ := claims.GetExpirationTime() // required and checked by the parser
	return &Principal{
		by:        a,
		Method:    MethodJWT,
		Subject:   sub,
		ClientID:  clientID,
		Issuer:    issuer.Issuer,
		Scopes:    granted,
		Claims:    maps.Clone(claims),
		ExpiresAt: exp.Time,
	}, nil
}

// maxNumericDate is 9999-12-31T23:59:59Z: later dates cannot be written as
// RFC 3339 times, and no real token lives that long.
const maxNumericDate = 253402300799

// checkNumericDates refuses exp, nbf and iat values that are not finite
// numbers between 0 and maxNumericDate: golang-jwt converts out-of-range
// floats to times in ways that differ between platforms.
func checkNumericDates(claims jwt.MapClaims) *Error {
	for _, name := range []string{"exp", "nbf", "iat"} {
		v, ok := claims[name]
		if !ok {
			continue
		}
		n, ok := v.(json.Number)
		if !ok {
			return errInvalidToken("the access token's "+name+" claim is malformed", nil)
		}
		f, err := n.Float64()
		if err != nil || math.IsNaN(f) || f < 0 || f > maxNumericDate {
			return errInvalidToken("the access token's "+name+" claim is out of range", nil)
		}
	}
	return nil
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
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "the access token's claims are malformed"
	default:
		return "the access token is malformed"
	}
}
