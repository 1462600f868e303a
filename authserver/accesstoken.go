package authserver

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// mint signs an RFC 9068 access token for clientID with scopes, issued at
// now (whole seconds) and living lifetime (whole seconds), and records its
// jti and kid in at.
func (s *Server) mint(clientID string, scopes []string, lifetime time.Duration, now time.Time, at *attempt) (string, error) {
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
	token, kid, err := s.keys.sign(claims, time.Unix(exp, 0))
	at.kid = kid
	return token, err
}
