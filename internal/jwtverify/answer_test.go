package jwtverify

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
)

// b64 is s in base64url without padding.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// TestJOSEShaped: only two or four dots after a first part that is
// entirely strict base64url of a JSON object make a token JOSE-shaped;
// opaque tokens that merely start like one are not.
func TestJOSEShaped(t *testing.T) {
	header := b64(`{"alg":"RS256","typ":"JWT"}`)
	for _, tt := range []struct {
		name, raw string
		want      bool
	}{
		{"JWS", header + ".e30.c2ln", true},
		{"JWS with an empty payload and signature", header + "..", true},
		{"JWS header with whitespace", b64(" {\"alg\":\"none\"} ") + ".e30.", true},
		{"JWE", b64(`{"alg":"RSA-OAEP","enc":"A256GCM"}`) + ".a.b.c.d", true},
		{"fosite random.signature starting with {", "eyJmb28iOiJiYXIifQ.abc", false},
		{"a dot after two characters", "ey.J", false},
		{"one dot", header + ".e30", false},
		{"three dots", header + ".e30.c2ln.x", false},
		{"five dots", header + ".a.b.c.d.e", false},
		{"Hydra", "ory_at_Zx4pQ1mV8w.TaG7kP9s2LqW", false},
		{"no dot", "kwat_abcdef", false},
		{"empty first part", ".e30.c2ln", false},
		{"padding", b64(`{"alg":"RS256"}`) + "==.e30.c2ln", false},
		{"standard base64 alphabet", strings.ReplaceAll(b64(`{"alg":"RS256","x":"??>"}`), "_", "/") + ".e30.c2ln", false},
		{"CR inside the header", header[:4] + "\r" + header[4:] + ".e30.c2ln", false},
		{"bits left over", header[:len(header)-1] + "h.e30.c2ln", false},
		{"a JSON object and more", b64(`{"alg":"RS256"}x`) + ".e30.c2ln", false},
		{"half a JSON object", b64(`{"alg":"RS2`) + ".e30.c2ln", false},
		{"a JSON array", b64(`[1]`) + ".e30.c2ln", false},
		{"a long header", b64(`{"x":"`+strings.Repeat("a", 2000)+`"}`) + ".e30.c2ln", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := JOSEShaped(tt.raw); got != tt.want {
				t.Fatalf("JOSEShaped(%q) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

// TestJOSEShapedFositeTokens: none of 100,000 fosite-like tokens (base64url
// of 32 random bytes, a dot, base64url of a 32-byte signature) is taken for
// a JOSE object, though about 0.4% of them start with base64url of "{".
func TestJOSEShapedFositeTokens(t *testing.T) {
	const n = 100_000
	var key, sig [32]byte
	braces := 0
	for range n {
		_, _ = rand.Read(key[:])
		_, _ = rand.Read(sig[:])
		raw := base64.RawURLEncoding.EncodeToString(key[:]) + "." + base64.RawURLEncoding.EncodeToString(sig[:])
		if key[0] == '{' {
			braces++
		}
		if JOSEShaped(raw) {
			t.Fatalf("JOSEShaped(%q) = true, want an opaque token", raw)
		}
	}
	if braces == 0 {
		t.Fatalf("no token of %d started with {: the population does not test the case", n)
	}
}
