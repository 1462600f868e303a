package dualauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/keyward/keyward/internal/jsonobject"
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
// subject, client_id, issuer, scopes, claims, expires_at and, when true,
// introspected. Each request gets its own: a handler may change its fields
// without changing what another request sees. Claim, Claims and
// DecodeClaims (into a type of your own) decode the token's claims afresh
// from the verified claims set on every call, so what they return is the
// caller's own.
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
	// Introspected says that the token was checked by its issuer's
	// introspection endpoint (RFC 7662; an opaque token), not verified here.
	Introspected bool `json:"introspected,omitzero"`

	// payload is the verified claims set (a JSON object), "" for none: one
	// string shared by the cache and every request presenting the token,
	// the smallest form (a decoded map costs several times its size).
	payload string
	by      *core // the authenticator that verified the caller
}

// Claim returns the token's claim name (numbers as json.Number, objects as
// map[string]any, arrays as []any) and whether the token has it. Objects
// and arrays are new on every call.
func (p *Principal) Claim(name string) (any, bool) {
	if p.payload == "" {
		return nil, false
	}
	v, found, _ := jsonobject.Member(p.payload, name) // verified: it decodes
	return v, found
}

// Claims returns all the token's claims, decoded anew on every call; it
// is empty, not nil, for client credentials checked against a registry.
func (p *Principal) Claims() map[string]any {
	if m, err := jsonobject.DecodeString(p.payload); err == nil { // verified; "" is none
		return m
	}
	return map[string]any{}
}

// MarshalJSON encodes p with its claims.
func (p *Principal) MarshalJSON() ([]byte, error) {
	type fields Principal // without the method, so no recursion
	return json.Marshal(struct {
		*fields
		Claims map[string]any `json:"claims"`
	}{(*fields)(p), p.Claims()})
}

// DecodeClaims decodes the token's verified claims into v, a non-nil
// pointer (anything else is an error, never a panic), as json.Unmarshal
// decodes a JSON object, typically into a struct of your own:
//
//	var c struct {
//		TenantID string           `json:"tenant_id"`
//		Audience jwt.ClaimStrings `json:"aud"` // a string or an array
//	}
//	if err := p.DecodeClaims(&c); err != nil { … }
//
// Claims v has no field for are ignored; a field whose claim is absent
// keeps its value; a claim of another JSON type is an error
// (*json.UnmarshalTypeError) after the other fields are set. Numbers keep
// every digit; aud may be a string or an array (RFC 7519 §4.1.3), which
// jwt.ClaimStrings accepts and []string does not; embed
// jwt.RegisteredClaims for all registered claims. Claims whose names differ
// only in case (at any depth) are an error: the token must not decide which
// one a field gets. Each call decodes afresh, so changing v changes nothing
// another request sees. Client credentials have the claims of the token
// they were exchanged for, or none from a registry (v is left as it is).
func (p *Principal) DecodeClaims(v any) error {
	if p == nil {
		return errors.New("dualauth: DecodeClaims called on a nil *Principal")
	}
	data := "null" // no token: v is checked, and left as it is
	if p.payload != "" {
		data = p.payload
		// Most tokens' names are all plain and cannot differ only in
		// case: only the others are decoded to be looked at closely.
		if !jsonobject.PlainNames(data) {
			if a, b, found := jsonobject.CaseTwins(p.Claims()); found {
				return fmt.Errorf("dualauth: the claims have names that differ only in case (%.40q and %.40q)", a, b)
			}
		}
	}
	// A copy: json.Unmarshal hands slices of its input to a target's
	// UnmarshalJSON, which may write to them, and data is the cached
	// token's, shared with every request that presents it.
	if err := json.Unmarshal([]byte(data), v); err != nil {
		return fmt.Errorf("dualauth: decoding the claims: %w", err)
	}
	return nil
}

// clone returns a copy of p for one request: its own Scopes, and the
// read-only claims set shared.
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
