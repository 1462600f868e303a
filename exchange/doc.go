// Package exchange is a client for an authorization server's token endpoint:
// it trades a caller's client credentials for an access token with the OAuth
// 2.0 client credentials grant (RFC 6749 §4.4).
//
// A resource server that accepts client_id + client_secret but keeps no
// registry of hashed secrets can let the authorization server judge them: if
// [Client.Exchange] gets a token, the credentials are good, and the token is
// then verified like any Bearer JWT (package dualauth does that, and caches
// the outcome; this package neither verifies nor caches).
//
// Three ways of presenting the credentials are supported, one per [Style]:
//
//   - [StyleBasic]: HTTP Basic authentication with the id and secret
//     form-encoded first (RFC 6749 §2.3.1), and a form body with
//     grant_type=client_credentials.
//   - [StyleJSON]: a JSON body {"grant_type","client_id","client_secret"}.
//   - [StyleForm]: a form body with grant_type, client_id and client_secret,
//     plus any extra [Client.Params] such as response_type=token.
//
// Every failure is an [*Error] that matches either [ErrRejected] (the endpoint
// refused the credentials) or [ErrUnavailable] (the endpoint could not be
// asked, or answered in a way that proves nothing) with [errors.Is]. No
// error, and no field of one, ever holds the secret: it is sent in the
// request and nowhere else, and text the endpoint sends back is scrubbed of
// it. Redirects are never followed, so the credentials go to the configured
// URL only. An answer of 429 or 503 also wraps a [*RetryError] carrying the
// endpoint's Retry-After, which a resource server passes on to its caller.
//
// A resource server that exchanges its callers' credentials is, to the
// authorization server, one client address for all of them: if that server
// throttles failed authentications per address, one guesser would lock
// every caller out. [WithCallerAddr] puts the caller's address in the
// context, and Exchange sends it as X-Forwarded-For, for an authorization
// server that trusts the resource server as a proxy (the development server
// of package authserver does with Config.TrustedProxies).
package exchange
