package dualauth

import (
	"context"
	"net/http"
	"time"

	"github.com/keyward/keyward/scopes"
)

// Method is how a caller authenticated.
type Method string

// Authentication methods.
const (
	// MethodJWT is a Bearer JSON Web Token (RFC 6750, RFC 9068).
	MethodJWT Method = "jwt"
	// MethodCredentials is a client id and secret (request headers or HTTP Basic).
	MethodCredentials Method = "credentials"
)

// Principal is a verified caller. Its JSON form has the keys method,
// subject, client_id, issuer, scopes, claims and expires_at.
type Principal struct {
	// Method is how the caller authenticated.
	Method Method `json:"method"`
	// Subject is the token's "sub" claim, or the client id for client credentials.
	Subject string `json:"subject"`
	// ClientID is the token's "client_id" claim, else its "azp" claim, or the
	// client id presented with client credentials.
	ClientID string `json:"client_id"`
	// Issuer is the verified "iss" claim; empty for client credentials
	// checked against a local registry.
	Issuer string `json:"issuer"`
	// Scopes are the scopes granted to the caller.
	Scopes scopes.Set `json:"scopes"`
	// Claims are all of the token's claims (numbers as json.Number); empty
	// for client credentials checked against a registry.
	Claims map[string]any `json:"claims"`
	// ExpiresAt is when the token expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`

	by *Authenticator // the authenticator that verified the caller
}

// Authenticated reports whether a verified p itself, so that middleware
// reuses only its own callers: a Principal put in the context by another
// Authenticator (with other issuers or audiences) is not taken on trust.
func (a *Authenticator) Authenticated(p *Principal) bool {
	return p != nil && p.by == a
}

// Require checks that the caller's scopes meet req. It returns nil, or an
// *Error with status 403 and code insufficient_scope naming the scopes req
// asks for.
func (p *Principal) Require(req scopes.Requirement) error {
	if req.SatisfiedBy(p.Scopes) {
		return nil
	}
	description := "the access token lacks a scope this request requires"
	if p.Method == MethodCredentials {
		description = "the client lacks a scope this request requires"
	}
	return &Error{
		Status:      http.StatusForbidden,
		Code:        CodeInsufficientScope,
		Description: description,
		Scope:       req.String(),
	}
}

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the Principal stored in ctx by NewContext (as the
// middleware does for every authenticated request).
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}
