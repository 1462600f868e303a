// Package jwks provides the verification keys of trusted token issuers for
// OAuth 2.0 resource servers.
//
// A [Set] holds the keys of exactly one issuer and hands golang-jwt a
// [jwt.Keyfunc] that picks the key for a token. Three kinds of sets exist:
//
//   - [Remote], created by [NewRemote], fetches a JWK Set (RFC 7517) from a
//     URL and keeps it fresh in one background goroutine.
//   - [Remote], created by [NewDiscovered], finds the JWK Set URL through
//     OpenID Connect Discovery or RFC 8414 authorization server metadata.
//   - [Static], created by [NewStatic], [ParsePEM] or [LoadPEMFile], holds
//     fixed public keys for issuers that publish no JWK Set.
//
// Keys are matched to a token's "alg" header strictly: RSA keys of 2048 to
// 8192 bits for RS* and PS*, the right NIST curve for ES256/ES384/ES512 and
// Ed25519 for EdDSA. Symmetric algorithms and "none" never get a key, and the
// "jku", "x5u", "jwk" and "x5c" header parameters are never used to find one.
//
// A Remote never blocks a request on the network: a token whose "kid" is not
// in the set is refused at once with [ErrUnknownKey] and may start a refresh in
// the background: at most 3 back to back, then one per
// [Options.UnknownKIDInterval].
package jwks
