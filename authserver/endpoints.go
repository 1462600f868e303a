package authserver

import "time"

// Paths served by Handler.
const (
	// PathOpenIDConfiguration is the OpenID Connect Discovery document.
	PathOpenIDConfiguration = "/.well-known/openid-configuration"
	// PathOAuthMetadata is the RFC 8414 authorization server metadata.
	PathOAuthMetadata = "/.well-known/oauth-authorization-server"
	// PathJWKS is the JWK Set of the public signing keys.
	PathJWKS = "/.well-known/jwks.json"
	// PathToken is the generic token endpoint, the metadata's token_endpoint
	// (Decentro style): client credentials by HTTP Basic or in a form or JSON
	// body; grants client_credentials and refresh_token, the latter also
	// without client authentication (seed 000).
	PathToken = "/oauth/token"
	// PathTokenV2 is an OAuth2 provider style endpoint: HTTP Basic and a form
	// body with grant_type=client_credentials.
	PathTokenV2 = "/oauth/v2/token"
	// PathPartnerToken is a partner API style endpoint: a JSON body
	// {"grant_type","client_id","client_secret"}; no refresh tokens.
	PathPartnerToken = "/api/oauth/token"
	// PathConnectToken is a Stent style endpoint: a form body with
	// grant_type=client_credentials, response_type=token, client_id and
	// client_secret.
	PathConnectToken = "/connect/token"
	// PathIntrospect is the token introspection endpoint (RFC 7662), the
	// metadata's introspection_endpoint: HTTP Basic or client_id and
	// client_secret in a form body, from clients whose ClientOptions allow
	// introspection.
	PathIntrospect = "/oauth/introspect"
)

// Access-token lifetimes of the endpoints, unless Config.TTL overrides them.
const (
	// LifetimeToken is the lifetime at PathToken (seed 000: 15 minutes).
	LifetimeToken = 15 * time.Minute
	// LifetimeTokenV2 is the lifetime at PathTokenV2 (seed 001: 1 hour).
	LifetimeTokenV2 = time.Hour
	// LifetimePartnerToken is the lifetime at PathPartnerToken (seed 002: 1 hour).
	LifetimePartnerToken = time.Hour
	// LifetimeConnectToken is the lifetime at PathConnectToken (seed 003: 30 days).
	LifetimeConnectToken = 30 * 24 * time.Hour
)

// Grant types.
const (
	grantClientCredentials = "client_credentials"
	grantRefreshToken      = "refresh_token"
)

// endpoint is one token endpoint's style. Every endpoint accepts HTTP Basic,
// which RFC 6749 §2.3.1 requires of every authorization server.
type endpoint struct {
	path         string
	lifetime     time.Duration
	form, json   bool // accepted bodies: application/x-www-form-urlencoded, application/json
	bodySecret   bool // client_id and client_secret in the body (client_secret_post) accepted
	refresh      bool // issues refresh tokens and accepts grant_type=refresh_token
	responseType bool // requires response_type=token
	// introspection is set for the introspection endpoint, which reads
	// its own parameters (RFC 7662 §2.1) and issues nothing.
	introspection bool
}

var endpoints = []endpoint{
	{path: PathToken, lifetime: LifetimeToken, form: true, json: true, bodySecret: true, refresh: true},
	{path: PathTokenV2, lifetime: LifetimeTokenV2, form: true},
	{path: PathPartnerToken, lifetime: LifetimePartnerToken, json: true, bodySecret: true},
	{path: PathConnectToken, lifetime: LifetimeConnectToken, form: true, bodySecret: true, responseType: true},
}

// introspectionEndpoint is PathIntrospect: RFC 7662 §2.1 requests are
// form-encoded; clients authenticate as at a token endpoint.
var introspectionEndpoint = endpoint{path: PathIntrospect, form: true, bodySecret: true, introspection: true}

// grants reports whether the endpoint accepts grant type g.
func (ep endpoint) grants(g string) bool {
	return g == grantClientCredentials || (g == grantRefreshToken && ep.refresh)
}
