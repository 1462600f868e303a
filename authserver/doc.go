// Package authserver is a small OAuth 2.0 authorization server for
// development and CI: it issues RFC 9068 JWT access tokens, or opaque ones,
// to the clients of a clients.Registry (client credentials grant, RFC 6749
// §4.4), answers token introspection (RFC 7662) and publishes the keys and
// metadata that Keyward resource servers need to verify them, so that teams
// can test APIs protected by Keyward without a real identity provider.
//
// Handler serves:
//
//	GET  /.well-known/openid-configuration       metadata (OpenID Connect Discovery)
//	GET  /.well-known/oauth-authorization-server metadata (RFC 8414)
//	GET  /.well-known/jwks.json                  the public signing keys (RFC 7517)
//	POST /oauth/token      Basic, or client_id and client_secret in a form or JSON body; refresh tokens; 15 minutes
//	POST /oauth/v2/token   Basic and a form body; 1 hour
//	POST /api/oauth/token  a JSON body with client_id and client_secret; 1 hour
//	POST /connect/token    a form body with response_type=token, client_id and client_secret; 30 days
//	POST /oauth/introspect RFC 7662 introspection: Basic, or client_id and client_secret in the form
//
// The token endpoints follow the styles of the vendor documents Keyward's
// design starts from (see the constants below), so that a resource server
// configured for one of those providers can be tested against this server.
// Every endpoint also accepts HTTP Basic (RFC 6749 §2.3.1), and each refuses
// the request shapes its style does not use. Errors are RFC 6749 §5.2 JSON
// bodies.
//
// A client's access tokens are JWTs unless Config.ClientOptions (a client
// options file, see ReadClientOptions) gives it token_format: opaque: then
// every endpoint and grant, the refresh_token grant included, issues it
// opaque tokens, OpaqueTokenPrefix and 256 random bits in base64url, never
// containing a dot. The server keeps, per live opaque token, the SHA-256 of
// its text and what it stands for (client, scope, iat, exp; the issuer,
// audience and subject follow from them), at most Config.MaxOpaqueTokens
// (default 100,000, about 200 bytes each): issuing past the bound drops the
// expired tokens, or else the one closest to its expiry.
//
// The introspection endpoint answers only clients whose ClientOptions allow
// it (Introspect), after authenticating them as the token endpoints do; a
// client that authenticates but may not introspect gets 403
// unauthorized_client. It answers {"active":true, ...} with scope,
// client_id, sub, exp, iat, nbf, iss, aud and token_type (and jti for a JWT)
// for a live opaque token of this server and for a JWT access token it
// signed with a key it still publishes, within its exp; and {"active":false}
// alone for anything else: unknown, expired, evicted, malformed, another
// server's, a refresh token, or a token whose client the registry has since
// disabled or removed. token_type_hint is ignored.
//
// Access tokens are signed with one key at a time (RS256, ES256 or EdDSA).
// The next key is published before it signs anything, so a resource server
// that fetched the key set since the previous rotation already knows it, and
// a retired key stays published until the last token it signed has expired.
// Refresh tokens (from /oauth/token only) are opaque, single use, bound to
// their client and kept in memory as SHA-256 hashes. Each names its family
// (its original grant and every token rotated from it), and the store keeps
// one entry per family, holding its live token only: presenting any other
// token of a known family, a used one however often the family rotated
// since, revokes the whole family (RFC 6749 §10.4, RFC 9700 §4.14.2), and
// so does presenting one whose client the registry has since disabled or
// removed. As seed 000 documents it, a refresh_token grant needs no client
// authentication: a body of grant_type=refresh_token and refresh_token
// alone is enough, the token naming its client. A request that also names
// a client (client_id, or Basic with an empty password) or authenticates
// one must name the token's client, and wrong credentials are still
// invalid_client. The store is bounded: at most
// Config.MaxRefreshTokensPerClient families per client (default 1,000) and
// Config.MaxRefreshTokens in all (default 10,000, about 3 MB); past a bound
// the least recently used family (issued or rotated longest ago) is
// revoked, and expired ones are dropped as others are issued or rotated.
//
// Failed client authentications are throttled as Keyward's resource side
// throttles them (10 failures per client id and address, 50 per address, a
// minute's window on Config.Now), per caller address: the peer, or behind
// one of Config.TrustedProxies the address it forwards in X-Forwarded-For.
//
// Everything is held in memory: restarting the server invalidates every
// refresh token and every access token (its keys are new, its opaque tokens
// forgotten). This server is
// for tests; it has no user login, consent or authorization endpoint.
package authserver
