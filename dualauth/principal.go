package dualauth

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
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
//
// Each request gets its own Principal: a handler may change its fields
// without changing what another request sees. The token's claims are
// read through Claim and Claims, which return copies, or decoded into a
// type of your own by DecodeClaims, since one verified token's claims
// serve every request that presents it.
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
	// ExpiresAt is when the token expires.
	ExpiresAt time.Time `json:"expires_at,omitzero"`

	claims map[string]any // read-only: shared with the cache and other requests
	by     *core          // the authenticator that verified the caller
}

// Claim returns a copy of the token's claim name (numbers as json.Number,
// objects as map[string]any, arrays as []any) and whether the token has it.
func (p *Principal) Claim(name string) (any, bool) {
	v, ok := p.claims[name]
	return deepCopy(v), ok
}

// Claims returns a copy of all the token's claims; it is empty, not nil,
// for client credentials checked against a registry.
func (p *Principal) Claims() map[string]any {
	out := make(map[string]any, len(p.claims))
	for k, v := range p.claims {
		out[k] = deepCopy(v)
	}
	return out
}

// deepCopy copies the objects and arrays of a decoded JSON value; the other
// values (strings, numbers, booleans, null) cannot be changed in place.
func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}

// MarshalJSON encodes p with its claims.
func (p *Principal) MarshalJSON() ([]byte, error) {
	type fields Principal // without the method, so no recursion
	return json.Marshal(struct {
		*fields
		Claims map[string]any `json:"claims"`
	}{(*fields)(p), p.Claims()})
}

// clone returns a copy of p for one request: its own Scopes, and the
// read-only claims shared.
func (p *Principal) clone() *Principal {
	cp := *p
	cp.Scopes = slices.Clone(p.Scopes)
	return &cp
}

// Require checks that the caller's scopes meet req. It returns nil, or an
// *Error with status 403 and code insufficient_scope naming the scopes req
// asks for.
func (p *Principal) Require(req scopes.Requirement) error {
	if req.SatisfiedBy(p.Scopes) {
		return nil
	}
	who := "the access token"
	if p.Method == MethodCredentials {
		who = "the client"
	}
	description := who + " lacks a scope this request requires"
	if req.OneOf() {
		// The scope attribute lists them all; say that one is enough.
		description = who + " has none of the scopes this request accepts; it needs one of them"
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
