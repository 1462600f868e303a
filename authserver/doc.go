// Package authserver is a small OAuth 2.0 authorization server for
// development and CI: it issues RFC 9068 JWT access tokens, or opaque ones,
// to the clients of a clients.Registry (client credentials grant, RFC 6749
// §4.4), bound to the client's DPoP key (RFC 9449) or TLS client
// certificate (RFC 8705) when it presents one, answers token introspection
// (RFC 7662) and publishes the keys and
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
// Sender-constrained access tokens. A token request that carries a DPoP
// proof (RFC 9449), one DPoP header, at any token endpoint and for either
// grant, gets a token bound to the proof's key: token_type DPoP (RFC 9449
// §5), and cnf {"jkt": the key's RFC 7638 thumbprint} in the JWT or, for an
// opaque token, in the introspection answer (§6), whose token_type is
// DPoP too. The proof must pass every check of §4.3: typ dpop+jwt, an
// asymmetric algorithm (the metadata's dpop_signing_alg_values_supported),
// a public jwk, its signature, htm POST, htu the endpoint's URL under the
// Issuer (the URL clients are given, whatever Host the request came with),
// an iat within a minute of Config.Now (30 seconds' leeway both ways), and
// a jti not seen before (replays are refused from memory: restarting the
// server, or running several, forgets them). A bad proof is 400
// invalid_dpop_proof (§5; the code is registered for token endpoints in
// §12.2), as are two DPoP headers; no nonce is ever asked for. A request
// without a DPoP header gets a Bearer token, as before.
//
// A refresh token issued with a proof is bound to the proof's key, and so
// is every token rotated from it: RFC 9449 §5 requires that of public
// clients' refresh tokens, and this server redeems refresh tokens without
// client authentication (see below), so it binds them whatever the client.
// Redeeming one without a proof is invalid_grant, with a proof of another
// key invalid_dpop_proof, and neither refusal uses or revokes it: whoever
// stole it without the key can do nothing with it. A refresh token issued
// without a proof stays unbound; redeeming it with a proof binds the
// access token only.
//
// A token request over TLS with a client certificate (r.TLS, as a
// listener that asks clients for certificates sets it) gets an access
// token bound to the certificate (RFC 8705 §3): cnf {"x5t#S256":
// base64url(SHA-256 of its DER)}, in the JWT or the introspection answer,
// still token_type Bearer. The handshake has proved that the client holds
// the certificate's key, so whether the listener also verified the
// certificate against a CA is the listener's business (RFC 8705 §2.2
// allows self-signed certificates). Config.MutualTLS makes the metadata
// say tls_client_certificate_bound_access_tokens. Refresh tokens are not
// bound to certificates. A request with both a client certificate and a
// DPoP proof gets a token bound to the DPoP key only: the client asked for
// DPoP, the token_type it is told names one proof of possession, and RFC
// 7800 §3.1 has a cnf claim represent a single proof-of-possession key.
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
