// Package scopes reads OAuth 2.0 scopes from token claims and checks them
// against per-route requirements.
//
// A token may carry its scopes under several claim names: "scope" as a
// space-delimited string (RFC 9068, RFC 8693), "scp" as a string or an array,
// or "scopes" as an array. Matching is exact: "bookings:reader" does not
// satisfy "bookings:read".
package scopes
