package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/keywardtest"
)

// testClientsFile is the test-only registry the credential samples use:
// acme / acme-secret (bcrypt), globex / globex-secret (argon2id), initech
// (disabled).
const testClientsFile = "../testdata/clients/clients.yaml"

// credentialBadFiles are the cases of TestFileBad for the
// credentials section and the modes that need it.
var credentialBadFiles = map[string][]string{
	"dual-no-credentials.yaml":       {"line 2: credentials: is required with mode dual", "clients_file or exchange"},
	"credentials-mode-jwt.yaml":      {"line 8: credentials.clients_file: needs mode credentials or dual, but mode is jwt (the default)", "mode: credentials or mode: dual"},
	"credentials-no-source.yaml":     {"line 3: credentials: needs a way to check secrets: exactly one of clients_file", "or exchange"},
	"credentials-two-sources.yaml":   {"line 8: credentials: sets clients_file and exchange; use exactly one"},
	"credentials-unknown-key.yaml":   {`line 4: unknown key "client_secret_headr" in credentials; did you mean "client_secret_header"?`},
	"exchange-no-issuers.yaml":       {"line 5: jwt.issuers: at least one issuer is required: the token credentials.exchange obtains is verified through them"},
	"dual-no-issuers.yaml":           {"line 2: jwt.issuers: at least one issuer is required: mode dual accepts Bearer tokens too"},
	"header-invalid.yaml":            {`line 5: credentials.client_id_header: "client id" is not a valid HTTP header name`},
	"header-same.yaml":               {`line 6: credentials.client_secret_header: "x-client" is also client_id_header (header names ignore case)`},
	"header-authorization.yaml":      {"line 5: credentials.client_secret_header: may not be Authorization"},
	"cache-ttl-short.yaml":           {"line 4: credentials.cache_ttl: 500ms is too short; the least is 1s"},
	"reload-interval-zero.yaml":      {"line 5: credentials.reload_interval: 0s is too short; the least is 1s"},
	"throttle-window-short.yaml":     {"line 5: credentials.throttle.window: 100ms is too short; the least is 1s"},
	"throttle-zero.yaml":             {"line 6: credentials.throttle.max_client_failures: 0 is outside 1 to 1000000"},
	"throttle-huge.yaml":             {"line 5: credentials.throttle.max_address_failures: 1000001 is outside 1 to 1000000"},
	"throttle-text.yaml":             {`line 5: credentials.throttle.max_client_failures: "ten" is not a whole number`},
	"basic-not-bool.yaml":            {`line 4: credentials.basic: "sometimes" is not true or false`},
	"exchange-style.yaml":            {`line 10: credentials.exchange.style: unknown style "header" (use basic, json or form)`},
	"exchange-insecure.yaml":         {`line 10: credentials.exchange.token_url: uses http:// for "auth.example.com", which is allowed only for loopback hosts`, "use https://"},
	"exchange-allow-insecure.yaml":   {"line 11: credentials.exchange.allow_insecure_http: is not supported for the token endpoint", "use an https:// token_url"},
	"exchange-no-token-url.yaml":     {"line 8: credentials.exchange.token_url: is required"},
	"exchange-param-reserved.yaml":   {"line 14: credentials.exchange.params.client_id: may not be set here: it is the caller's client id"},
	"exchange-param-number.yaml":     {"line 12: credentials.exchange.params.version: must be text, but YAML reads it as a number; quote the value"},
	"exchange-param-empty-name.yaml": {"line 10: credentials.exchange.params: a parameter name may not be empty"},
	"exchange-params-list.yaml":      {"line 10: credentials.exchange.params: must be a mapping of names to text", "not a list"},
	"exchange-scope.yaml":            {`line 10: credentials.exchange.scope: "bookings:read \"all\"" holds a character scopes may not contain`},
	"exchange-timeout-short.yaml":    {"line 10: credentials.exchange.timeout: 0s is too short; the least is 1s"},
	"exchange-reload-interval.yaml":  {"line 11: credentials.reload_interval: applies to clients_file only"},
}

// TestParseCredentialRules covers the rules of the credentials
// section that need no file of their own: edges, and what is allowed.
func TestParseCredentialRules(t *testing.T) {
	const (
		issuers = "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      jwks_url: https://auth.example.com/jwks\n      audiences: [api]\n"
		reg     = "mode: credentials\ncredentials:\n  clients_file: clients.yaml\n"
		ex      = "mode: dual\n" + issuers + "credentials:\n  exchange:\n    token_url: https://auth.example.com/token\n"
	)
	tests := []parseCase{
		{"credentials with clients_file needs no jwt", reg, nil},
		{"credentials with clients_file may have issuers", reg + issuers, nil},
		{"credentials with exchange and issuers", strings.Replace(ex, "mode: dual", "mode: credentials", 1), nil},
		{"dual with clients_file", "mode: dual\n" + issuers + "credentials:\n  clients_file: /etc/keyward/clients.yaml\n", nil},
		{"dual with exchange", ex, nil},
		{"trusted proxies", reg + "  trusted_proxies: [10.0.0.0/8, 192.0.2.1, \"2001:db8::/32\", \"::ffff:198.51.100.7\"]\n", nil},
		{"trusted proxy not an address", reg + "  trusted_proxies: [10.0.0.0/8, proxy.local]\n", []string{`line 4: credentials.trusted_proxies[1]: "proxy.local" is not an IP address or a CIDR range`}},
		{"trusted proxies not a list", reg + "  trusted_proxies: 10.0.0.0/8\n", []string{"credentials.trusted_proxies: must be a list"}},
		{"throttle redis", reg + "  throttle:\n    redis: {url: \"redis://127.0.0.1:6379/0\", key_prefix: \"api:\", timeout: 50ms}\n", nil},
		{"throttle redis without url", reg + "  throttle:\n    redis: {key_prefix: \"api:\"}\n", []string{"line 5: credentials.throttle.redis.url: is required"}},
		{"throttle redis bad scheme", reg + "  throttle:\n    redis: {url: \"http://127.0.0.1:6379\"}\n", []string{"credentials.throttle.redis.url:"}},
		{"throttle redis ca_file without TLS", reg + "  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\", ca_file: ca.pem}\n", []string{"credentials.throttle.redis.ca_file: applies to rediss:// URLs only"}},
		{"throttle redis timeout 0s", reg + "  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\", timeout: 0s}\n", []string{"credentials.throttle.redis.timeout: must be positive"}},
		{"throttle redis bound and replicas", reg + "  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\", max_counters: 5000, replicas: 3}\n", nil},
		{"throttle redis max_counters 1", reg + "  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\", max_counters: 1}\n", []string{"credentials.throttle.redis.max_counters: is 1; it needs at least 2"}},
		{"throttle redis negative replicas", reg + "  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\", replicas: -1}\n", []string{"credentials.throttle.redis.replicas: may not be negative"}},
		{"throttle redis unknown key", reg + "  throttle:\n    redis: {url: \"redis://x\", password: y}\n", []string{`unknown key "password" in credentials.throttle.redis`}},
		{"cors_preflight authenticate", "cors_preflight: authenticate\n" + reg, nil},
		{"cors_preflight bad", "cors_preflight: allow\n" + reg, []string{`line 1: cors_preflight: "allow" is neither pass nor authenticate`}},
		{"credentials section null", "mode: credentials\ncredentials:\n", []string{"line 1: credentials: is required with mode credentials"}},
		{"credentials section empty", "mode: credentials\ncredentials: {}\n", []string{"line 2: credentials: needs a way to check secrets"}},
		{"credentials is a list", "mode: credentials\ncredentials: [a]\n", []string{"line 2: credentials: must be a mapping of keys (client_id_header,"}},
		{"clients_file empty", "mode: credentials\ncredentials:\n  clients_file: ''\n", []string{"line 3: credentials.clients_file: may not be empty"}},
		{"explicit mode jwt", "mode: jwt\n" + issuers + "credentials:\n  clients_file: c.yaml\n", []string{"line 8: credentials.clients_file: needs mode credentials or dual, but mode is jwt; set mode"}},
		{"mode jwt with empty credentials", issuers + "credentials: {}\n", []string{"line 6: credentials is set but mode is jwt"}},
		{"mode jwt with null credentials", issuers + "credentials:\n", nil},
		{"mode dual without anything", "mode: dual\n", []string{"line 1: credentials: is required with mode dual"}},
		{"mode credentials without anything", "mode: credentials\n", []string{"line 1: credentials: is required with mode credentials"}},

		{"custom headers", reg + "  client_id_header: X-Client-Id\n  client_secret_header: X-Client-Secret\n", nil},
		{"headers swapped", reg + "  client_id_header: client_secret\n  client_secret_header: client_id\n", nil},
		{"id header equals default secret header", reg + "  client_id_header: Client_Secret\n", []string{`line 4: credentials.client_id_header: "Client_Secret" is also client_secret_header by default`}},
		{"secret header equals default id header", reg + "  client_secret_header: CLIENT_ID\n", []string{`line 4: credentials.client_secret_header: "CLIENT_ID" is also client_id_header by default`}},
		{"id header Authorization", reg + "  client_id_header: AUTHORIZATION\n", []string{"line 4: credentials.client_id_header: may not be Authorization"}},
		{"header with colon", reg + "  client_secret_header: 'x-secret:'\n", []string{`line 4: credentials.client_secret_header: "x-secret:" is not a valid HTTP header name`}},
		{"header non-ASCII", reg + "  client_id_header: clïent\n", []string{"credentials.client_id_header: ", "is not a valid HTTP header name"}},
		{"header empty", reg + "  client_id_header: ''\n", []string{"line 4: credentials.client_id_header: may not be empty; omit it for the default, client_id"}},
		{"header a list", reg + "  client_id_header: [a]\n", []string{"line 4: credentials.client_id_header: must be a single value"}},
		{"basic false", reg + "  basic: false\n", nil},

		{"durations 1s", reg + "  cache_ttl: 1s\n  reload_interval: 1s\n  throttle:\n    window: 1s\n", nil},
		{"cache_ttl 999ms", reg + "  cache_ttl: 999ms\n", []string{"line 4: credentials.cache_ttl: 999ms is too short"}},
		{"cache_ttl negative", reg + "  cache_ttl: -5m\n", []string{"line 4: credentials.cache_ttl: -5m0s is too short"}},
		{"cache_ttl bare number", reg + "  cache_ttl: 300\n", []string{`line 4: credentials.cache_ttl: "300" is not a duration`}},
		{"reload_interval 0s", reg + "  reload_interval: 0s\n", []string{"line 4: credentials.reload_interval: 0s is too short; the least is 1s"}},
		{"throttle bounds", reg + "  throttle:\n    max_client_failures: 1\n    max_address_failures: 1000000\n", nil},
		{"throttle negative", reg + "  throttle:\n    max_address_failures: -1\n", []string{"line 5: credentials.throttle.max_address_failures: -1 is outside 1 to 1000000"}},
		{"throttle unknown key", reg + "  throttle:\n    max_address_failure: 5\n", []string{`line 5: unknown key "max_address_failure" in credentials.throttle; did you mean "max_address_failures"?`}},
		{"throttle null", reg + "  throttle:\n", nil},

		{"token_url loopback http", strings.Replace(ex, "https://auth.example.com/token", "http://127.0.0.1:9000/token", 1), nil},
		{"token_url IPv6 loopback http", strings.Replace(ex, "https://auth.example.com/token", "http://[::1]:9000/token", 1), nil},
		{"token_url localhost http", strings.Replace(ex, "https://auth.example.com/token", "http://localhost/token", 1), nil},
		{"token_url with query", strings.Replace(ex, "https://auth.example.com/token", "https://auth.example.com/token?tenant=a", 1), nil},
		{"token_url user info", strings.Replace(ex, "https://auth.example.com/token", "https://api@auth.example.com/token", 1), []string{"line 9: credentials.exchange.token_url: may not contain user info"}},
		{"token_url password", strings.Replace(ex, "https://auth.example.com/token", "https://api:s3cr3t@auth.example.com/token", 1), []string{"credentials.exchange.token_url: may not contain user info"}},
		{"token_url relative", strings.Replace(ex, "https://auth.example.com/token", "/oauth/token", 1), []string{"line 9: credentials.exchange.token_url: must be an absolute https:// URL with a host"}},
		{"token_url ftp", strings.Replace(ex, "https://auth.example.com/token", "ftp://auth.example.com/token", 1), []string{"line 9: credentials.exchange.token_url: must be an https:// URL"}},
		{"token_url http private address", strings.Replace(ex, "https://auth.example.com/token", "http://10.0.0.1/token", 1), []string{`credentials.exchange.token_url: uses http:// for "10.0.0.1"`}},
		{"allow_insecure_http false", ex + "    allow_insecure_http: false\n", nil},
		{"allow_insecure_http true with https", ex + "    allow_insecure_http: true\n", []string{"line 10: credentials.exchange.allow_insecure_http: is not supported"}},
		{"exchange empty", "mode: dual\n" + issuers + "credentials:\n  exchange: {}\n", []string{"line 8: credentials.exchange.token_url: is required"}},
		{"exchange unknown key", ex + "    tokenurl: x\n", []string{`line 10: unknown key "tokenurl" in credentials.exchange; did you mean "token_url"?`}},
		{"style basic", ex + "    style: basic\n", nil},
		{"style json", ex + "    style: json\n", nil},
		{"style form", ex + "    style: form\n", nil},
		{"style is case-sensitive", ex + "    style: Form\n", []string{`line 10: credentials.exchange.style: unknown style "Form"`}},
		{"scope", ex + "    scope: bookings:read reports:read\n", nil},
		{"scope non-ASCII", ex + "    scope: réservations\n", []string{"line 10: credentials.exchange.scope: ", "holds a character scopes may not contain"}},
		{"timeout 1s", ex + "    timeout: 1s\n", nil},
		{"timeout 999ms", ex + "    timeout: 999ms\n", []string{"line 10: credentials.exchange.timeout: 999ms is too short"}},
		{"params", ex + "    params:\n      response_type: token\n      audience: 'https://api.example.com'\n      version: '2'\n      empty: ''\n", nil},
		{"params flow style", ex + "    params: {response_type: token}\n", nil},
		{"params value alias", ex + "    scope: &s bookings:read\n    params: {response_type: *s}\n", nil},
		{"params grant_type", ex + "    params: {grant_type: password}\n", []string{"line 10: credentials.exchange.params.grant_type: may not be set here: it is always client_credentials"}},
		{"params client_secret", ex + "    params: {client_secret: x}\n", []string{"line 10: credentials.exchange.params.client_secret: may not be set here"}},
		{"params scope", ex + "    params: {scope: x}\n", []string{"line 10: credentials.exchange.params.scope: may not be set here: use the scope setting (Client.Scope; credentials.exchange.scope in a configuration file)"}},
		{"params value bool", ex + "    params:\n      offline: true\n", []string{"line 11: credentials.exchange.params.offline: must be text, but YAML reads it as true or false; quote the value"}},
		{"params value float", ex + "    params:\n      v: 1.0\n", []string{"line 11: credentials.exchange.params.v: must be text, but YAML reads it as a number"}},
		{"params value null", ex + "    params:\n      v:\n", []string{`line 11: credentials.exchange.params.v: needs a value (write "" for an empty one)`}},
		{"params value list", ex + "    params:\n      v: [a, b]\n", []string{"line 11: credentials.exchange.params.v: must be a single value, not a list"}},
		{"params value mapping", ex + "    params:\n      v: {a: b}\n", []string{"line 11: credentials.exchange.params.v: must be a single value, not a mapping"}},
		{"params duplicate", ex + "    params:\n      v: a\n      v: b\n", []string{"line 12: credentials.exchange.params.v: is set twice (first at line 11)"}},
		{"params scalar", ex + "    params: response_type=token\n", []string{"line 10: credentials.exchange.params: must be a mapping of names to text", "not a single value"}},
		{"params merge key", ex + "    params:\n      <<: {a: b}\n", []string{"line 11: credentials.exchange.params: merge keys (<<) are not supported"}},
	}
	runParseCases(t, tests)
}

// TestFileCredentialErrorsQuoteLittle checks that errors about the
// credentials section never quote exchange parameter values, which may be
// confidential, nor much of anything else.
func TestFileCredentialErrorsQuoteLittle(t *testing.T) {
	const secret = "s3cr3t-param-value"
	long := strings.Repeat("s3cr3t", 100)
	head := "mode: dual\njwt:\n  issuers: [{issuer: x, jwks_url: 'https://a/', audiences: [a]}]\ncredentials:\n  exchange:\n    token_url: https://a/token\n"
	for name, text := range map[string]string{
		"reserved param":     head + "    params: {api_key: " + secret + ", client_id: x}\n",
		"param not text":     head + "    params: {api_key: 123456789012}\n",
		"long param name":    head + "    params: {" + long + ": 1}\n",
		"long header":        "mode: credentials\ncredentials:\n  clients_file: c\n  client_id_header: '" + long + " '\n",
		"long style":         head + "    style: " + long + "\n",
		"long scope":         head + "    scope: '\"" + long + "'\n",
		"token_url password": strings.Replace(head, "https://a/token", "https://u:"+secret+"@a/token", 1),
	} {
		_, err := config.Parse([]byte(text))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "123456789012") {
			t.Errorf("%s: error quotes a parameter value or password: %q", name, err)
		}
		if strings.Count(err.Error(), "s3cr3t") > 10 || len(err.Error()) > 300 {
			t.Errorf("%s: error quotes too much: %q", name, err)
		}
	}
}

// TestFileCredentialSamples parses the credential samples of
// testdata/config into the expected structures.
func TestFileCredentialSamples(t *testing.T) {
	yes, no := true, false
	sec := func(d time.Duration) config.Duration { return config.Duration(d) }
	loopback := config.JWT{Issuers: []config.Issuer{{
		Issuer:    "http://127.0.0.1:9000",
		JWKSURL:   "http://127.0.0.1:9000/.well-known/jwks.json",
		Audiences: []string{"bookings-api"},
	}}}
	tests := map[string]struct {
		mode dualauth.Mode
		jwt  config.JWT
		cred config.Credentials
	}{
		"credentials.yaml": {
			mode: dualauth.ModeCredentials,
			cred: config.Credentials{
				ClientIDHeader:     "client_id",
				ClientSecretHeader: "client_secret",
				Basic:              &yes,
				ClientsFile:        "../clients/clients.yaml",
				CacheTTL:           sec(5 * time.Minute),
				ReloadInterval:     sec(5 * time.Second),
				Throttle:           config.Throttle{MaxClientFailures: 10, MaxAddressFailures: 50, Window: sec(time.Minute)},
			},
		},
		"dual.yaml": {
			mode: dualauth.ModeDual,
			jwt:  loopback,
			cred: config.Credentials{ClientsFile: "../clients/clients.yaml", ReloadInterval: sec(2 * time.Second)},
		},
		"exchange.yaml": {
			mode: dualauth.ModeDual,
			jwt:  loopback,
			cred: config.Credentials{
				ClientIDHeader:     "client_id",
				ClientSecretHeader: "client_secret",
				Basic:              &no,
				Exchange: &config.Exchange{
					TokenURL: "http://127.0.0.1:9000/connect/token",
					Style:    exchange.StyleForm,
					Scope:    "bookings:read",
					Params:   map[string]string{"response_type": "token"},
					Timeout:  sec(5 * time.Second),
				},
				CacheTTL: sec(10 * time.Minute),
				Throttle: config.Throttle{MaxClientFailures: 5, MaxAddressFailures: 20, Window: sec(30 * time.Second)},
			},
		},
		"quickstart-dual.yaml": {
			mode: dualauth.ModeDual,
			jwt: config.JWT{Issuers: []config.Issuer{{
				Issuer:        "https://issuer.quickstart.test",
				PublicKeyFile: "../keys/quickstart_public.pem",
				Audiences:     []string{"bookings-api"},
			}}},
			cred: config.Credentials{ClientsFile: "../clients/clients.yaml"},
		},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			f, err := config.Read(filepath.Join(configDir, name))
			if err != nil {
				t.Fatal(err)
			}
			if f.Mode != want.mode || f.Realm != "bookings-api" {
				t.Errorf("mode %q realm %q", f.Mode, f.Realm)
			}
			if !reflect.DeepEqual(f.JWT, want.jwt) {
				t.Errorf("jwt section\n got %+v\nwant %+v", f.JWT, want.jwt)
			}
			if f.Credentials == nil {
				t.Fatal("no credentials section")
			}
			if !reflect.DeepEqual(*f.Credentials, want.cred) {
				t.Errorf("credentials section\n got %+v\nwant %+v", *f.Credentials, want.cred)
			}
			// Written back as YAML, it reads the same.
			data, err := yaml.Marshal(f)
			if err != nil {
				t.Fatal(err)
			}
			back, err := config.Parse(data)
			if err != nil {
				t.Fatalf("written back:\n%s\n%v", data, err)
			}
			if back.Mode != f.Mode || !reflect.DeepEqual(back.JWT, f.JWT) || !reflect.DeepEqual(back.Credentials, f.Credentials) {
				t.Errorf("written back differs:\n%s", data)
			}
		})
	}
}

// headerRequest is a request with the client id and secret in the
// client_id and client_secret headers.
func headerRequest(id, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/bookings", nil)
	r.Header.Set("client_id", id)
	r.Header.Set("client_secret", secret)
	return r
}

// basicRequest is a request with the client id and secret in HTTP Basic.
func basicRequest(id, secret string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/bookings", nil)
	r.SetBasicAuth(id, secret)
	return r
}

// bearerRequest is a request with a Bearer token.
func bearerRequest(token string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/v1/bookings", nil)
	r.Header.Set("Authorization", "Bearer "+token)
	return r
}

// wantCaller checks that r authenticates as a caller of method and client.
func wantCaller(t *testing.T, a *dualauth.Authenticator, r *http.Request, method dualauth.Method, client string, scopes ...string) *dualauth.Principal {
	t.Helper()
	p, err := a.Authenticate(r)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	if p.Method != method || p.ClientID != client {
		t.Fatalf("principal %+v, want method %q client %q", p, method, client)
	}
	for _, s := range scopes {
		if !p.Scopes.Has(s) {
			t.Errorf("principal lacks scope %q: %v", s, p.Scopes)
		}
	}
	return p
}

// wantRefused checks that r is refused with status and code.
func wantRefused(t *testing.T, a *dualauth.Authenticator, r *http.Request, status int, code string) {
	t.Helper()
	p, err := a.Authenticate(r)
	if err == nil {
		t.Fatalf("accepted as %+v; want %d %q", p, status, code)
	}
	var e *dualauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *dualauth.Error", err, err)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("refused with %d %q (%v), want %d %q", e.Status, e.Code, err, status, code)
	}
}

// copySample writes the sample config name into a temporary directory with
// the replacements applied (old, new, old, new...) and clients_file made
// absolute, and returns its path.
func copySample(t *testing.T, name string, replace ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(configDir, name))
	if err != nil {
		t.Fatal(err)
	}
	abs, err := filepath.Abs(testClientsFile)
	if err != nil {
		t.Fatal(err)
	}
	replace = append(replace, "clients_file: ../clients/clients.yaml", "clients_file: "+abs)
	text := strings.NewReplacer(replace...).Replace(string(data))
	return writeConfig(t, t.TempDir(), text)
}

// TestFileCredentialsEndToEnd builds credentials.yaml and
// authenticates the registry's clients with headers and with Basic.
func TestFileCredentialsEndToEnd(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(configDir, "credentials.yaml"))
	if cfg.Mode != dualauth.ModeCredentials || len(cfg.JWT.Issuers) != 0 {
		t.Errorf("mode %q, %d issuers", cfg.Mode, len(cfg.JWT.Issuers))
	}
	c := cfg.Clients
	if c.Verifier == nil || c.Exchange != nil {
		t.Fatalf("verifier %v exchange %v", c.Verifier, c.Exchange)
	}
	if _, ok := c.Verifier.(interface{ Generation() uint64 }); !ok {
		t.Errorf("verifier %T does not report generations, so the cache would outlive reloads", c.Verifier)
	}
	if cfg.ClientIDHeader != "client_id" || cfg.ClientSecretHeader != "client_secret" || cfg.DisableBasic {
		t.Errorf("headers %q and %q, DisableBasic %v", cfg.ClientIDHeader, cfg.ClientSecretHeader, cfg.DisableBasic)
	}
	got := c
	got.Verifier, got.Logger = nil, nil
	want := clientauth.Config{
		CacheTTL: 5 * time.Minute,
		Throttle: clientauth.Throttle{MaxClientFailures: 10, MaxAddrFailures: 50, Window: time.Minute},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("credentials\n got %+v\nwant %+v", got, want)
	}

	a := newFromConfig(t, cfg.Config)
	wantCaller(t, a, headerRequest("globex", "globex-secret"), dualauth.MethodCredentials, "globex", "bookings:read", "bookings:create")
	wantCaller(t, a, basicRequest("globex", "globex-secret"), dualauth.MethodCredentials, "globex", "bookings:read")
	wantCaller(t, a, basicRequest("acme", "acme-secret"), dualauth.MethodCredentials, "acme", "reports:read")
	wantRefused(t, a, headerRequest("globex", "acme-secret"), http.StatusUnauthorized, dualauth.CodeInvalidClient)
	wantRefused(t, a, headerRequest("initech", "initech-secret"), http.StatusUnauthorized, dualauth.CodeInvalidClient)
	wantRefused(t, a, headerRequest("nobody", "globex-secret"), http.StatusUnauthorized, dualauth.CodeInvalidClient)
	// Mode credentials takes no Bearer token, not even a well-formed one.
	iss := keywardtest.NewIssuer(t)
	wantRefused(t, a, bearerRequest(iss.Token(t, nil)), http.StatusUnauthorized, "")
}

// TestFileCredentialsBasicOff checks basic: false and custom header
// names.
func TestFileCredentialsBasicOff(t *testing.T) {
	abs, err := filepath.Abs(testClientsFile)
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, t.TempDir(), "mode: credentials\ncredentials:\n  clients_file: "+abs+
		"\n  basic: false\n  client_id_header: X-Client-Id\n  client_secret_header: X-Client-Secret\n")
	cfg := loadConfig(t, path)
	if !cfg.DisableBasic {
		t.Error("basic: false did not set DisableBasic")
	}
	a := newFromConfig(t, cfg.Config)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("X-Client-Id", "acme")
	r.Header.Set("X-Client-Secret", "acme-secret")
	wantCaller(t, a, r, dualauth.MethodCredentials, "acme")
	wantRefused(t, a, basicRequest("acme", "acme-secret"), http.StatusUnauthorized, "")
	wantRefused(t, a, headerRequest("acme", "acme-secret"), http.StatusUnauthorized, "")
}

// TestFileDualEndToEnd builds dual.yaml, pointed at a real issuer,
// and accepts both a Bearer token and client credentials.
func TestFileDualEndToEnd(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	path := copySample(t, "dual.yaml", "http://127.0.0.1:9000", iss.URL, "[bookings-api]", "[bookings-api, "+iss.Audience+"]")
	cfg := loadConfig(t, path)
	if cfg.Mode != dualauth.ModeDual || len(cfg.JWT.Issuers) != 1 || cfg.Clients.Verifier == nil {
		t.Fatalf("config %+v", cfg)
	}
	a := newFromConfig(t, cfg.Config)
	p := wantCaller(t, a, bearerRequest(iss.Token(t, jwt.MapClaims{"client_id": "tokens", "scope": "reports:read"})), dualauth.MethodJWT, "tokens", "reports:read")
	if p.Issuer != iss.URL {
		t.Errorf("issuer %q", p.Issuer)
	}
	wantCaller(t, a, headerRequest("globex", "globex-secret"), dualauth.MethodCredentials, "globex", "bookings:create")
	wantCaller(t, a, basicRequest("acme", "acme-secret"), dualauth.MethodCredentials, "acme", "bookings:read")
	wantRefused(t, a, headerRequest("acme", "globex-secret"), http.StatusUnauthorized, dualauth.CodeInvalidClient)
	wantRefused(t, a, bearerRequest(iss.Token(t, jwt.MapClaims{"aud": "other"})), http.StatusUnauthorized, dualauth.CodeInvalidToken)
}

// TestFileQuickstartDual builds quickstart-dual.yaml, the config the
// examples can run with to show both methods.
func TestFileQuickstartDual(t *testing.T) {
	cfg := loadConfig(t, filepath.Join(configDir, "quickstart-dual.yaml"))
	a := newFromConfig(t, cfg.Config)
	if a.Mode() != dualauth.ModeDual {
		t.Errorf("mode %q", a.Mode())
	}
	if _, err := a.ForMode(dualauth.ModeDual); err != nil {
		t.Errorf("does not serve mode dual: %v", err)
	}
	wantCaller(t, a, headerRequest("acme", "acme-secret"), dualauth.MethodCredentials, "acme", "bookings:read")
	wantCaller(t, a, basicRequest("acme", "acme-secret"), dualauth.MethodCredentials, "acme", "bookings:read")
}

// TestFileExchangeEndToEnd builds exchange.yaml, pointed at a real
// issuer and a form-style token endpoint, and authenticates a client whose
// credentials the endpoint trades for a token.
func TestFileExchangeEndToEnd(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	var calls atomic.Int64
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		f := r.PostForm
		if f.Get("grant_type") != "client_credentials" || f.Get("response_type") != "token" || f.Get("scope") != "bookings:read" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_request"}`))
			return
		}
		if f.Get("client_id") != "globex" || f.Get("client_secret") != "globex-secret" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type":   "Bearer",
			"access_token": iss.Token(t, jwt.MapClaims{"client_id": "globex", "sub": "globex", "scope": "bookings:read"}),
			"expires_in":   900,
		})
	}))
	t.Cleanup(endpoint.Close)
	path := copySample(t, "exchange.yaml",
		"http://127.0.0.1:9000/connect/token", endpoint.URL+"/connect/token",
		"http://127.0.0.1:9000", iss.URL,
		"[bookings-api]", "["+iss.Audience+"]")
	cfg := loadConfig(t, path)
	ex := cfg.Clients.Exchange
	if ex == nil || cfg.Clients.Verifier != nil {
		t.Fatalf("credentials %+v", cfg.Clients)
	}
	want := &exchange.Client{
		TokenURL: endpoint.URL + "/connect/token",
		Style:    exchange.StyleForm,
		Scope:    "bookings:read",
		Params:   url.Values{"response_type": {"token"}},
		Timeout:  5 * time.Second,
	}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("exchange client\n got %+v\nwant %+v", ex, want)
	}
	if !cfg.DisableBasic || cfg.Clients.CacheTTL != 10*time.Minute {
		t.Errorf("credentials %+v", cfg.Clients)
	}

	a := newFromConfig(t, cfg.Config)
	for range 2 {
		p := wantCaller(t, a, headerRequest("globex", "globex-secret"), dualauth.MethodCredentials, "globex", "bookings:read")
		if p.Issuer != iss.URL {
			t.Errorf("issuer %q", p.Issuer)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("token endpoint called %d times for 2 requests, want 1 (the second is cached)", n)
	}
	wantRefused(t, a, headerRequest("globex", "wrong"), http.StatusUnauthorized, dualauth.CodeInvalidClient)
	// basic: false in the sample.
	wantRefused(t, a, basicRequest("globex", "globex-secret"), http.StatusUnauthorized, "")
	// Dual: the issuer's own tokens are accepted too.
	wantCaller(t, a, bearerRequest(iss.Token(t, jwt.MapClaims{"client_id": "direct"})), dualauth.MethodJWT, "direct")
}

// argon2Hash hashes secret with the cheapest Argon2id parameters a
// registry accepts.
func argon2Hash(t *testing.T, secret string) string {
	t.Helper()
	h, err := clients.HashSecret(secret, clients.HashParams{
		Algorithm: clients.AlgArgon2id,
		Argon2:    clients.Argon2Params{Memory: clients.MinArgon2Memory, Time: 1, Threads: 1},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// replaceFile writes data to path through a rename, so that a watcher never
// reads it half written.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestFileClientsReload checks that Config keeps the registry in step
// with its file: a client disabled in the file is refused once the watcher
// has reloaded it, though its good credentials were cached.
func TestFileClientsReload(t *testing.T) {
	dir := t.TempDir()
	replaceFile(t, filepath.Join(dir, "clients.yaml"), globexRegistry(t, false))
	// clients_file is relative to the configuration file's directory.
	path := writeConfig(t, dir, "mode: credentials\ncredentials:\n  clients_file: clients.yaml\n  reload_interval: 1s\n  cache_ttl: 1h\n")
	t.Chdir(t.TempDir())
	cfg, reloads := loadWatched(t, path, config.Options{})
	a := newFromConfig(t, cfg.Config)
	wantCaller(t, a, headerRequest("globex", "globex-secret"), dualauth.MethodCredentials, "globex")

	replaceFile(t, filepath.Join(dir, "clients.yaml"), globexRegistry(t, true))
	// The file watcher, polling every 1s, reports the reload.
	if err := nextReload(t, reloads); err != nil {
		t.Fatalf("reload: %v", err)
	}
	wantRefused(t, a, headerRequest("globex", "globex-secret"), http.StatusUnauthorized, dualauth.CodeInvalidClient)
}

// globexRegistry is a registry file with the client globex, disabled or not.
func globexRegistry(t *testing.T, disabled bool) []byte {
	hash := argon2Hash(t, "globex-secret")
	return []byte("clients:\n  - client_id: globex\n    secret_hash: \"" + hash + "\"\n    scopes: [bookings:read]\n" +
		"    disabled: " + map[bool]string{true: "true", false: "false"}[disabled] + "\n")
}

// loadWatched loads the configuration file at path as Load does, with its
// clients registry reporting every reload attempt on the returned channel.
// What it started is closed when the test ends.
func loadWatched(t *testing.T, path string, opts config.Options) (config.Parts, <-chan error) {
	t.Helper()
	f, err := config.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	reloads := make(chan error, 100)
	config.OnClientsReload(f, func(err error) { reloads <- err })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, err := config.ConfigParts(ctx, f, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { closeConfig(t, cfg) })
	return cfg, reloads
}

// nextReload waits for the next reload report.
func nextReload(t *testing.T, reloads <-chan error) error {
	t.Helper()
	select {
	case err := <-reloads:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no reload of the clients file within 10s")
		return nil
	}
}

// TestFileClientsFileErrors checks that a missing or broken clients
// file fails Config (not Parse), naming the key and line and
// carrying the clients package's message.
func TestFileClientsFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "mode: credentials\nrealm: api\ncredentials:\n  clients_file: missing.yaml\n")
	if _, err := config.Read(path); err != nil {
		t.Fatalf("Read does no I/O on clients_file, yet: %v", err)
	}
	_, err := config.Load(context.Background(), path, config.Options{})
	wantErr(t, err, "config: "+path+": line 4: credentials.clients_file: clients: ", filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v is not os.ErrNotExist", err)
	}

	// A registry with a plaintext secret: refused, and the secret not repeated.
	bad, err := filepath.Abs(filepath.Join("..", "testdata", "clients", "bad", "plaintext-secret.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	path = writeConfig(t, dir, "mode: dual\njwt:\n  issuers:\n    - issuer: https://a.example.com\n      public_key_file: missing.pem\n      audiences: [api]\ncredentials:\n  clients_file: "+bad+"\n")
	_, err = config.Load(context.Background(), path, config.Options{})
	wantErr(t, err, "line 8: credentials.clients_file: clients: "+bad)
	if strings.Contains(err.Error(), "acme-secret") {
		t.Errorf("error repeats the plaintext secret: %v", err)
	}
}

// TestFileCredentialsInCode checks a File with credentials
// built in code: Config checks it.
func TestFileCredentialsInCode(t *testing.T) {
	abs, err := filepath.Abs(testClientsFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &config.File{Mode: dualauth.ModeCredentials, Credentials: &config.Credentials{ClientsFile: abs}}
	cfg, err := config.ConfigParts(ctx, f, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Clients
	if c.Verifier == nil || cfg.ClientIDHeader != "" || cfg.DisableBasic || c.CacheTTL != 0 || c.Throttle != (clientauth.Throttle{}) {
		t.Errorf("zero values not kept: %+v", c)
	}
	wantCaller(t, newFromConfig(t, cfg.Config), basicRequest("acme", "acme-secret"), dualauth.MethodCredentials, "acme")

	for _, tt := range []struct {
		edit func(*config.File)
		want string
	}{
		{func(f *config.File) { f.Credentials.CacheTTL = -1 }, "config: credentials.cache_ttl: -1ns is too short"},
		{func(f *config.File) { f.Credentials.Throttle.MaxAddressFailures = -3 }, "config: credentials.throttle.max_address_failures: -3 is outside 1 to 1000000"},
		{func(f *config.File) { f.Mode = "" }, "config: credentials.clients_file: needs mode credentials or dual, but mode is jwt (the default)"},
		{func(f *config.File) { f.Credentials = nil }, "config: credentials: is required with mode credentials"},
		{func(f *config.File) {
			f.Credentials.Exchange = &config.Exchange{TokenURL: "https://a.example.com/token"}
		}, "config: credentials: sets clients_file and exchange"},
		{func(f *config.File) {
			f.Credentials = &config.Credentials{Exchange: &config.Exchange{TokenURL: "https://a.example.com/token"}}
		}, "config: jwt.issuers: at least one issuer is required: the token credentials.exchange obtains"},
		{func(f *config.File) {
			f.Mode = dualauth.ModeDual
			f.JWT.Issuers = []config.Issuer{{Issuer: "https://a.example.com", PublicKeyFile: "x.pem", Audiences: []string{"api"}}}
			f.Credentials = &config.Credentials{Exchange: &config.Exchange{TokenURL: "https://a.example.com/token", Params: map[string]string{"grant_type": "x"}}}
		}, "config: credentials.exchange.params.grant_type: may not be set here"},
	} {
		f := &config.File{Mode: dualauth.ModeCredentials, Credentials: &config.Credentials{ClientsFile: abs}}
		tt.edit(f)
		_, err := f.Config(ctx, config.Options{})
		wantErr(t, err, tt.want)
	}
}

// TestFileBooleansArePlain: only a plain true or false sets a boolean.
func TestFileBooleansArePlain(t *testing.T) {
	base := "mode: credentials\ncredentials:\n  clients_file: c.yaml\n  basic: %s\n"
	for value, ok := range map[string]bool{"true": true, "false": true, `"true"`: false, `"yes"`: false, "yes": false, "off": false, `'off'`: false, "1": false} {
		_, err := config.Parse([]byte(fmt.Sprintf(base, value)))
		if (err == nil) != ok {
			t.Errorf("basic: %s: err = %v, want accepted %v", value, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "credentials.basic") {
			t.Errorf("basic: %s: error %q does not name the key", value, err)
		}
	}
}

// TestRedisThrottleKeys: max_counters and replicas reach dualauth.
func TestRedisThrottleKeys(t *testing.T) {
	dir := t.TempDir()
	clientsYAML, err := os.ReadFile("../testdata/clients/clients.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "clients.yaml"), clientsYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := loadConfig(t, writeConfig(t, dir, "mode: credentials\ncredentials:\n  clients_file: clients.yaml\n  throttle:\n    redis: {url: \"redis://127.0.0.1:1/0\", max_counters: 5000, replicas: 3}\n"))
	r := cfg.Clients.Throttle.Redis
	if r == nil || r.MaxCounters != 5000 || r.Replicas != 3 {
		t.Fatalf("Throttle.Redis = %+v, want MaxCounters 5000 and Replicas 3", r)
	}
}
