package jwks

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"math/big"
	"slices"
	"strings"

	"github.com/MicahParks/jwkset"
)

// maxSkipLogs bounds the "key skipped" records of one load.
const maxSkipLogs = 10

var (
	// errNotJWK is the error of a "keys" member that is not a JWK object.
	errNotJWK = errors.New("not a JWK object")
	// errRSATooLarge is the error of an RSA JWK above maxRSABits.
	errRSATooLarge = errors.New("RSA modulus above 8192 bits")
)

// parseKeys reads the members of a JWK Set's "keys" array one by one. A
// member jwkset cannot read (unsupported type or curve, missing or malformed
// parameters, point off the curve, unregistered "use" or "key_ops" value, bad
// "x5c") or an RSA key above maxRSABits is skipped and counted, and the others
// are kept: RFC 7517 §5 has implementations ignore keys they do not
// understand, so one such key must not hide the rest of the set. Skipped keys
// are logged without key material.
func parseKeys(ctx context.Context, raws []json.RawMessage, logger *slog.Logger, source string) (keys []jwkset.JWK, skipped int) {
	keys = make([]jwkset.JWK, 0, len(raws))
	for i, raw := range raws {
		j, m, err := parseKey(raw)
		if err == nil {
			keys = append(keys, j)
			continue
		}
		skipped++
		if skipped <= maxSkipLogs {
			logger.DebugContext(ctx, "jwks: key skipped", "source", source, "index", i,
				"kid", logText(m.KID), "kty", logText(m.KTY.String()), "reason", skipReason(m, err))
		}
	}
	return keys, skipped
}

// parseKey reads one JWK. Private members are read so that a key published
// with them still yields its public part; the store keeps only that.
func parseKey(raw json.RawMessage) (jwkset.JWK, jwkset.JWKMarshal, error) {
	var m jwkset.JWKMarshal
	if err := json.Unmarshal(raw, &m); err != nil {
		return jwkset.JWK{}, jwkset.JWKMarshal{}, errNotJWK
	}
	// Checked before jwkset validates the key, which for a private RSA key
	// costs time growing with the modulus size.
	if m.KTY == jwkset.KtyRSA && modulusBits(m.N) > maxRSABits {
		return jwkset.JWK{}, m, errRSATooLarge
	}
	// The zero JWKValidateOptions have no GetX5U: "x5u" is never fetched.
	j, err := jwkset.NewJWKFromMarshal(m, jwkset.JWKMarshalOptions{Private: true}, jwkset.JWKValidateOptions{})
	return j, m, err
}

// modulusBits is the size of the base64url modulus n, or 0 if n does not
// decode (jwkset then reports the key as malformed).
func modulusBits(n string) int {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(n, "="))
	if err != nil {
		return 0
	}
	return new(big.Int).SetBytes(b).BitLen()
}

// skipReason describes why parseKey refused m, from known parts only: never
// key material, never jwkset's error text.
func skipReason(m jwkset.JWKMarshal, err error) string {
	unregistered := func(o jwkset.KEYOPS) bool { return !o.IANARegistered() }
	switch {
	case errors.Is(err, errNotJWK), errors.Is(err, errRSATooLarge):
		return err.Error()
	case errors.Is(err, jwkset.ErrUnsupportedKey):
		return "unsupported key type or curve"
	case !m.USE.IANARegistered():
		return `unregistered "use" value`
	case slices.ContainsFunc(m.KEYOPS, unregistered):
		return `unregistered "key_ops" value`
	case errors.Is(err, jwkset.ErrInvalidKey):
		return "invalid key (point off the curve or exponent out of range)"
	case errors.Is(err, jwkset.ErrKeyUnmarshalParameter):
		return "missing or malformed key parameter"
	case errors.Is(err, jwkset.ErrX509Mismatch):
		return `"x5c" certificate does not match the key`
	case len(m.X5C) > 0 && !x5cParses(m.X5C):
		return `invalid "x5c" certificate chain`
	}
	var corrupt base64.CorruptInputError
	if errors.As(err, &corrupt) {
		return "malformed base64url key parameter"
	}
	return "key failed validation"
}

// x5cParses reports whether every certificate of an "x5c" chain decodes.
func x5cParses(chain []string) bool {
	for _, c := range chain {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			return false
		}
		if _, err := x509.ParseCertificate(der); err != nil {
			return false
		}
	}
	return true
}

// maxLogText bounds issuer-supplied strings (kid, kty) in log records.
const maxLogText = 64

// logText shortens s to its first maxLogText bytes, as valid UTF-8.
func logText(s string) string {
	if len(s) <= maxLogText {
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ToValidUTF8(s[:maxLogText], "\uFFFD") + "…"
}
