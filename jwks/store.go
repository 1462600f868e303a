package jwks

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/jwkset"
)

// errNoUsableKeys is the error of a load that would replace usable keys with
// none.
var errNoUsableKeys = errors.New("jwks: the key set has no usable signature keys")

// store is the persistent jwkset.Storage of one Remote. The Remote writes
// every fetched JWK Set into it with load; the store keeps only public
// signature keys and records the time of the load. keyfunc reads it through
// the embedded memory storage.
type store struct {
	*jwkset.MemoryJWKSet

	logger *slog.Logger
	mu     sync.Mutex // serialises writers
	index  atomic.Pointer[keyIndex]
	loaded atomic.Pointer[time.Time] // last successful load
}

var _ jwkset.Storage = (*store)(nil)

func newStore(logger *slog.Logger) *store {
	return &store{MemoryJWKSet: jwkset.NewMemoryStorage(), logger: logger}
}

// load replaces the set with the signature keys among given, reduced to their
// public parts, and records the load as successful; skipped is the number of
// keys dropped as unsafe or invalid (see filter). If no key of given is usable
// for any algorithm while the set holds one that is, the set is left as it is
// and the error is errNoUsableKeys.
func (s *store) load(ctx context.Context, given []jwkset.JWK) (skipped int, err error) {
	kept, skipped := s.filter(ctx, given)
	ix := indexOf(kept)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix.usableKeys() == 0 && s.keys().usableKeys() > 0 {
		return skipped, errNoUsableKeys
	}
	return skipped, s.replace(ctx, kept, ix)
}

// KeyReplaceAll replaces the set with the signature keys among given, reduced
// to their public parts, and records the load as successful.
func (s *store) KeyReplaceAll(ctx context.Context, given []jwkset.JWK) error {
	kept, _ := s.filter(ctx, given)
	ix := indexOf(kept)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replace(ctx, kept, ix)
}

// replace installs kept, indexed as ix. The caller holds s.mu.
func (s *store) replace(ctx context.Context, kept []jwkset.JWK, ix *keyIndex) error {
	if err := s.MemoryJWKSet.KeyReplaceAll(ctx, kept); err != nil {
		return err
	}
	s.index.Store(ix)
	now := time.Now()
	s.loaded.Store(&now)
	return nil
}

// KeyWrite adds jwk if it is a signature key, reduced to its public part.
func (s *store) KeyWrite(ctx context.Context, jwk jwkset.JWK) error {
	kept, _ := s.filter(ctx, []jwkset.JWK{jwk})
	if len(kept) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.MemoryJWKSet.KeyWrite(ctx, kept[0]); err != nil {
		return err
	}
	all, err := s.MemoryJWKSet.KeyReadAll(ctx)
	if err != nil {
		return err
	}
	s.reindex(all)
	return nil
}

// KeyDelete removes the key with keyID.
func (s *store) KeyDelete(ctx context.Context, keyID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ok, err := s.MemoryJWKSet.KeyDelete(ctx, keyID)
	if err != nil || !ok {
		return ok, err
	}
	all, err := s.MemoryJWKSet.KeyReadAll(ctx)
	if err != nil {
		return ok, err
	}
	s.reindex(all)
	return ok, nil
}

// keys returns the current immutable index (nil before the first load).
func (s *store) keys() *keyIndex { return s.index.Load() }

// lastLoad returns the time of the last successful load.
func (s *store) lastLoad() time.Time {
	if t := s.loaded.Load(); t != nil {
		return *t
	}
	return time.Time{}
}

func (s *store) reindex(jwks []jwkset.JWK) { s.index.Store(indexOf(jwks)) }

func indexOf(jwks []jwkset.JWK) *keyIndex {
	entries := make([]entry, 0, len(jwks))
	for _, j := range jwks {
		m := j.Marshal()
		entries = append(entries, entry{kid: m.KID, alg: m.ALG.String(), key: j.Key()})
	}
	return newKeyIndex(entries)
}

// filter drops encryption, symmetric and otherwise unusable keys and rebuilds
// the rest from their public parts, so that no private material is stored.
// skipped counts the keys dropped as unsafe or invalid; keys that are simply
// not for signatures (encryption, symmetric, other types) are not counted.
func (s *store) filter(ctx context.Context, given []jwkset.JWK) (kept []jwkset.JWK, skipped int) {
	kept = make([]jwkset.JWK, 0, len(given))
	for _, j := range given {
		m := j.Marshal()
		pub, isSigKey := publicKey(j.Key())
		var reason string
		switch {
		case m.USE == jwkset.UseEnc:
			reason = `"use" is "enc"`
		case len(m.KEYOPS) > 0 && !slices.Contains(m.KEYOPS, jwkset.KeyOpsVerify):
			reason = `"key_ops" lacks "verify"`
		case m.KTY == jwkset.KtyOct:
			reason = "symmetric key"
		case !isSigKey:
			reason = "not a signature key type"
		case m.ALG != "" && !slices.Contains(signatureAlgs, m.ALG.String()):
			reason = `"alg" is not an accepted signature algorithm`
		case tooLarge(pub):
			reason = "RSA modulus above 8192 bits"
			skipped++
		}
		if reason == "" {
			pj, err := jwkset.NewJWKFromKey(pub, jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{
				ALG:    m.ALG,
				KID:    m.KID,
				KEYOPS: slices.Clone(m.KEYOPS),
				USE:    m.USE,
			}})
			if err == nil {
				kept = append(kept, pj)
				continue
			}
			reason = "invalid key metadata"
			skipped++
		}
		s.logger.DebugContext(ctx, "jwks: key dropped", "kid", logText(m.KID), "kty", logText(m.KTY.String()), "reason", reason)
	}
	return kept, skipped
}
