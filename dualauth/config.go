package dualauth

import (
	"cmp"
	"fmt"
	"net/http"
	"net/netip"
	"reflect"
	"strings"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/internal/excerpt"
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

func (m Mode) allowsJWT() bool         { return m == ModeJWT || m == ModeDual }
func (m Mode) allowsCredentials() bool { return m == ModeCredentials || m == ModeDual }

// allows reports whether a route in mode m accepts a caller of method.
func (m Mode) allows(method Method) bool {
	return method == MethodJWT && m.allowsJWT() || method == MethodCredentials && m.allowsCredentials()
}

// The client credential headers where Config names none.
const (
	DefaultClientIDHeader     = "client_id"
	DefaultClientSecretHeader = "client_secret"
)

const defaultRealm = "api"

// Config configures an Authenticator: its mode and the methods that serve
// it, Tokens (a *jwtauth.Verifier) and Clients (a *clientauth.Checker).
// The zero value of every other field is useful.
type Config struct {
	// Mode is which methods are accepted; "" means ModeJWT.
	Mode Mode
	// Realm is the realm named in WWW-Authenticate challenges; "" means "api".
	Realm string
	// Tokens verifies Bearer tokens: required unless Mode is
	// ModeCredentials. New takes a share of it (see there).
	Tokens TokenVerifier
	// Clients checks client ids and secrets, presented in two request
	// headers or in HTTP Basic (RFC 6749 §2.3.1): required by
	// ModeCredentials and ModeDual. New takes a share of it too.
	Clients ClientChecker
	// ClientIDHeader and ClientSecretHeader name the client credential
	// headers; "" means "client_id" and "client_secret".
	ClientIDHeader     string
	ClientSecretHeader string
	// DisableBasic turns off "Authorization: Basic" for client
	// credentials, which is accepted by default.
	DisableBasic bool
	// TrustedProxies are the proxies in front of the API: failures of a
	// request from one of them count against the address they forwarded
	// (X-Forwarded-For: the right-most address that is not a trusted
	// proxy). Empty: the peer address is always used.
	TrustedProxies []netip.Prefix
	// ClientAddr, if set, returns the address failures are counted against
	// instead (normalized like the others: IPv4-mapped IPv6 as IPv4, IPv6 by
	// its /64).
	ClientAddr func(r *http.Request) string
	// AuthenticatePreflight makes CORS preflight requests (OPTIONS with
	// Origin and Access-Control-Request-Method) authenticate like any
	// other. By default they pass unauthenticated, since browsers send them
	// without credentials (Fetch standard); see Authenticator.Preflight.
	AuthenticatePreflight bool
	// MeterProvider receives the metrics (README lists them); nil means
	// otel.GetMeterProvider(). keyward.requests counts each request once,
	// when first decided: in Authenticate, in Authorize when the context
	// holds no Principal this Authenticator verified, and in VerifyClient.
	MeterProvider metric.MeterProvider
	// TracerProvider receives a span keyward.authenticate for each request
	// counted, with keyward.auth_method, keyward.outcome, keyward.code,
	// keyward.issuer and keyward.client_id (never a token, secret or
	// header); nil means otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
}

// ConfigError is the error Validate and New return for a Config they cannot
// accept; the Configs of the method packages (jwtauth, clientauth) and of
// package forwardauth are refused with it too.
type ConfigError struct {
	// Package is the package whose Config is at fault: "" for dualauth,
	// else its name, such as "jwtauth", "clientauth" or "forwardauth".
	Package string
	// Field is the Config field at fault as a Go selector path, such as
	// "Realm", "Algorithms[2]" or "Issuers[0].Audiences[1]".
	Field string
	// Reason says what is wrong with it. It may name other fields, such as
	// Issuers[1] or Routes[2].
	Reason string
}

// Error returns the package ("dualauth" unless Package says otherwise), the
// field and the reason.
func (e *ConfigError) Error() string {
	return cmp.Or(e.Package, "dualauth") + ": " + e.Field + ": " + e.Reason
}

func configErr(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Validate checks c as New does, without building anything. Every error is
// a *ConfigError.
func (c Config) Validate() error {
	mode := cmp.Or(c.Mode, ModeJWT)
	switch {
	case !mode.allowsJWT() && !mode.allowsCredentials():
		return configErr("Mode", "unknown mode %s (use jwt, credentials or dual)", excerpt.Quote(string(c.Mode)))
	case strings.ContainsAny(c.Realm, "\"\\\r\n"):
		return configErr("Realm", "may not contain quotes, backslashes or line breaks")
	case c.Tokens != nil && nilPointer(c.Tokens):
		return configErr("Tokens", "is a nil pointer, as a failed jwtauth.New returns")
	case c.Clients != nil && nilPointer(c.Clients):
		return configErr("Clients", "is a nil pointer, as a failed clientauth.New returns")
	case mode.allowsJWT() && c.Tokens == nil:
		return configErr("Tokens", "is required with mode %s: set a token verifier (jwtauth.New)", mode)
	case mode.allowsCredentials() && c.Clients == nil:
		return configErr("Clients", "is required with mode %s: set a client checker (clientauth.New)", mode)
	case c.Clients == nil:
		return nil
	}
	id := cmp.Or(c.ClientIDHeader, DefaultClientIDHeader)
	secret := cmp.Or(c.ClientSecretHeader, DefaultClientSecretHeader)
	for _, h := range []struct{ field, name string }{{"ClientIDHeader", id}, {"ClientSecretHeader", secret}} {
		if problem := authheader.NameProblem(h.name); problem != "" {
			return configErr(h.field, "%s", problem)
		}
	}
	if strings.EqualFold(id, secret) {
		field, other := "ClientSecretHeader", "client_id_header"
		if c.ClientSecretHeader == "" {
			field, other = "ClientIDHeader", "client_secret_header"
		}
		deflt := ""
		if c.ClientIDHeader == "" || c.ClientSecretHeader == "" {
			deflt = " by default"
		}
		return configErr(field, "%s is also %s%s (header names ignore case); use two different headers", excerpt.Quote(cmp.Or(c.ClientSecretHeader, c.ClientIDHeader)), other, deflt)
	}
	return nil
}

// nilPointer reports whether m holds a nil pointer.
func nilPointer(m any) bool {
	v := reflect.ValueOf(m)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
