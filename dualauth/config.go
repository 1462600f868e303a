package dualauth

import (
	"log/slog"
	"time"

	"github.com/keyward/keyward/jwks"
)

// Mode says which authentication methods a route accepts.
type Mode string

// Modes.
const (
	// ModeJWT accepts only Bearer JWTs.
	ModeJWT Mode = "jwt"
	// ModeCredentials accepts only client credentials.
	ModeCredentials Mode = "credentials"
	// ModeDual accepts either.
	ModeDual Mode = "dual"
)

// Defaults used where a Config field is left zero.
const (
	DefaultLeeway        = 30 * time.Second
	DefaultMaxTokenBytes = 8 << 10
	DefaultRealm         = "api"
	// NoLeeway, as Config.Leeway, allows no clock skew at all.
	NoLeeway time.Duration = -1
)

// DefaultAlgorithms are the JWS algorithms accepted when Config.Algorithms is
// empty: the asymmetric ones of RFC 7518 and RFC 8037. "none" and the HMAC
// algorithms are never accepted.
var DefaultAlgorithms = []string{
	"RS256", "RS384", "RS512",
	"PS256", "PS384", "PS512",
	"ES256", "ES384", "ES512",
	"EdDSA",
}

// Config configures an Authenticator. The zero value of every field but
// Issuers is useful.
type Config struct {
	// Mode is which methods are accepted; "" means ModeJWT.
	Mode Mode
	// Realm is the realm named in WWW-Authenticate challenges; "" means DefaultRealm.
	Realm string
	// Issuers are the trusted token issuers, each with its own key set:
	// required unless Mode is ModeCredentials with a Credentials.Verifier.
	Issuers []Issuer
	// Algorithms is the JWS "alg" allowlist; empty means DefaultAlgorithms.
	Algorithms []string
	// Leeway is the clock skew allowed on exp, nbf and iat; 0 means
	// DefaultLeeway and NoLeeway (any negative value) means none. It may not
	// exceed 5 minutes.
	Leeway time.Duration
	// ScopeClaims are the claims scopes are read from; empty means
	// scopes.DefaultClaims ("scope", "scp", "scopes").
	ScopeClaims []string
	// RequireType, if set, is the media type the token's "typ" header must
	// name, such as "at+jwt" (RFC 9068 §4); the "application/" prefix is
	// optional and case is ignored.
	RequireType string
	// MaxTokenBytes caps a token's size, checked before any parsing; 0 means
	// DefaultMaxTokenBytes.
	MaxTokenBytes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives verification failures at debug level (never tokens or
	// secrets); nil means no logging.
	Logger *slog.Logger
	// Credentials configures client credentials, which ModeCredentials and
	// ModeDual need.
	Credentials Credentials
}

// Issuer is one trusted authorization server.
type Issuer struct {
	// Issuer is the exact "iss" value its tokens carry.
	Issuer string
	// Audiences are the "aud" values this API accepts from the issuer; a
	// token's aud must contain at least one of them.
	Audiences []string
	// Keys verifies the issuer's signatures.
	Keys jwks.Set
}
