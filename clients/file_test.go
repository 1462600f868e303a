package clients_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/keyward/keyward/clients"
)

func TestOpenTestdata(t *testing.T) {
	t.Parallel()
	r, err := clients.Open(testdataFile, clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if r.Len() != 3 || r.Generation() != 1 {
		t.Fatalf("Len %d, Generation %d; want 3, 1", r.Len(), r.Generation())
	}
	want := map[string]clients.Client{
		"acme":    {ID: "acme", Scopes: []string{"bookings:read", "reports:read"}},
		"globex":  {ID: "globex", Scopes: []string{"bookings:read", "bookings:create"}},
		"initech": {ID: "initech", Scopes: []string{"reports:read"}, Disabled: true},
	}
	for id, w := range want {
		c, ok := r.Lookup(id)
		if !ok || c.ID != w.ID || !slices.Equal(c.Scopes, w.Scopes) || c.Disabled != w.Disabled {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", id, c, ok, w)
		}
	}
	if _, ok := r.Lookup("nobody"); ok {
		t.Error("Lookup(nobody) found a client")
	}
}

// TestOpenBad loads every file of testdata/clients/bad: one per load rule.
func TestOpenBad(t *testing.T) {
	t.Parallel()
	tests := map[string]string{ // file → part of the error
		"plaintext-secret":       `client "acme": line 4: secret_hash is not a bcrypt or argon2id hash (plaintext secrets are refused; hash it with: go run ./cmd/keyward hash-secret in a clone of Keyward)`,
		"unrecognised-hash":      `client "acme": line 4: secret_hash is not a bcrypt or argon2id hash`,
		"argon2i-hash":           `client "acme": secret_hash: only the argon2id variant`,
		"malformed-bcrypt":       `client "acme": secret_hash: malformed bcrypt hash`,
		"malformed-argon2id":     `client "acme": secret_hash: malformed argon2id hash`,
		"argon2id-version":       `client "acme": secret_hash: argon2id version must be v=19`,
		"missing-secret-hash":    `client "acme": secret_hash is missing`,
		"empty-client-id":        `client #1 (line 3): client_id is empty`,
		"missing-client-id":      `client #1 (line 3): client_id is missing`,
		"duplicate-client-id":    `client "acme": client_id appears twice (lines 3 and 6)`,
		"client-id-control-char": `client #1 (line 3): client_id "acme\a" contains a control character`,
		"client-id-too-long":     `client #1 (line 3): client_id is longer than 256 bytes`,
		"client-id-whitespace":   `client #1 (line 3): client_id " acme" starts or ends with white space`,
		"scope-space":            `client "acme": line 5: scope "bookings read" is not a valid scope token`,
		"scope-quote":            `client "acme": line 5: scope "bookings:\"read\"" is not a valid scope token`,
		"scope-backslash":        `client "acme": line 5: scope "bookings\\read" is not a valid scope token`,
		"scope-empty":            `client "acme": line 5: scope "" is not a valid scope token`,
		"scope-non-ascii":        `client "acme": line 5: scope "bookings:lé" is not a valid scope token`,
		"scopes-not-list":        `client "acme": line 5: scopes must be a list`,
		"unknown-key-client":     `client #1 (line 3): line 4: unknown key "secret" (known keys: client_id, secret_hash, scopes, disabled)`,
		"unknown-key-top":        `line 6: unknown key "version" (the file has one key, clients)`,
		"duplicate-key":          `client #1 (line 3): line 6: key "secret_hash" appears twice`,
		"bcrypt-cost-low":        `client "acme": secret_hash: bcrypt cost 9 is below the minimum 10`,
		"bcrypt-cost-high":       `client "acme": secret_hash: bcrypt cost 17 is above the maximum 16`,
		"argon2id-memory-low":    `client "acme": secret_hash: argon2id memory m=19455 KiB is below the minimum 19456 KiB`,
		"argon2id-memory-high":   `client "acme": secret_hash: argon2id memory m=1048577 KiB is above the maximum 262144 KiB (256 MiB)`,
		"argon2id-time-zero":     `client "acme": secret_hash: argon2id t=0, p=1: t and p must be at least 1`,
		"argon2id-time-high":     `client "acme": secret_hash: argon2id passes t=11 is above the maximum 10`,
		"argon2id-threads-zero":  `client "acme": secret_hash: argon2id t=1, p=0: t and p must be at least 1`,
		"argon2id-threads-high":  `client "acme": secret_hash: argon2id parallelism p=17 is above the maximum 16`,
		"disabled-not-bool":      `client "acme": line 6: disabled must be true or false`,
		"empty":                  `the file is empty; it must list clients`,
		"no-clients":             `line 2: clients is empty; an empty registry would refuse every caller`,
		"syntax":                 `not valid YAML: line 4: did not find expected ',' or ']'`,
		"two-documents":          `the file holds more than one YAML document`,
		"client-not-mapping":     `client #1 (line 3): a client must be a mapping`,
		"top-list":               `line 2: the file must be a mapping with one key, clients`,
	}
	files, err := filepath.Glob("../testdata/clients/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad files: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".yaml")
		if _, ok := tests[name]; !ok {
			t.Errorf("%s has no entry in TestOpenBad", path)
		}
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			path := "../testdata/clients/bad/" + name + ".yaml"
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			r, err := clients.Open(path, clients.Options{})
			if err == nil {
				t.Fatalf("Open succeeded with %d clients", r.Len())
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "clients: "+path+": ") || !strings.Contains(msg, want) {
				t.Errorf("error\n  %s\nwant it to start with %q and contain\n  %s", msg, "clients: "+path+": ", want)
			}
			assertNoSecretMaterial(t, msg, data)

			// Parse gives the same message without the file name.
			if _, perr := clients.Parse(data); perr == nil || perr.Error() != "clients: "+strings.TrimPrefix(msg, "clients: "+path+": ") {
				t.Errorf("Parse error %v; want the message of Open without the path", perr)
			}
		})
	}
}

// TestParsePlaintextMessage pins the whole message for a plaintext secret.
func TestParsePlaintextMessage(t *testing.T) {
	t.Parallel()
	_, err := clients.Parse([]byte("clients:\n  - client_id: acme\n    secret_hash: hunter2-is-my-password\n"))
	const want = `clients: client "acme": line 3: secret_hash is not a bcrypt or argon2id hash (plaintext secrets are refused; hash it with: go run ./cmd/keyward hash-secret in a clone of Keyward)`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v\nwant    %s", err, want)
	}
}

var secretHashValue = regexp.MustCompile(`secret(?:_hash)?:\s*"?([^"\n]+)"?`)

// assertNoSecretMaterial fails if msg quotes a secret_hash of the file, or
// any long piece of one (a salt, a key, bcrypt's digest).
func assertNoSecretMaterial(t *testing.T, msg string, file []byte) {
	t.Helper()
	for _, m := range secretHashValue.FindAllStringSubmatch(string(file), -1) {
		value := m[1]
		pieces := []string{value}
		if parts := strings.Split(value, "$"); len(parts) == 6 {
			pieces = append(pieces, parts[4], parts[5]) // argon2id's salt and key
		}
		if len(value) > 7 && strings.HasPrefix(value, "$2") {
			pieces = append(pieces, value[7:]) // bcrypt's salt and digest
		}
		for _, p := range pieces {
			if len(p) >= 8 && strings.Contains(msg, p) {
				t.Errorf("error %q quotes secret material %q", msg, p)
			}
		}
	}
}

func TestOpenTooLarge(t *testing.T) {
	t.Parallel()
	good, err := os.ReadFile(testdataFile)
	if err != nil {
		t.Fatal(err)
	}
	// A valid file padded with a comment to one byte over the limit.
	data := append(good, "#"...)
	data = append(data, strings.Repeat("x", clients.MaxFileBytes-len(data))...)
	data = append(data, '\n')
	path := filepath.Join(t.TempDir(), "clients.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := clients.Open(path, clients.Options{}); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("Open of %d bytes: %v", len(data), err)
	}
	if _, err := clients.Parse(data); err == nil || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
		t.Errorf("Parse of %d bytes: %v", len(data), err)
	}
	// At the limit it loads.
	if _, err := clients.Parse(data[:clients.MaxFileBytes]); err != nil {
		t.Errorf("Parse of %d bytes: %v", clients.MaxFileBytes, err)
	}
}

func TestOpenNotAFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "missing.yaml"), dir} {
		if _, err := clients.Open(path, clients.Options{}); err == nil || !strings.HasPrefix(err.Error(), "clients: ") {
			t.Errorf("Open(%s): %v", path, err)
		}
	}
}

// TestParseAccepts covers valid files that stretch the format.
func TestParseAccepts(t *testing.T) {
	t.Parallel()
	h := hashOf(t, "s", argonMin)
	tests := []struct {
		name, file string
		want       []clients.Client
	}{
		{"scopes absent, null or empty", `clients:
  - {client_id: a, secret_hash: "` + h + `"}
  - {client_id: b, secret_hash: "` + h + `", scopes: }
  - {client_id: c, secret_hash: "` + h + `", scopes: [], disabled: false}`,
			[]clients.Client{{ID: "a"}, {ID: "b"}, {ID: "c"}}},
		{"duplicate scopes kept once, order kept", `clients:
  - {client_id: a, secret_hash: "` + h + `", scopes: [z:w, a:r, z:w]}`,
			[]clients.Client{{ID: "a", Scopes: []string{"z:w", "a:r"}}}},
		{"aliases for shared scopes", `clients:
  - {client_id: a, secret_hash: "` + h + `", scopes: &std [a:r, b:r]}
  - {client_id: b, secret_hash: "` + h + `", scopes: *std, disabled: true}`,
			[]clients.Client{{ID: "a", Scopes: []string{"a:r", "b:r"}}, {ID: "b", Scopes: []string{"a:r", "b:r"}, Disabled: true}}},
		{"ids as written: numbers, colons, percent, Unicode, 256 bytes", `clients:
  - {client_id: 007, secret_hash: "` + h + `"}
  - {client_id: "partner:7", secret_hash: "` + h + `"}
  - {client_id: 100%, secret_hash: "` + h + `"}
  - {client_id: société-ü-東京, secret_hash: "` + h + `"}
  - {client_id: ` + strings.Repeat("x", 256) + `, secret_hash: "` + h + `"}`,
			[]clients.Client{{ID: "007"}, {ID: "partner:7"}, {ID: "100%"}, {ID: "société-ü-東京"}, {ID: strings.Repeat("x", 256)}}},
		{"every printable scope character but space, quote and backslash", `clients:
  - {client_id: a, secret_hash: "` + h + `", scopes: ['!#$%&''()*+,-./0123456789:;<=>?@AZ[]^_` + "`" + `az{|}~']}`,
			[]clients.Client{{ID: "a", Scopes: []string{"!#$%&'()*+,-./0123456789:;<=>?@AZ[]^_`az{|}~"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := mustParse(t, []byte(tt.file))
			if r.Len() != len(tt.want) {
				t.Errorf("Len %d; want %d", r.Len(), len(tt.want))
			}
			for _, w := range tt.want {
				c, ok := r.Lookup(w.ID)
				if !ok || c.ID != w.ID || !slices.Equal(c.Scopes, w.Scopes) || c.Disabled != w.Disabled {
					t.Errorf("Lookup(%q) = %+v, %v; want %+v", w.ID, c, ok, w)
				}
			}
		})
	}
}

// FuzzParse checks that no file makes Parse panic, and that what it accepts
// keeps the rules. Parse hashes only for a file it accepts (once, to measure
// the failure floor), so fuzzing it stays cheap.
func FuzzParse(f *testing.F) {
	for _, glob := range []string{testdataFile, "../testdata/clients/bad/*.yaml"} {
		files, _ := filepath.Glob(glob)
		for _, path := range files {
			if data, err := os.ReadFile(path); err == nil {
				f.Add(data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := clients.Parse(data)
		if err != nil {
			if r != nil {
				t.Fatal("Parse returned a registry and an error")
			}
			return
		}
		if r.Len() == 0 || r.Generation() != 1 {
			t.Fatalf("Len %d, Generation %d", r.Len(), r.Generation())
		}
	})
}
