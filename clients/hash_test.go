package clients_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/keyward/keyward/clients"
)

func TestHashSecretRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		p      clients.HashParams
		prefix string
	}{
		{"bcrypt cost 10", bcrypt10, "$2a$10$"},
		{"argon2id minimum", argonMin, "$argon2id$v=19$m=19456,t=1,p=1$"},
		{"argon2id defaults", clients.HashParams{Algorithm: clients.AlgArgon2id}, "$argon2id$v=19$m=65536,t=3,p=2$"},
		{"argon2id longer salt and key", clients.HashParams{Algorithm: clients.AlgArgon2id, Argon2: clients.Argon2Params{
			Memory: clients.MinArgon2Memory, Time: 1, Threads: 4, SaltLen: 32, KeyLen: 64}}, "$argon2id$v=19$m=19456,t=1,p=4$"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const secret = "s3cr3t: ünïcödé %20"
			h1, err := clients.HashSecret(secret, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(h1, tt.prefix) {
				t.Errorf("hash %s; want the prefix %s", h1, tt.prefix)
			}
			if ok, err := clients.CheckSecret(h1, secret); !ok || err != nil {
				t.Errorf("CheckSecret(right) = %v, %v", ok, err)
			}
			wrongs := []string{"s3cr3t: ünïcödé %2", secret + " ", ""}
			if tt.p.Algorithm == clients.AlgArgon2id {
				// A fresh salt every time (bcrypt's is x/crypto's business,
				// and a bcrypt hash costs most of a second under -race).
				if h2, err := clients.HashSecret(secret, tt.p); err != nil || h2 == h1 {
					t.Errorf("a second hash %s, %v; want another salt", h2, err)
				}
			} else {
				wrongs = wrongs[1:]
			}
			for _, wrong := range wrongs {
				if ok, err := clients.CheckSecret(h1, wrong); ok || err != nil {
					t.Errorf("CheckSecret(%q) = %v, %v; want false, nil", wrong, ok, err)
				}
			}
			// What HashSecret makes, a registry loads.
			mustParse(t, []byte(fmt.Sprintf("clients:\n  - client_id: a\n    secret_hash: %q\n", h1)))
		})
	}
}

// TestHashSecretDefault: the zero HashParams mean bcrypt at cost 12. (Only
// the prefix is checked; one cost-12 hash takes seconds under -race.)
func TestHashSecretDefault(t *testing.T) {
	t.Parallel()
	h, err := clients.HashSecret("secret", clients.HashParams{})
	if err != nil {
		t.Fatal(err)
	}
	if cost, err := bcrypt.Cost([]byte(h)); err != nil || cost != clients.DefaultBcryptCost {
		t.Errorf("default hash %s: cost %d, %v", h, cost, err)
	}
}

func TestHashSecretRefuses(t *testing.T) {
	t.Parallel()
	a := func(p clients.Argon2Params) clients.HashParams {
		return clients.HashParams{Algorithm: clients.AlgArgon2id, Argon2: p}
	}
	tests := []struct {
		name, secret string
		p            clients.HashParams
		want         string
	}{
		{"empty secret", "", bcrypt10, "the secret is empty"},
		{"secret over 1 KiB", strings.Repeat("x", 1025), argonMin, "longer than 1024 bytes"},
		{"bcrypt, 73 bytes", strings.Repeat("x", 73), bcrypt10, "longer than 72 bytes"},
		{"bcrypt cost 9", "s", clients.HashParams{BcryptCost: 9}, "bcrypt cost 9 is outside 10 to 16"},
		{"bcrypt cost 17", "s", clients.HashParams{BcryptCost: 17}, "bcrypt cost 17 is outside 10 to 16"},
		{"unknown algorithm", "s", clients.HashParams{Algorithm: "scrypt"}, `unknown hash algorithm "scrypt"`},
		{"bcrypt with argon2 parameters", "s", clients.HashParams{Argon2: clients.Argon2Params{Time: 2}}, "Argon2 parameters given for bcrypt"},
		{"argon2id with a bcrypt cost", "s", clients.HashParams{Algorithm: clients.AlgArgon2id, BcryptCost: 12}, "bcrypt cost given for argon2id"},
		{"argon2id memory low", "s", a(clients.Argon2Params{Memory: 19455}), "below the minimum 19456 KiB"},
		{"argon2id memory high", "s", a(clients.Argon2Params{Memory: 256<<10 + 1}), "m=262145 KiB is above the maximum 262144 KiB (256 MiB)"},
		{"argon2id passes high", "s", a(clients.Argon2Params{Time: 11}), "t=11 is above the maximum 10"},
		{"argon2id lanes high", "s", a(clients.Argon2Params{Threads: 17}), "p=17 is above the maximum 16"},
		{"argon2id short salt", "s", a(clients.Argon2Params{SaltLen: 7}), "salt length 7 is outside 8 to 64"},
		{"argon2id short key", "s", a(clients.Argon2Params{KeyLen: 15}), "key length 15 is outside 16 to 64"},
		{"argon2id long key", "s", a(clients.Argon2Params{KeyLen: 65}), "key length 65 is outside 16 to 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := clients.HashSecret(tt.secret, tt.p)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("HashSecret = %q, %v; want an error with %q", h, err, tt.want)
			}
		})
	}
}

// TestCheckSecretMalformed: malformed hashes, and hashes too expensive to
// check, give an error and never a panic (argon2 itself panics on t=0, p=0).
func TestCheckSecretMalformed(t *testing.T) {
	t.Parallel()
	good := hashOf(t, "s", argonMin)
	parts := strings.Split(good, "$") // "", argon2id, v=19, m=..., salt, key
	salt, key := parts[4], parts[5]
	argon := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	b := "$2a$10$QvE1QXndPgu8cpb8KJf4OOr7p41sEOrKFK1lbra2PL7wb7gFSZrA6"
	tests := map[string]string{
		"empty":                     "",
		"plaintext":                 "hunter2",
		"md5-crypt":                 "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
		"bcrypt prefix only":        "$2b$",
		"bcrypt short":              b[:59],
		"bcrypt long":               b + "A",
		"bcrypt bad character":      b[:40] + "!" + b[41:],
		"bcrypt cost not digits":    "$2a$1x$" + b[7:],
		"bcrypt cost 3":             "$2a$03$" + b[7:],
		"bcrypt cost 32":            "$2a$32$" + b[7:],
		"bcrypt cost 17 (too slow)": "$2a$17$" + b[7:],
		"bcrypt $2x$":               "$2x$10$" + b[7:],
		"argon2i":                   strings.Replace(good, "argon2id", "argon2i", 1),
		"argon2id missing part":     "$argon2id$v=19$m=19456,t=1,p=1$" + salt,
		"argon2id extra part":       good + "$x",
		"argon2id no version":       "$argon2id$m=19456,t=1,p=1$" + salt + "$" + key,
		"argon2id version 16":       strings.Replace(good, "v=19", "v=16", 1),
		"argon2id params reordered": argon("t=1,m=19456,p=1"),
		"argon2id extra param":      argon("m=19456,t=1,p=1,keyid=x"),
		"argon2id t=0":              argon("m=19456,t=0,p=1"),
		"argon2id p=0":              argon("m=19456,t=1,p=0"),
		"argon2id p=256":            argon("m=19456,t=1,p=256"),
		"argon2id m=0":              argon("m=0,t=1,p=1"),
		"argon2id m over 256 MiB":   argon("m=262145,t=1,p=1"),
		"argon2id m over 1 GiB":     argon("m=1048577,t=1,p=1"),
		"argon2id m over 32 bits":   argon("m=4294967296,t=1,p=1"),
		"argon2id t=11":             argon("m=19456,t=11,p=1"),
		"argon2id negative":         argon("m=-1,t=1,p=1"),
		"argon2id plus sign":        argon("m=+19456,t=1,p=1"),
		"argon2id empty number":     argon("m=,t=1,p=1"),
		"argon2id padded salt":      "$argon2id$v=19$m=19456,t=1,p=1$" + salt + "==$" + key,
		"argon2id salt not base64":  "$argon2id$v=19$m=19456,t=1,p=1$*$" + key,
		"argon2id short salt":       "$argon2id$v=19$m=19456,t=1,p=1$" + base64.RawStdEncoding.EncodeToString([]byte("1234567")) + "$" + key,
		"argon2id short key":        "$argon2id$v=19$m=19456,t=1,p=1$" + salt + "$" + base64.RawStdEncoding.EncodeToString(make([]byte, 15)),
		"NUL bytes":                 "$argon2id\x00$v=19",
		"invalid UTF-8":             "$2a$10$\xff\xfe" + b[9:],
	}
	for name, h := range tests {
		t.Run(name, func(t *testing.T) {
			ok, err := clients.CheckSecret(h, "s")
			if err == nil || ok {
				t.Errorf("CheckSecret(%q) = %v, %v; want an error", h, ok, err)
			} else if len(h) >= 8 && strings.Contains(err.Error(), h) {
				t.Errorf("the error quotes the hash: %v", err)
			}
		})
	}
}

// TestCheckSecretWeak: well-formed hashes below a registry's minimums are
// still checked (Open refuses them, CheckSecret does not).
func TestCheckSecretWeak(t *testing.T) {
	t.Parallel()
	b, err := bcrypt.GenerateFromPassword([]byte("s"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	salt := []byte("saltsaltsalt")
	a := fmt.Sprintf("$argon2id$v=19$m=8,t=1,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt),
		base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("s"), salt, 1, 8, 1, 16)))
	for _, h := range []string{string(b), a, strings.Replace(string(b), "$2a$", "$2b$", 1), strings.Replace(string(b), "$2a$", "$2y$", 1)} {
		if ok, err := clients.CheckSecret(h, "s"); !ok || err != nil {
			t.Errorf("CheckSecret(%s, right) = %v, %v", h, ok, err)
		}
		if ok, err := clients.CheckSecret(h, "t"); ok || err != nil {
			t.Errorf("CheckSecret(%s, wrong) = %v, %v", h, ok, err)
		}
	}
}
