package authserver

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// accessTokenType is the typ header of JWT access tokens (RFC 9068 §2.1).
const accessTokenType = "at+jwt"

// issueAccessToken issues an access token for clientID with scopes, bound
// to cnf's key if any, in the client's format (see ClientOptions), issued
// at now (whole seconds) and living lifetime (whole seconds), and records
// in at what the log says of it.
func (s *Server) issueAccessToken(clientID string, scopes []string, cnf confirmation, lifetime time.Duration, now time.Time, at *attempt) (string, error) {
	if s.cfg.ClientOptions[clientID].TokenFormat != TokenFormatOpaque {
		at.format = TokenFormatJWT
		return s.mint(clientID, scopes, cnf, lifetime, now, at)
	}
	at.format = TokenFormatOpaque
	iat := now.Unix()
	return s.opaque.issue(opaqueGrant{
		clientID: clientID,
		scope:    strings.Join(scopes, " "),
		iat:      iat,
		exp:      iat + int64(lifetime/time.Second),
		cnf:      cnf,
	}, now), nil
}

// mint signs an RFC 9068 access token for clientID with scopes, bound to
// cnf's key if any (the cnf claim), issued at now (whole seconds) and
// living lifetime (whole seconds), and records its jti and kid in at.
func (s *Server) mint(clientID string, scopes []string, cnf confirmation, lifetime time.Duration, now time.Time, at *attempt) (string, error) {
	iat := now.Unix()
	exp := iat + int64(lifetime/time.Second)
	at.jti = rand.Text()
	claims := jwt.MapClaims{
		"iss":       s.cfg.Issuer,
		"sub":       clientID, // RFC 9068 §2.2: the client itself when no resource owner is involved
		"client_id": clientID,
		"aud":       s.cfg.Audience,
		"iat":       iat,
		"nbf":       iat,
		"exp":       exp,
		"jti":       at.jti,
	}
	if len(scopes) > 0 {
		claims["scope"] = strings.Join(scopes, " ")
	}
	if c := cnf.claim(); c != nil {
		claims["cnf"] = c
	}
	token, kid, err := s.keys.sign(claims, time.Unix(exp, 0))
	at.kid = kid
	return token, err
}
