// Package clients is a registry of OAuth 2.0 clients that authenticate with a
// client_id and client_secret (as request headers, or HTTP Basic) instead of
// a Bearer JWT: it checks the pair against hashed secrets in a YAML file.
//
// The file lists the clients:
//
//	clients:
//	  - client_id: acme
//	    secret_hash: "$2b$12$..."        # bcrypt, or "$argon2id$v=19$m=65536,t=3,p=2$<salt>$<key>"
//	    scopes: [bookings:read, reports:read]
//	    disabled: false                  # optional
//
// Make a secret_hash with HashSecret or with
//
//	go run ./cmd/keyward hash-secret [-alg bcrypt|argon2id] < secret.txt   # in a clone of Keyward
//
// Open refuses, with an error naming the client and the problem but never a
// hash or secret: plaintext or unrecognised secret_hash values, an empty,
// duplicate or overlong (MaxClientIDBytes) client_id or one with control
// characters or surrounding white space, scopes that are not RFC 6749 §3.3
// scope tokens, more than MaxScopesPerClient scopes, unknown keys, bcrypt
// costs outside MinBcryptCost to MaxBcryptCost, Argon2id parameters outside
// MinArgon2Memory to MaxArgon2Memory, MinArgon2Time to MaxArgon2Time and
// MinArgon2Threads to MaxArgon2Threads, an empty client list, files over
// MaxFileBytes, files whose YAML aliases expand to more than MaxAliasNodes
// nodes, and anything but a regular file (a FIFO would block the load).
//
// Registry.Verify compares secrets in constant time and spends one hash on
// every attempt that could name a client, known or not, and no failure
// returns sooner than the failure floor, the longest check the registry was
// seen to take (see Verify): neither errors nor response times reveal which
// client ids exist, even in a registry that mixes algorithms or costs. It
// runs a bounded number of hashes at once (Options.MaxConcurrentHashes,
// which by default also bounds the Argon2id memory held to 1 GiB) and
// returns ErrBusy when no slot frees within Options.HashWait.
// Registry.Watch reloads the file when it changes or on the signals it is
// given (such as SIGHUP), swapping an
// immutable snapshot in atomically; Registry.Generation tells callers that
// cache verifications when to drop them.
//
// A *Registry is a clientauth.Verifier (Registry.VerifyClient):
// clientauth.Config{Verifier: registry} authenticates clients against
// it. Besides package dualauth, it depends on golang.org/x/crypto and
// go.yaml.in/yaml/v3, which a program links only when it imports this
// package.
package clients
