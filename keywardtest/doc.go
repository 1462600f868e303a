// Package keywardtest helps test code protected by Keyward, the way
// net/http/httptest helps test HTTP handlers: it starts a token issuer on
// loopback that publishes its keys (JWKS and discovery documents) and mints
// access tokens with chosen claims, lifetimes and keys, including expired and
// wrongly signed ones.
package keywardtest
