package clients

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Hash algorithms, the values of HashParams.Algorithm.
const (
	// AlgBcrypt is bcrypt ($2a$, $2b$ or $2y$ hashes), the default.
	AlgBcrypt = "bcrypt"
	// AlgArgon2id is Argon2id (RFC 9106) in the PHC string format
	// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, salt and key
	// in unpadded standard base64.
	AlgArgon2id = "argon2id"
)

// Limits on hash parameters. A registry refuses hashes outside them: below
// the minimums a stolen file is too cheap to attack, above the maximums one
// verification costs so much that a stream of requests would be a denial of
// service. HashSecret only produces hashes within them.
const (
	// MinBcryptCost is the lowest bcrypt cost a registry accepts.
	MinBcryptCost = 10
	// DefaultBcryptCost is the cost HashSecret uses when none is given.
	DefaultBcryptCost = 12
	// MaxBcryptCost is the highest bcrypt cost accepted (cost 16 takes some
	// seconds per verification).
	MaxBcryptCost = 16
	// MaxBcryptSecretBytes is the longest secret bcrypt can tell apart: it
	// reads only the first 72 bytes. Longer secrets are refused (never
	// truncated), both by HashSecret and by Verify for bcrypt entries.
	MaxBcryptSecretBytes = 72

	// MinArgon2Memory is the least Argon2id memory accepted, in KiB (19 MiB,
	// the OWASP minimum).
	MinArgon2Memory = 19456
	// MaxArgon2Memory is the most Argon2id memory accepted, in KiB (256
	// MiB): a check holds all of it while it runs, and Verify runs several
	// at once (see Options.MaxConcurrentHashes).
	MaxArgon2Memory = 256 << 10
	// MinArgon2Time is the least number of Argon2id passes accepted.
	MinArgon2Time = 1
	// MaxArgon2Time is the most Argon2id passes accepted.
	MaxArgon2Time = 10
	// MinArgon2Threads is the least Argon2id parallelism (lanes) accepted.
	MinArgon2Threads = 1
	// MaxArgon2Threads is the most Argon2id parallelism (lanes) accepted.
	MaxArgon2Threads = 16
	// MinArgon2SaltBytes and MaxArgon2SaltBytes bound an Argon2id salt.
	MinArgon2SaltBytes, MaxArgon2SaltBytes = 8, 64
	// MinArgon2KeyBytes and MaxArgon2KeyBytes bound an Argon2id key (the
	// hash proper).
	MinArgon2KeyBytes, MaxArgon2KeyBytes = 16, 64
)

// Argon2Params are the Argon2id parameters of HashSecret. A zero field means
// its default: 64 MiB of memory, 3 passes, 2 lanes, a 16-byte salt and a
// 32-byte key.
type Argon2Params struct {
	// Memory is the memory cost in KiB; 0 means 65536 (64 MiB).
	Memory uint32
	// Time is the number of passes over the memory; 0 means 3.
	Time uint32
	// Threads is the degree of parallelism (lanes); 0 means 2.
	Threads uint8
	// SaltLen is the length of the random salt in bytes; 0 means 16.
	SaltLen uint32
	// KeyLen is the length of the derived key in bytes; 0 means 32.
	KeyLen uint32
}

// HashParams choose the algorithm and cost of HashSecret. The zero value
// means bcrypt at DefaultBcryptCost.
type HashParams struct {
	// Algorithm is AlgBcrypt (the default when empty) or AlgArgon2id.
	Algorithm string
	// BcryptCost is the bcrypt cost, MinBcryptCost to MaxBcryptCost; 0 means
	// DefaultBcryptCost. Only for bcrypt.
	BcryptCost int
	// Argon2 are the Argon2id parameters; zero fields take their defaults.
	// Only for argon2id.
	Argon2 Argon2Params
}

// HashSecret hashes a client secret for the secret_hash of a registry file,
// with a fresh random salt. It refuses an empty secret, a secret longer than
// MaxSecretBytes, a secret longer than MaxBcryptSecretBytes for bcrypt, and
// parameters outside the limits a registry accepts.
func HashSecret(secret string, p HashParams) (string, error) {
	if secret == "" {
		return "", errors.New("clients: the secret is empty")
	}
	if len(secret) > MaxSecretBytes {
		return "", fmt.Errorf("clients: the secret is longer than %d bytes", MaxSecretBytes)
	}
	switch p.Algorithm {
	case "", AlgBcrypt:
		if p.Argon2 != (Argon2Params{}) {
			return "", errors.New("clients: Argon2 parameters given for bcrypt")
		}
		cost := p.BcryptCost
		if cost == 0 {
			cost = DefaultBcryptCost
		}
		if cost < MinBcryptCost || cost > MaxBcryptCost {
			return "", fmt.Errorf("clients: bcrypt cost %d is outside %d to %d", cost, MinBcryptCost, MaxBcryptCost)
		}
		if len(secret) > MaxBcryptSecretBytes {
			return "", fmt.Errorf("clients: the secret is longer than %d bytes, all bcrypt can read; use argon2id for longer secrets", MaxBcryptSecretBytes)
		}
		h, err := bcrypt.GenerateFromPassword([]byte(secret), cost)
		if err != nil {
			return "", fmt.Errorf("clients: bcrypt: %w", err)
		}
		return string(h), nil
	case AlgArgon2id:
		if p.BcryptCost != 0 {
			return "", errors.New("clients: a bcrypt cost given for argon2id")
		}
		a := p.Argon2.withDefaults()
		if err := a.check(true); err != nil {
			return "", fmt.Errorf("clients: %w", err)
		}
		if a.SaltLen < MinArgon2SaltBytes || a.SaltLen > MaxArgon2SaltBytes {
			return "", fmt.Errorf("clients: argon2id salt length %d is outside %d to %d bytes", a.SaltLen, MinArgon2SaltBytes, MaxArgon2SaltBytes)
		}
		if a.KeyLen < MinArgon2KeyBytes || a.KeyLen > MaxArgon2KeyBytes {
			return "", fmt.Errorf("clients: argon2id key length %d is outside %d to %d bytes", a.KeyLen, MinArgon2KeyBytes, MaxArgon2KeyBytes)
		}
		salt := randomBytes(int(a.SaltLen))
		key := argon2.IDKey([]byte(secret), salt, a.Time, a.Memory, a.Threads, a.KeyLen)
		return (&secretHash{alg: AlgArgon2id, argon: a, salt: salt, key: key}).encode(), nil
	default:
		return "", fmt.Errorf("clients: unknown hash algorithm %q (use %q or %q)", p.Algorithm, AlgBcrypt, AlgArgon2id)
	}
}

// CheckSecret reports whether secret matches hash, a bcrypt or Argon2id hash
// as HashSecret makes, in constant time for a given hash. It returns an error
// only when hash is malformed or its parameters exceed the limits above (so
// that checking it would cost too much); weak but well-formed hashes are
// checked. An empty secret, and for bcrypt a secret longer than
// MaxBcryptSecretBytes, never matches.
func CheckSecret(hash, secret string) (bool, error) {
	h, err := parseHash(hash)
	if err != nil {
		return false, fmt.Errorf("clients: malformed hash: %w", err)
	}
	if secret == "" || (h.alg == AlgBcrypt && len(secret) > MaxBcryptSecretBytes) {
		return false, nil
	}
	return h.check(secret), nil
}

func (a Argon2Params) withDefaults() Argon2Params {
	if a.Memory == 0 {
		a.Memory = 64 << 10
	}
	if a.Time == 0 {
		a.Time = 3
	}
	if a.Threads == 0 {
		a.Threads = 2
	}
	if a.SaltLen == 0 {
		a.SaltLen = 16
	}
	if a.KeyLen == 0 {
		a.KeyLen = 32
	}
	return a
}

// check reports Argon2id parameters outside the limits: always the maximums
// (and the minimum argon2 itself needs), the minimums only if strict.
func (a Argon2Params) check(strict bool) error {
	switch {
	case a.Time < 1 || a.Threads < 1:
		return fmt.Errorf("argon2id t=%d, p=%d: t and p must be at least 1", a.Time, a.Threads)
	case a.Memory < 8*uint32(a.Threads):
		return fmt.Errorf("argon2id m=%d is below 8 KiB per lane (p=%d)", a.Memory, a.Threads)
	case a.Memory > MaxArgon2Memory:
		return fmt.Errorf("argon2id memory m=%d KiB is above the maximum %d KiB (%d MiB)", a.Memory, MaxArgon2Memory, MaxArgon2Memory>>10)
	case a.Time > MaxArgon2Time:
		return fmt.Errorf("argon2id passes t=%d is above the maximum %d", a.Time, MaxArgon2Time)
	case a.Threads > MaxArgon2Threads:
		return fmt.Errorf("argon2id parallelism p=%d is above the maximum %d", a.Threads, MaxArgon2Threads)
	case !strict:
		return nil
	case a.Memory < MinArgon2Memory:
		return fmt.Errorf("argon2id memory m=%d KiB is below the minimum %d KiB", a.Memory, MinArgon2Memory)
	}
	return nil
}

// secretHash is a parsed, checked secret hash.
type secretHash struct {
	alg string

	bcrypt []byte // the whole bcrypt hash
	cost   int    // its cost

	argon     Argon2Params // Memory, Time, Threads
	salt, key []byte
}

// bcryptAlphabet is bcrypt's own base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

var bcryptEncoding = base64.NewEncoding(bcryptAlphabet).WithPadding(base64.NoPadding)

// errUnrecognised is the parse error of anything that is neither bcrypt nor
// Argon2id; loadClient turns it into the "plaintext secrets are refused"
// message.
var errUnrecognised = errors.New("not a bcrypt or argon2id hash")

// parseHash parses and checks a bcrypt or Argon2id hash against the maximum
// limits. Its errors never quote the hash.
func parseHash(s string) (*secretHash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		return parseBcrypt(s)
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("only the argon2id variant of Argon2 is accepted, not argon2i or argon2d")
	}
	return nil, errUnrecognised
}

// parseBcrypt checks the exact shape $2b$NN$ + 22 salt and 31 hash
// characters of bcrypt's alphabet.
func parseBcrypt(s string) (*secretHash, error) {
	const shape = "a bcrypt hash is 60 characters: $2b$, two cost digits, $, 53 characters of [./A-Za-z0-9]"
	if len(s) != 60 || s[6] != '$' || !isDigit(s[4]) || !isDigit(s[5]) {
		return nil, errors.New("malformed bcrypt hash (" + shape + ")")
	}
	for i := 7; i < len(s); i++ {
		if strings.IndexByte(bcryptAlphabet, s[i]) < 0 {
			return nil, errors.New("malformed bcrypt hash (" + shape + ")")
		}
	}
	cost := int(s[4]-'0')*10 + int(s[5]-'0')
	if cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return nil, fmt.Errorf("bcrypt cost %d is not a valid bcrypt cost", cost)
	}
	if cost > MaxBcryptCost {
		return nil, fmt.Errorf("bcrypt cost %d is above the maximum %d", cost, MaxBcryptCost)
	}
	return &secretHash{alg: AlgBcrypt, bcrypt: []byte(s), cost: cost}, nil
}

var argon2Encoding = base64.RawStdEncoding.Strict()

func parseArgon2id(s string) (*secretHash, error) {
	const shape = "an argon2id hash is $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, salt and key in unpadded base64"
	malformed := errors.New("malformed argon2id hash (" + shape + ")")
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, malformed
	}
	if parts[2] != "v=19" {
		return nil, errors.New("argon2id version must be v=19 (Argon2 1.3)")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return nil, malformed
	}
	var nums [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(params[i], name)
		if !ok {
			return nil, malformed
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || v == "" || v[0] < '0' || v[0] > '9' {
			return nil, malformed
		}
		nums[i] = n
	}
	if nums[2] > 255 {
		return nil, fmt.Errorf("argon2id parallelism p=%d is above the maximum %d", nums[2], MaxArgon2Threads)
	}
	a := Argon2Params{Memory: uint32(nums[0]), Time: uint32(nums[1]), Threads: uint8(nums[2])}
	if err := a.check(false); err != nil {
		return nil, err
	}
	salt, err1 := argon2Encoding.DecodeString(parts[4])
	key, err2 := argon2Encoding.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return nil, malformed
	}
	if len(salt) < MinArgon2SaltBytes || len(salt) > MaxArgon2SaltBytes {
		return nil, fmt.Errorf("argon2id salt of %d bytes is outside %d to %d bytes", len(salt), MinArgon2SaltBytes, MaxArgon2SaltBytes)
	}
	if len(key) < MinArgon2KeyBytes || len(key) > MaxArgon2KeyBytes {
		return nil, fmt.Errorf("argon2id key of %d bytes is outside %d to %d bytes", len(key), MinArgon2KeyBytes, MaxArgon2KeyBytes)
	}
	a.SaltLen, a.KeyLen = uint32(len(salt)), uint32(len(key))
	return &secretHash{alg: AlgArgon2id, argon: a, salt: salt, key: key}, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// checkMinimums reports parameters below the minimums a registry accepts.
func (h *secretHash) checkMinimums() error {
	if h.alg == AlgBcrypt {
		if h.cost < MinBcryptCost {
			return fmt.Errorf("bcrypt cost %d is below the minimum %d", h.cost, MinBcryptCost)
		}
		return nil
	}
	return h.argon.check(true)
}

// check reports whether secret matches, in constant time for the hash:
// bcrypt compares its outputs with crypto/subtle itself.
func (h *secretHash) check(secret string) bool {
	if h.alg == AlgBcrypt {
		return bcrypt.CompareHashAndPassword(h.bcrypt, []byte(secret)) == nil
	}
	key := argon2.IDKey([]byte(secret), h.salt, h.argon.Time, h.argon.Memory, h.argon.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// encode formats an Argon2id hash in the PHC string format.
func (h *secretHash) encode() string {
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", h.argon.Memory, h.argon.Time, h.argon.Threads,
		argon2Encoding.EncodeToString(h.salt), argon2Encoding.EncodeToString(h.key))
}

// params describes the algorithm and cost parameters, never salt or hash.
func (h *secretHash) params() string {
	if h.alg == AlgBcrypt {
		return fmt.Sprintf("bcrypt cost %d", h.cost)
	}
	return fmt.Sprintf("argon2id m=%d,t=%d,p=%d,key=%d", h.argon.Memory, h.argon.Time, h.argon.Threads, len(h.key))
}

// estimatedCost estimates the time of one check in nanoseconds, to pick the
// most expensive entry of a registry. The constants are measured on an x86-64
// server (bcrypt cost 10: 60 ms; argon2id m=19456,t=1,p=1: 12 ms); lanes are
// not counted as a speed-up, since Argon2 is bound by memory bandwidth more
// than by cores.
func (h *secretHash) estimatedCost() uint64 {
	if h.alg == AlgBcrypt {
		return (uint64(1) << h.cost) * 58_000
	}
	return uint64(h.argon.Memory) * uint64(h.argon.Time) * 650
}

// dummy returns a hash with the same algorithm and parameters and random
// salt and hash, that no secret is known to match. Checking a secret against
// it costs what checking against h costs.
func (h *secretHash) dummy() *secretHash {
	if h.alg == AlgBcrypt {
		s := fmt.Sprintf("$2b$%02d$", h.cost) +
			bcryptEncoding.EncodeToString(randomBytes(16)) + // 22 characters
			bcryptEncoding.EncodeToString(randomBytes(23)) // 31 characters
		return &secretHash{alg: AlgBcrypt, bcrypt: []byte(s), cost: h.cost}
	}
	return &secretHash{alg: AlgArgon2id, argon: h.argon, salt: randomBytes(len(h.salt)), key: randomBytes(len(h.key))}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (Go 1.24+); a broken kernel source crashes the program
	return b
}
