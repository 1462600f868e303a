package throttle

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keyward/keyward/internal/clockcache"
)

// MinPairKeyLen is the least length of a KnownOptions.PairKey.
const MinPairKeyLen = 32

// DefaultKnownTTL is how long a pair that verified stays known, if
// KnownOptions.TTL is zero.
const DefaultKnownTTL = 24 * time.Hour

// KnownOptions configure a Known.
type KnownOptions struct {
	// TTL is how long a pair that verified stays known; DefaultKnownTTL
	// if zero.
	TTL time.Duration
	// Now is the clock of this process's markers; time.Now if nil.
	Now func() time.Time
	// Store, with PairKey, holds markers every replica sees. Without
	// PairKey it is not used.
	Store Store
	// PairKey, at least MinPairKeyLen bytes that every replica shares and
	// that is never written to Store, keys the HMAC that names a pair's
	// marker. Without it, markers are kept in this process only, under a
	// random key.
	PairKey []byte
}

// Known remembers the client id and secret pairs that verified recently,
// so that they may skip the failure gate: a guesser cannot lock the real
// client out. It is safe for concurrent use.
//
// A pair's marker is named by an HMAC of the id and secret, never the
// secret. In this process the HMAC key is random, or PairKey. Markers are
// shared through Store only under PairKey, a key from the configuration
// that Store never holds: whoever reads Store sees tags that cannot be
// tested against guessed secrets without PairKey. Whoever holds both can
// test guesses at HMAC speed against the pairs marked within the TTL, as
// whoever reads a replica's memory can: keep PairKey like the client
// secrets.
//
// A pair is known if this process marked it, or if the shared store holds
// its marker. Forget removes both here, and the shared marker; another
// replica that marked the pair itself still knows it until it sees the
// pair fail in turn. If the shared store fails, only this process's
// markers count (the gate then applies to the others: fail closed).
type Known struct {
	key    [32]byte
	shared Store // nil: markers are kept here only
	local  *clockcache.Cache
	ttl    time.Duration
	now    func() time.Time
}

// NewKnown returns an empty Known for opts.
func NewKnown(opts KnownOptions) (*Known, error) {
	k := &Known{ttl: opts.TTL, now: opts.Now}
	if k.ttl <= 0 {
		k.ttl = DefaultKnownTTL
	}
	if k.now == nil {
		k.now = time.Now
	}
	k.local = clockcache.New(k.now)
	switch {
	case opts.PairKey == nil:
		_, _ = rand.Read(k.key[:]) // crypto/rand.Read never fails
	case len(opts.PairKey) < MinPairKeyLen:
		return nil, fmt.Errorf("throttle: the pair key has %d bytes; it needs at least %d", len(opts.PairKey), MinPairKeyLen)
	default:
		// A key of its own for this use, whatever else the file keys.
		mac := hmac.New(sha256.New, opts.PairKey)
		mac.Write([]byte("keyward/throttle/known-pair/v1"))
		mac.Sum(k.key[:0])
		k.shared = opts.Store
	}
	return k, nil
}

// Shared reports whether markers are shared through a store.
func (k *Known) Shared() bool { return k.shared != nil }

// markerKey is the HMAC of id and secret; the id's length is written
// first, so "a"+"bc" and "ab"+"c" differ.
func (k *Known) markerKey(id, secret string) string {
	mac := hmac.New(sha256.New, k.key[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(id)))
	mac.Write(n[:])
	mac.Write([]byte(id))
	mac.Write([]byte(secret))
	return "k:" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// IsKnown reports whether the pair verified within the TTL, here or, with a
// shared store, on any replica, and has not failed since where it was
// marked.
func (k *Known) IsKnown(id, secret string) bool {
	key := k.markerKey(id, secret)
	if _, ok := k.local.Get(key); ok {
		return true
	}
	if k.shared == nil {
		return false
	}
	ok, err := k.shared.Marked(context.Background(), key)
	return ok && err == nil
}

// Mark records that the pair verified, for the TTL.
func (k *Known) Mark(id, secret string) {
	key := k.markerKey(id, secret)
	k.local.Set(key, struct{}{}, k.now().Add(k.ttl))
	if k.shared != nil {
		_ = k.shared.Mark(context.Background(), key, k.ttl) // counted by the store; this process still knows it
	}
}

// Forget ends the pair's exemption: it failed.
func (k *Known) Forget(id, secret string) {
	key := k.markerKey(id, secret)
	k.local.Delete(key)
	if k.shared != nil {
		_ = k.shared.Unmark(context.Background(), key) // counted by the store
	}
}

// LoadPairKey reads a pair key from the file at path: its bytes, less
// trailing white space, at least MinPairKeyLen of them (for instance
// `head -c 32 /dev/urandom | base64 > pair.key`). Errors never quote the
// file.
func LoadPairKey(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("throttle: pair key: %w", err)
	}
	defer f.Close()
	const maxLen = 4096
	b, err := io.ReadAll(io.LimitReader(f, maxLen+1))
	if err != nil {
		return nil, fmt.Errorf("throttle: pair key %s: %w", path, err)
	}
	if len(b) > maxLen {
		return nil, fmt.Errorf("throttle: pair key %s is longer than %d bytes", path, maxLen)
	}
	b = bytes.TrimRight(b, " \t\r\n")
	if len(b) < MinPairKeyLen {
		return nil, fmt.Errorf("throttle: pair key %s has %d bytes; it needs at least %d (for instance: head -c 32 /dev/urandom | base64)", path, len(b), MinPairKeyLen)
	}
	return b, nil
}
