package config_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// configDir holds the sample configuration files.
const configDir = "../testdata/config"

// writeConfig writes a configuration file into dir and returns its path.
func writeConfig(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "keyward.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadConfig runs Load with a context that ends with the test, and closes
// what it started when the test ends.
func loadConfig(t *testing.T, path string) config.Parts {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, err := config.LoadParts(ctx, path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeConfig(t, cfg) })
	return cfg
}

// closeConfig closes what Load started for cfg (its remote key sets and
// its clients file watcher) that no Authenticator holds.
func closeConfig(t *testing.T, cfg interface{ Close() error }) {
	t.Helper()
	if err := cfg.Close(); err != nil {
		t.Error(err)
	}
}

// newFromConfig builds an Authenticator, closed when the test ends.
func newFromConfig(t *testing.T, cfg dualauth.Config) *dualauth.Authenticator {
	t.Helper()
	a, err := dualauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return a
}

// issuerBlock is one jwt.issuers entry for iss with the given key source line.
func issuerBlock(iss *keywardtest.Issuer, source string) string {
	return fmt.Sprintf("    - issuer: %s\n      %s\n      audiences: [%s]\n", iss.URL, source, iss.Audience)
}

// wantErr checks that err is non-nil and contains every part of want.
func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\n\tdoes not contain %q", err, w)
		}
	}
}

// TestFileBad loads every file of testdata/config/bad, one per rule,
// and checks that the error names the key (and line) to fix.
func TestFileBad(t *testing.T) {
	tests := map[string][]string{
		"unknown-key.yaml":                   {`line 5: unknown key "jwks_uri" in jwt.issuers[0]`, `did you mean "jwks_url"?`},
		"unknown-top-key.yaml":               {`line 2: unknown key "issuers" at the top level`, "known keys here: mode, realm, jwt"},
		"two-documents.yaml":                 {"line 7: ", "more than one YAML document"},
		"empty.yaml":                         {"the file is empty"},
		"top-list.yaml":                      {"line 2: ", "top level must be a mapping", "not a list"},
		"syntax.yaml":                        {"line 4: invalid YAML"},
		"duration-number.yaml":               {`line 8: jwt.jwks.timeout: "10" is not a duration (use Go syntax such as 10s)`},
		"duration-bad.yaml":                  {`line 7: jwt.leeway: "30 seconds" is not a duration`},
		"duration-short.yaml":                {"line 8: jwt.jwks.refresh_interval: 500ms is too short; the least is 1s"},
		"leeway-long.yaml":                   {"line 7: jwt.leeway: 10m0s is outside 0s to 5m0s"},
		"leeway-negative.yaml":               {"line 7: jwt.leeway: -5s is outside"},
		"no-key-source.yaml":                 {"line 4: jwt.issuers[0]: needs a key source"},
		"two-key-sources.yaml":               {"line 4: jwt.issuers[0]: sets jwks_url and discovery; use exactly one"},
		"no-issuers.yaml":                    {"line 4: jwt.issuers: at least one issuer is required"},
		"no-jwt.yaml":                        {"jwt.issuers: at least one issuer is required"},
		"no-audiences.yaml":                  {"line 4: jwt.issuers[0].audiences: at least one audience is required"},
		"empty-audience.yaml":                {"line 6: jwt.issuers[0].audiences[1]: an audience may not be empty"},
		"audiences-not-list.yaml":            {"line 6: jwt.issuers[0].audiences: must be a list"},
		"duplicate-issuer.yaml":              {`line 7: jwt.issuers[1].issuer: "https://auth.example.com" is already configured in jwt.issuers[0]`},
		"empty-issuer.yaml":                  {"line 4: jwt.issuers[0].issuer: is required"},
		"duplicate-key.yaml":                 {"line 8: jwt.leeway: is set twice (first at line 7)"},
		"max-token-bytes-zero.yaml":          {"line 7: jwt.max_token_bytes: must be a positive number"},
		"max-token-bytes-huge.yaml":          {"line 7: jwt.max_token_bytes: 1000000 is too large; the most is 65536"},
		"max-token-bytes-text.yaml":          {`line 7: jwt.max_token_bytes: "8KiB" is not a whole number`},
		"max-bytes-negative.yaml":            {"line 8: jwt.jwks.max_bytes: must be a positive number"},
		"max-bytes-huge.yaml":                {"line 8: jwt.jwks.max_bytes: 1073741824 is too large; the most is 67108864"},
		"alg-none.yaml":                      {`line 7: jwt.algorithms[1]: "none" is never accepted`, "forged"},
		"alg-hmac.yaml":                      {`line 7: jwt.algorithms[0]: "HS256" is not accepted: HMAC`, "shared secret"},
		"alg-unknown.yaml":                   {`line 7: jwt.algorithms[0]: unknown algorithm "rs256"`, "RS256"},
		"unknown-kid-interval.yaml":          {"line 9: jwt.jwks.unknown_kid_interval: 30m0s is longer than refresh_interval (10m0s)"},
		"refresh-below-unknown-default.yaml": {"line 8: jwt.jwks.refresh_interval: 1m0s is shorter than unknown_kid_interval (5m0s by default)"},
		"insecure-jwks-url.yaml":             {`line 5: jwt.issuers[0].jwks_url: uses http:// for "auth.example.com"`, "allow_insecure_http"},
		"jwks-url-scheme.yaml":               {"line 5: jwt.issuers[0].jwks_url: must be an https:// URL"},
		"insecure-discovery.yaml":            {"line 4: jwt.issuers[0].issuer: with discovery: true, the issuer uses http://", "allow_insecure_http"},
		"discovery-not-bool.yaml":            {`line 5: jwt.issuers[0].discovery: "maybe" is not true or false`},
		"mode-unknown.yaml":                  {`line 2: mode: unknown mode "oauth"`},
		"realm-quote.yaml":                   {"line 2: realm: may not contain quotes"},
		"empty-scope-claim.yaml":             {"line 7: jwt.scope_claims[1]: a claim name may not be empty"},
	}
	for name, want := range credentialBadFiles {
		tests[name] = want
	}
	files, err := filepath.Glob(filepath.Join(configDir, "bad", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if _, ok := tests[filepath.Base(path)]; !ok {
			t.Errorf("%s has no test case", path)
		}
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(configDir, "bad", name)
			_, err := config.Read(path)
			wantErr(t, err, append([]string{"config: " + path + ": "}, want...)...)
			data, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			_, err = config.Parse(data)
			wantErr(t, err, append([]string{"config: "}, want...)...)
			if name != "empty.yaml" && !strings.HasPrefix(err.Error(), "config: line ") && !strings.HasPrefix(err.Error(), "config: jwt") {
				t.Errorf("error %q does not start with a line or key", err)
			}
		})
	}
}

// TestParseRules covers the rules that need no file of their own:
// edges of the bounds, and what is allowed.
func TestParseRules(t *testing.T) {
	const head = "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      jwks_url: https://auth.example.com/jwks\n      audiences: [api]\n"
	tests := []parseCase{
		{"minimal", head, nil},
		{"mode jwt", "mode: jwt\n" + head, nil},
		{"mode credentials without credentials", "mode: credentials\n" + head, []string{"line 1: credentials: is required with mode credentials"}},
		{"null values mean omitted", "mode:\nrealm: ~\n" + head + "  leeway:\n  jwks:\n", nil},
		{"leeway 0s", head + "  leeway: 0s\n", nil},
		{"leeway 5m", head + "  leeway: 5m\n", nil},
		{"leeway 5m1s", head + "  leeway: 5m1s\n", []string{"jwt.leeway: 5m1s is outside 0s to 5m0s"}},
		{"leeway bare 0", head + "  leeway: 0\n", []string{`jwt.leeway: "0" is not a duration`}},
		{"duration float", head + "  jwks:\n    timeout: 1.5\n", []string{`jwt.jwks.timeout: "1.5" is not a duration`}},
		{"duration list", head + "  jwks:\n    timeout: [10s]\n", []string{"jwt.jwks.timeout: must be a single value"}},
		{"interval 1s", head + "  jwks:\n    refresh_interval: 1s\n    unknown_kid_interval: 1s\n    timeout: 1s\n", nil},
		{"timeout 0s", head + "  jwks:\n    timeout: 0s\n", []string{"jwt.jwks.timeout: 0s is too short"}},
		{"unknown_kid 999ms", head + "  jwks:\n    unknown_kid_interval: 999ms\n", []string{"jwt.jwks.unknown_kid_interval: 999ms is too short"}},
		{"unknown_kid equal to refresh", head + "  jwks:\n    refresh_interval: 2m\n    unknown_kid_interval: 2m\n", nil},
		{"unknown_kid above default refresh", head + "  jwks:\n    unknown_kid_interval: 2h\n", []string{"jwt.jwks.unknown_kid_interval: 2h0m0s is longer than refresh_interval (1h0m0s by default)"}},
		{"max_token_bytes 64 KiB", head + "  max_token_bytes: 65536\n", nil},
		{"max_token_bytes 64 KiB + 1", head + "  max_token_bytes: 65537\n", []string{"jwt.max_token_bytes: 65537 is too large"}},
		{"max_token_bytes negative", head + "  max_token_bytes: -1\n", []string{"jwt.max_token_bytes: must be a positive"}},
		{"max_bytes 64 MiB", head + "  jwks:\n    max_bytes: 67108864\n", nil},
		{"unknown_kid_wait 0s", head + "  jwks:\n    unknown_kid_wait: 0s\n", nil},
		{"unknown_kid_wait 10s", head + "  jwks:\n    unknown_kid_wait: 10s\n", nil},
		{"unknown_kid_wait over the timeout", head + "  jwks:\n    timeout: 3s\n    unknown_kid_wait: 4s\n", []string{"jwt.jwks.unknown_kid_wait: 4s is outside 0s to the timeout (3s)"}},
		{"cache", head + "  cache:\n    enabled: false\n    max_entries: 5000\n    max_ttl: 1m\n", nil},
		{"cache max_entries 0", head + "  cache:\n    max_entries: 0\n", []string{"line 7: jwt.cache.max_entries: 0 is outside 1 to 10000000"}},
		{"cache max_entries huge", head + "  cache:\n    max_entries: 10000001\n", []string{"jwt.cache.max_entries: 10000001 is outside 1 to 10000000"}},
		{"cache max_ttl 500ms", head + "  cache:\n    max_ttl: 500ms\n", []string{"line 7: jwt.cache.max_ttl: 500ms is too short"}},
		{"cache enabled yes", head + "  cache:\n    enabled: yes\n", []string{`jwt.cache.enabled: "yes" is not true or false`}},
		{"cache unknown key", head + "  cache:\n    size: 5\n", []string{`unknown key "size" in jwt.cache`}},
		{"max_bytes 0", head + "  jwks:\n    max_bytes: 0\n", []string{"jwt.jwks.max_bytes: must be a positive"}},
		{"all algorithms", head + "  algorithms: [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA]\n", nil},
		{"NONE", head + "  algorithms: [NONE]\n", []string{`jwt.algorithms[0]: "NONE" is never accepted`}},
		{"hs512 lower case", head + "  algorithms: [ES256, hs512]\n", []string{`jwt.algorithms[1]: "hs512" is not accepted: HMAC`}},
		{"empty algorithm list", head + "  algorithms: []\n", nil},
		{"require_type", head + "  require_type: application/at+jwt\n", nil},
		{"http loopback IPv4", strings.Replace(head, "https://auth.example.com/jwks", "http://127.0.0.1:8080/jwks", 1), nil},
		{"http loopback IPv6", strings.Replace(head, "https://auth.example.com/jwks", "http://[::1]:8080/jwks", 1), nil},
		{"http localhost", strings.Replace(head, "https://auth.example.com/jwks", "http://localhost/jwks", 1), nil},
		{"http not loopback", strings.Replace(head, "https://auth.example.com/jwks", "http://10.0.0.1/jwks", 1), []string{`jwt.issuers[0].jwks_url: uses http:// for "10.0.0.1"`}},
		{"http allowed insecure", strings.Replace(head, "https://auth.example.com/jwks", "http://auth.internal/jwks", 1) + "      allow_insecure_http: true\n", nil},
		{"jwks_url relative", strings.Replace(head, "https://auth.example.com/jwks", "/jwks", 1), []string{"jwt.issuers[0].jwks_url: must be an absolute https:// URL with a host"}},
		{"jwks_url password", strings.Replace(head, "https://auth.example.com/jwks", "https://u:secret@auth.example.com/jwks", 1), []string{"jwt.issuers[0].jwks_url: may not contain a password"}},
		{"discovery https", "jwt:\n  issuers:\n    - issuer: https://auth.example.com/tenant\n      discovery: true\n      audiences: [api]\n", nil},
		{"discovery http loopback", "jwt:\n  issuers:\n    - issuer: http://127.0.0.1:9000\n      discovery: true\n      audiences: [api]\n", nil},
		{"discovery http allowed insecure", "jwt:\n  issuers:\n    - issuer: http://auth.internal\n      discovery: true\n      allow_insecure_http: true\n      audiences: [api]\n", nil},
		{"discovery not a URL", "jwt:\n  issuers:\n    - issuer: bookings\n      discovery: true\n      audiences: [api]\n", []string{"jwt.issuers[0].issuer: with discovery: true, the issuer must be an absolute https:// URL"}},
		{"discovery query", "jwt:\n  issuers:\n    - issuer: https://auth.example.com?x=1\n      discovery: true\n      audiences: [api]\n", []string{"jwt.issuers[0].issuer: with discovery: true, the issuer may not have a query or fragment"}},
		{"discovery false counts as unset", head + "      discovery: false\n", nil},
		{"issuer need not be a URL without discovery", strings.Replace(head, "https://auth.example.com\n", "bookings-issuer\n", 1), nil},
		{"jwks_url and public_key_file", head + "      public_key_file: k.pem\n", []string{"jwt.issuers[0]: sets jwks_url and public_key_file"}},
		{"all three sources", head + "      discovery: true\n      public_key_file: k.pem\n", []string{"jwt.issuers[0]: sets jwks_url and discovery and public_key_file"}},
		{"second issuer without audiences", head + "    - issuer: https://other.example.com\n      jwks_url: https://other.example.com/jwks\n", []string{"line 6: jwt.issuers[1].audiences: at least one audience is required"}},
		{"issuer is a scalar", "jwt:\n  issuers:\n    - https://auth.example.com\n", []string{"line 3: jwt.issuers[0]: must be a mapping of keys (issuer, jwks_url,"}},
		{"jwt is a list", "jwt: [a]\n", []string{"line 1: jwt: must be a mapping of keys"}},
		{"unknown key in jwks", head + "  jwks:\n    refresh: 1h\n", []string{`line 7: unknown key "refresh" in jwt.jwks`}},
		{"unknown key in jwt", head + "  issuer: x\n", []string{`line 6: unknown key "issuer" in jwt; did you mean "issuers"?`}},
		{"complex key", "? [a]\n: b\n" + head, []string{"line 1: keys must be plain names"}},
		{"top-level scalar", "jwt\n", []string{"line 1: the top level must be a mapping", "not a single value"}},
		{"null document", "~\n", []string{"the file is empty"}},
		{"comments only", "# nothing\n\n", []string{"the file is empty"}},
		{"two documents with ---", "---\n" + head + "---\n" + head, []string{"more than one YAML document"}},
		{"empty second document", head + "---\n", []string{"more than one YAML document"}},
		{"document end marker", head + "...\n", nil},
		{"anchors and aliases", "jwt:\n  issuers:\n    - issuer: https://a.example.com\n      jwks_url: https://a.example.com/jwks\n      audiences: &auds [api, api2]\n    - issuer: https://b.example.com\n      jwks_url: https://b.example.com/jwks\n      audiences: *auds\n", nil},
		{"alias of the wrong shape", "realm: &s api\njwt:\n  issuers: *s\n", []string{"line 3: jwt.issuers: must be a list such as [a, b], not a single value"}},
		{"merge key", "base: &b {audiences: [api]}\n" + head, []string{`unknown key "base"`}},
		{"merge key in issuer", "jwt:\n  issuers:\n    - <<: {audiences: [api]}\n      issuer: https://a.example.com\n      jwks_url: https://a.example.com/jwks\n", []string{"line 3: jwt.issuers[0]: merge keys (<<) are not supported"}},
		{"tab indentation", "jwt:\n\tissuers: []\n", []string{"line 2: invalid YAML"}},
	}
	runParseCases(t, tests)
}

// parseCase is a case of the tables of Parse's rules.
type parseCase struct {
	name string
	yaml string
	want []string // nil: valid
}

// runParseCases parses each case's yaml and checks that it is valid, or
// refused with an error holding every part of want, and no File.
func runParseCases(t *testing.T, tests []parseCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := config.Parse([]byte(tt.yaml))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if f == nil {
					t.Fatal("nil File")
				}
				return
			}
			if f != nil {
				t.Errorf("got a File with the error")
			}
			wantErr(t, err, tt.want...)
		})
	}
}

// TestParseAliasBomb checks that a file expanding to a huge tree
// through aliases is refused quickly.
func TestParseAliasBomb(t *testing.T) {
	// 100 aliases of an issuer with 2001 audiences: 200,000 values.
	bomb := "jwt:\n  issuers:\n    - &i {issuer: https://a.example.com, jwks_url: https://a.example.com/jwks, audiences: &l [" +
		strings.Repeat("a,", 2000) + "a]}\n" + strings.Repeat("    - *i\n", 100)
	_, err := config.Parse([]byte(bomb))
	wantErr(t, err, "too many values or aliases")
}

// TestFileErrorsQuoteLittle checks that errors never carry long
// stretches of the file.
func TestFileErrorsQuoteLittle(t *testing.T) {
	long := strings.Repeat("s3cr3t", 100)
	for name, text := range map[string]string{
		"duration":  "jwt:\n  leeway: " + long + "\n",
		"number":    "jwt:\n  max_token_bytes: " + long + "\n",
		"unknown":   long + ": 1\n",
		"algorithm": "jwt:\n  issuers: [{issuer: x, jwks_url: 'https://a/', audiences: [a]}]\n  algorithms: [" + long + "]\n",
		"mode":      "mode: " + long + "\n",
	} {
		_, err := config.Parse([]byte(text))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Count(err.Error(), "s3cr3t") > 10 || len(err.Error()) > 300 {
			t.Errorf("%s: error quotes too much: %q", name, err)
		}
	}
}

// TestParseTooLarge checks the size cap of Parse and
// Read.
func TestParseTooLarge(t *testing.T) {
	data := []byte("jwt:\n  issuers: []\n" + strings.Repeat("#", config.MaxFileBytes))
	_, err := config.Parse(data)
	wantErr(t, err, "larger than")
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Read(path)
	wantErr(t, err, path, "larger than")
}

func TestReadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Read(path)
	wantErr(t, err, "config: ", path)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v is not os.ErrNotExist", err)
	}
	_, err = config.Load(context.Background(), path, config.Options{})
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load error %v is not os.ErrNotExist", err)
	}
}

// TestFileSamples parses the sample files of testdata/config.
func TestFileSamples(t *testing.T) {
	sec := func(d time.Duration) config.Duration { return config.Duration(d) }
	leeway30 := sec(30 * time.Second)
	leeway10 := sec(10 * time.Second)
	tests := map[string]config.JWT{
		"jwt.yaml": {
			Issuers: []config.Issuer{{
				Issuer:    "http://127.0.0.1:9000",
				JWKSURL:   "http://127.0.0.1:9000/.well-known/jwks.json",
				Audiences: []string{"bookings-api"},
			}},
			Algorithms:    []string{"RS256", "ES256"},
			Leeway:        &leeway30,
			ScopeClaims:   []string{"scope", "scp", "scopes"},
			RequireType:   "at+jwt",
			MaxTokenBytes: 8192,
			JWKS: config.JWKS{
				RefreshInterval:    sec(time.Hour),
				UnknownKIDInterval: sec(5 * time.Minute),
				Timeout:            sec(10 * time.Second),
				MaxBytes:           1 << 20,
			},
		},
		"discovery.yaml": {
			Issuers: []config.Issuer{{Issuer: "https://auth.example.com", Discovery: true, Audiences: []string{"bookings-api"}}},
		},
		"pem.yaml": {
			Issuers:    []config.Issuer{{Issuer: "https://auth.example.com", PublicKeyFile: "issuer.pem", Audiences: []string{"bookings-api"}}},
			Algorithms: []string{"RS256"},
		},
		"two-issuers.yaml": {
			Issuers: []config.Issuer{
				{Issuer: "http://127.0.0.1:9000", JWKSURL: "http://127.0.0.1:9000/.well-known/jwks.json", Audiences: []string{"bookings-api"}},
				{Issuer: "https://partner.example.com", PublicKeyFile: "issuer.pem", Audiences: []string{"bookings-api", "bookings-partner-api"}},
			},
			Leeway: &leeway10,
		},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := config.Read(filepath.Join(configDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if f.Mode != dualauth.ModeJWT || f.Realm != "bookings-api" {
				t.Errorf("mode %q realm %q", f.Mode, f.Realm)
			}
			if !reflect.DeepEqual(f.JWT, want) {
				t.Errorf("jwt section\n got %+v\nwant %+v", f.JWT, want)
			}
		})
	}
}

// TestFileSamplePEM builds the pem.yaml sample, whose key file is
// resolved relative to the configuration file, and checks the key is a real
// RSA 2048 PKIX public key.
func TestFileSamplePEM(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(configDir, "issuer.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		t.Fatalf("issuer.pem is not a PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := pub.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
		t.Fatalf("issuer.pem holds %T, want an RSA 2048 key", pub)
	}
	// From another working directory the path must still resolve.
	abs, err := filepath.Abs(filepath.Join(configDir, "pem.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	cfg := loadConfig(t, abs)
	st := cfg.JWT.Issuers[0].Keys.Status()
	if st.Keys != 1 || !strings.HasSuffix(st.Source, filepath.Join("testdata", "config", "issuer.pem")) {
		t.Errorf("status %+v", st)
	}
	newFromConfig(t, cfg.Config)
}

// TestFileRoundTrip builds the jwt.yaml sample, pointed at a real
// issuer on loopback, into the expected Config, and verifies a token with it.
func TestFileRoundTrip(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	sample, err := os.ReadFile(filepath.Join(configDir, "jwt.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(sample), "http://127.0.0.1:9000", iss.URL)
	text = strings.ReplaceAll(text, "[bookings-api]", "[bookings-api, "+iss.Audience+"]")
	text = strings.Replace(text, "scope_claims: [scope, scp, scopes]", "scope_claims: [permissions]", 1)
	path := writeConfig(t, t.TempDir(), text)

	cfg := loadConfig(t, path)
	if _, ok := cfg.JWT.Issuers[0].Keys.(*jwks.Remote); !ok {
		t.Errorf("key set is %T, want *jwks.Remote", cfg.JWT.Issuers[0].Keys)
	}
	if cfg.Mode != dualauth.ModeJWT || cfg.Realm != "bookings-api" || cfg.Config.Clients != nil {
		t.Errorf("config %+v", cfg.Config)
	}
	got := cfg.JWT
	got.Issuers = slices.Clone(cfg.JWT.Issuers)
	got.Issuers[0].Keys = nil
	want := jwtauth.Config{
		Issuers:       []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{"bookings-api", iss.Audience}}},
		Algorithms:    []string{"RS256", "ES256"},
		Leeway:        30 * time.Second,
		ScopeClaims:   []string{"permissions"},
		RequireType:   "at+jwt",
		MaxTokenBytes: 8192,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config\n got %+v\nwant %+v", got, want)
	}

	a := newFromConfig(t, cfg.Config)
	raw := iss.Sign(t, iss.Key(), map[string]any{"typ": "at+jwt"}, iss.Claims(jwt.MapClaims{"permissions": "bookings:read"}))
	p, err := a.Verify(context.Background(), raw, "")
	if err != nil {
		t.Fatal(err)
	}
	if p.Issuer != iss.URL || !p.Scopes.Has("bookings:read") {
		t.Errorf("principal %+v", p)
	}
	// The realm is in the challenges.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, err = a.Authenticate(r)
	if ch := a.Refusal(r, err).Challenges; len(ch) != 1 || ch[0] != `Bearer realm="bookings-api"` {
		t.Errorf("challenges %q, want the realm bookings-api", ch)
	}
	// require_type is in force: a token without typ is refused.
	if _, err := a.Verify(context.Background(), iss.Token(t, nil), ""); err == nil {
		t.Error("token without typ accepted")
	}
}

// TestFileJWKSAndDiscovery verifies tokens end to end through a
// jwks_url issuer, a discovery issuer and a PEM issuer in one file.
func TestFileJWKSAndDiscovery(t *testing.T) {
	byURL := keywardtest.NewIssuer(t)
	byDiscovery := keywardtest.NewIssuer(t, "EdDSA")
	byDiscovery.Audience = "other-api"
	dir := t.TempDir()
	pemKey := writePEMKey(t, filepath.Join(dir, "keys"))
	text := "mode: jwt\njwt:\n  issuers:\n" +
		issuerBlock(byURL, "jwks_url: "+byURL.JWKSURL) +
		issuerBlock(byDiscovery, "discovery: true") +
		"    - issuer: https://pem.example.com\n      public_key_file: keys/issuer.pem\n      audiences: [pem-api]\n" +
		"  jwks:\n    refresh_interval: 10m\n    unknown_kid_interval: 1m\n    timeout: 5s\n    max_bytes: 65536\n"
	cfg := loadConfig(t, writeConfig(t, dir, text))
	a := newFromConfig(t, cfg.Config)
	ctx := context.Background()

	for _, iss := range []*keywardtest.Issuer{byURL, byDiscovery} {
		if _, err := a.Verify(ctx, iss.Token(t, nil), ""); err != nil {
			t.Errorf("token of %s: %v", iss.URL, err)
		}
	}
	if _, err := a.Verify(ctx, pemKey.sign(t, "https://pem.example.com", "pem-api"), ""); err != nil {
		t.Errorf("token of the PEM issuer: %v", err)
	}
	// Audiences are per issuer.
	if _, err := a.Verify(ctx, byURL.Token(t, jwt.MapClaims{"aud": "other-api"}), ""); err == nil {
		t.Error("token for another issuer's audience accepted")
	}
	// A token signed by a key other than the PEM file's is refused.
	other := writePEMKey(t, t.TempDir())
	if _, err := a.Verify(ctx, other.sign(t, "https://pem.example.com", "pem-api"), ""); err == nil {
		t.Error("token signed by an unknown key accepted")
	}
	if _, ok := cfg.JWT.Issuers[2].Keys.(*jwks.Static); !ok {
		t.Errorf("PEM key set is %T", cfg.JWT.Issuers[2].Keys)
	}
}

// TestFileLeewayZero checks that leeway: 0s means no leeway, not the
// default of Config.
func TestFileLeewayZero(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	dir := t.TempDir()
	base := "jwt:\n  issuers:\n" + issuerBlock(iss, "jwks_url: "+iss.JWKSURL)
	expired := iss.Token(t, jwt.MapClaims{"exp": time.Now().Add(-10 * time.Second).Unix()})
	for _, tt := range []struct {
		extra  string
		leeway time.Duration
		ok     bool
	}{
		{"", 0, true}, // default 30s leeway
		{"  leeway: 0s\n", jwtauth.NoLeeway, false}, // none
		{"  leeway: 1m\n", time.Minute, true},
	} {
		cfg := loadConfig(t, writeConfig(t, dir, base+tt.extra))
		if cfg.JWT.Leeway != tt.leeway {
			t.Errorf("%q: Leeway %v, want %v", tt.extra, cfg.JWT.Leeway, tt.leeway)
		}
		_, err := newFromConfig(t, cfg.Config).Verify(context.Background(), expired, "")
		if (err == nil) != tt.ok {
			t.Errorf("%q: token expired 10s ago: error %v", tt.extra, err)
		}
	}
}

// TestFileTokenCache: jwt.cache reaches dualauth.Config.TokenCache, and the
// built authenticator caches (or not) accordingly.
func TestFileTokenCache(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	dir := t.TempDir()
	base := "jwt:\n  issuers:\n" + issuerBlock(iss, "jwks_url: "+iss.JWKSURL)
	token := iss.Token(t, nil)
	for _, tt := range []struct {
		extra string
		want  jwtauth.TokenCache
		hits  uint64
	}{
		{"", jwtauth.TokenCache{}, 1},
		{"  cache:\n    max_entries: 7\n    max_ttl: 2m\n", jwtauth.TokenCache{MaxEntries: 7, MaxTTL: 2 * time.Minute}, 1},
		{"  cache:\n    enabled: false\n", jwtauth.TokenCache{Disabled: true}, 0},
	} {
		cfg := loadConfig(t, writeConfig(t, dir, base+tt.extra))
		if cfg.JWT.TokenCache != tt.want {
			t.Errorf("%q: TokenCache %+v, want %+v", tt.extra, cfg.JWT.TokenCache, tt.want)
		}
		a := newFromConfig(t, cfg.Config)
		for range 2 {
			if _, err := a.Verify(context.Background(), token, ""); err != nil {
				t.Fatal(err)
			}
		}
		if st := a.TokenCacheStatus(); st.Hits != tt.hits {
			t.Errorf("%q: %d cache hits, want %d", tt.extra, st.Hits, tt.hits)
		}
	}
}

// TestFileKeyServerDown checks that an unreachable key server does not
// fail Config.
func TestFileKeyServerDown(t *testing.T) {
	srv := httptest.NewServer(nil)
	url := srv.URL
	srv.Close()
	text := "jwt:\n  issuers:\n    - issuer: " + url + "\n      jwks_url: " + url + "/jwks.json\n      audiences: [api]\n" +
		"    - issuer: " + url + "/tenant\n      discovery: true\n      audiences: [api]\n"
	cfg := loadConfig(t, writeConfig(t, t.TempDir(), text))
	for _, iss := range cfg.JWT.Issuers {
		if st := iss.Keys.Status(); st.Keys != 0 || st.LastError == "" {
			t.Errorf("%s: status %+v, want no keys and an error", iss.Issuer, st)
		}
	}
	newFromConfig(t, cfg.Config)
}

// TestFileContextStopsRefresh checks that ending Config's context
// stops the remote key sets.
func TestFileContextStopsRefresh(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	f, err := config.Parse([]byte("jwt:\n  issuers:\n" + issuerBlock(iss, "jwks_url: "+iss.JWKSURL)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.ConfigParts(ctx, f, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	remote := cfg.JWT.Issuers[0].Keys.(*jwks.Remote)
	t.Cleanup(remote.Close)
	before := iss.Fetches()
	if err := remote.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh while running: %v", err)
	}
	if iss.Fetches() != before+1 {
		t.Errorf("fetches %d, want %d", iss.Fetches(), before+1)
	}
	cancel()
	if err := remote.Refresh(context.Background()); err == nil {
		t.Error("refresh after the context ended succeeded")
	}
}

// TestFileMissingPEM checks that an unreadable key file fails Config
// with the key named.
func TestFileMissingPEM(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "jwt:\n  issuers:\n    - issuer: https://a.example.com\n      public_key_file: missing.pem\n      audiences: [api]\n")
	_, err := config.Load(context.Background(), path, config.Options{})
	wantErr(t, err, path, "line 4: jwt.issuers[0].public_key_file: ", filepath.Join(dir, "missing.pem"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v is not os.ErrNotExist", err)
	}
	// A private key in the file is refused, not used.
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	if err := os.WriteFile(filepath.Join(dir, "missing.pem"), priv, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Load(context.Background(), path, config.Options{})
	wantErr(t, err, "jwt.issuers[0].public_key_file: ")
}

// TestFileInCode checks a File built in code: Config checks it,
// and zero values mean the defaults.
func TestFileInCode(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	f := &config.File{JWT: config.JWT{Issuers: []config.Issuer{{
		Issuer: iss.URL, JWKSURL: iss.JWKSURL, Audiences: []string{iss.Audience},
	}}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.ConfigParts(ctx, f, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.JWT.Leeway != 0 || cfg.JWT.MaxTokenBytes != 0 || cfg.JWT.Algorithms != nil || cfg.JWT.ScopeClaims != nil || cfg.Mode != "" {
		t.Errorf("zero values not kept: %+v", cfg)
	}
	if _, err := newFromConfig(t, cfg.Config).Verify(ctx, iss.Token(t, nil), ""); err != nil {
		t.Error(err)
	}

	f.JWT.Issuers[0].Audiences = nil
	_, err = f.Config(ctx, config.Options{})
	wantErr(t, err, "config: jwt.issuers[0].audiences: at least one audience")
	f.JWT.Issuers = nil
	_, err = f.Config(ctx, config.Options{})
	wantErr(t, err, "config: jwt.issuers: at least one issuer")
}

// pemKey is a key pair whose public half is written as a PEM file.
type pemKey struct{ priv *ecdsa.PrivateKey }

// writePEMKey generates a P-256 key pair and writes the public key as
// dir/issuer.pem (PKIX "PUBLIC KEY").
func writePEMKey(t *testing.T, dir string) pemKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "issuer.pem"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return pemKey{priv: priv}
}

// sign mints an ES256 token without kid for issuer and audience.
func (k pemKey) sign(t *testing.T, issuer, audience string) string {
	t.Helper()
	now := time.Now()
	raw, err := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": issuer, "aud": audience, "sub": "client", "iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
	}).SignedString(k.priv)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestFileMarshal checks that a File written back as YAML reads
// the same.
func TestFileMarshal(t *testing.T) {
	for _, name := range []string{"jwt.yaml", "discovery.yaml", "pem.yaml", "two-issuers.yaml"} {
		f, err := config.Read(filepath.Join(configDir, name))
		if err != nil {
			t.Fatal(err)
		}
		data, err := yaml.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		back, err := config.Parse(data)
		if err != nil {
			t.Fatalf("%s written back:\n%s\n%v", name, data, err)
		}
		if !reflect.DeepEqual(back.JWT, f.JWT) || back.Mode != f.Mode || back.Realm != f.Realm {
			t.Errorf("%s written back differs:\n%s", name, data)
		}
	}
}
