package jwks

import (
	"crypto"
	"slices"

	"github.com/golang-jwt/jwt/v5"
)

// entry is one signature key with the JWK metadata that restricts its use.
type entry struct {
	kid string // JWK "kid"; "" if none
	alg string // JWK "alg"; "" if none (the key may serve any algorithm it fits)
	key crypto.PublicKey
}

// usableFor reports whether e may verify a token signed with alg.
func (e entry) usableFor(alg string) bool {
	return (e.alg == "" || e.alg == alg) && fits(alg, e.key)
}

// keyIndex is an immutable view of a set's keys, built once per load so that
// the request path does no filtering work.
type keyIndex struct {
	entries []entry
	byAlg   map[string][]jwt.VerificationKey // token alg -> usable keys
	usable  int                              // entries usable for at least one alg
}

func newKeyIndex(entries []entry) *keyIndex {
	ix := &keyIndex{entries: entries, byAlg: make(map[string][]jwt.VerificationKey)}
	for _, e := range entries {
		used := false
		for _, alg := range signatureAlgs {
			if e.usableFor(alg) {
				ix.byAlg[alg] = append(ix.byAlg[alg], e.key)
				used = true
			}
		}
		if used {
			ix.usable++
		}
	}
	return ix
}

// len is the number of keys held; a nil index holds none.
func (ix *keyIndex) len() int {
	if ix == nil {
		return 0
	}
	return len(ix.entries)
}

// usableKeys is the number of keys that can verify a token of some
// algorithm; a nil index has none.
func (ix *keyIndex) usableKeys() int {
	if ix == nil {
		return 0
	}
	return ix.usable
}

// hasKID reports whether a key with the given kid is held.
func (ix *keyIndex) hasKID(kid string) bool {
	if ix == nil {
		return false
	}
	for _, e := range ix.entries {
		if e.kid == kid {
			return true
		}
	}
	return false
}

// forAlg returns a fresh key set of the keys usable for alg, or ErrNoKeys.
func (ix *keyIndex) forAlg(alg string) (jwt.VerificationKeySet, error) {
	if ix == nil || len(ix.byAlg[alg]) == 0 {
		return jwt.VerificationKeySet{}, ErrNoKeys
	}
	return jwt.VerificationKeySet{Keys: slices.Clone(ix.byAlg[alg])}, nil
}

// forKID returns the keys with the given kid usable for alg, and how many
// keys carry that kid at all.
func (ix *keyIndex) forKID(alg, kid string) (usable []jwt.VerificationKey, total int) {
	if ix == nil {
		return nil, 0
	}
	for _, e := range ix.entries {
		if e.kid != kid {
			continue
		}
		total++
		if e.usableFor(alg) {
			usable = append(usable, e.key)
		}
	}
	return usable, total
}
