package config_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// TestParseIntrospectionRules covers every key of an issuer's
// introspection section, and the credentials section of mode jwt that
// tunes the throttle of guessed opaque tokens: what is allowed, and each
// error at its line and key.
func TestParseIntrospectionRules(t *testing.T) {
	const (
		issuer = "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      audiences: [api]\n"
		keys   = "      jwks_url: https://auth.example.com/jwks\n"
		// Lines 5 and 6 of an opaque-only issuer: the section and its endpoint.
		intro = "      introspection:\n        endpoint: https://auth.example.com/introspect\n        client_id: keyward-rs\n        client_secret_file: rs.secret\n"
		// Line 9 on.
		opaque = issuer + intro
		second = "    - issuer: https://partner.example.com\n      audiences: [api]\n      introspection:\n        endpoint: https://partner.example.com/introspect\n        client_id: rs\n        client_secret_file: partner.secret\n"
	)
	withEndpoint := func(url string) string {
		return strings.Replace(opaque, "https://auth.example.com/introspect", url, 1)
	}
	tests := []parseCase{
		{"opaque tokens only", opaque, nil},
		{"with a key set", issuer + keys + intro, nil},
		{"with a public key file", issuer + "      public_key_file: k.pem\n" + intro, nil},
		{"every key", opaque + "        auth_method: client_secret_post\n        token_prefix: ory_at_\n        timeout: 500ms\n        introspect_jwts: true\n        cache: {enabled: true, max_ttl: 1m, negative_ttl: 1s, max_entries: 1}\n", nil},
		{"client_secret_basic", opaque + "        auth_method: client_secret_basic\n", nil},
		{"empty token_prefix with one issuer", opaque + "        token_prefix: \"\"\n", nil},
		{"cache off", opaque + "        cache:\n          enabled: false\n", nil},
		{"discovery gives the endpoint", "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      discovery: true\n      audiences: [api]\n      introspection:\n        client_id: rs\n        client_secret_file: rs.secret\n", nil},
		{"http loopback endpoint", withEndpoint("http://127.0.0.1:9000/oauth/introspect"), nil},
		{"http localhost endpoint", withEndpoint("http://localhost:4445/admin/oauth2/introspect"), nil},
		{"endpoint with a query", withEndpoint("https://auth.example.com/introspect?tenant=a"), nil},
		{"two issuers with prefixes", opaque + "        token_prefix: a_\n" + second + "        token_prefix: b_\n", nil},
		{"two issuers, one introspecting", issuer + keys + "    - issuer: https://b.example.com\n      audiences: [api]\n      introspection:\n        endpoint: https://b.example.com/i\n        client_id: rs\n        client_secret_file: s\n", nil},

		{"no key source, no introspection", issuer, []string{"line 3: jwt.issuers[0]: needs a key source", "or, for an issuer whose tokens are all opaque, an introspection section"}},
		{"discovery over http allowed for keys only", "jwt:\n  issuers:\n    - issuer: http://auth.internal\n      discovery: true\n      allow_insecure_http: true\n      audiences: [api]\n      introspection:\n        client_id: rs\n        client_secret_file: rs.secret\n", []string{"line 7: jwt.issuers[0].introspection: needs an endpoint: the issuer's metadata is on http:// at a host that is not loopback"}},
		{"discovery over http with an https endpoint", "jwt:\n  issuers:\n    - issuer: http://auth.internal\n      discovery: true\n      allow_insecure_http: true\n      audiences: [api]\n      introspection:\n        endpoint: https://auth.internal/introspect\n        client_id: rs\n        client_secret_file: rs.secret\n", nil},
		{"discovery over http loopback", "jwt:\n  issuers:\n    - issuer: http://127.0.0.1:9000\n      discovery: true\n      audiences: [api]\n      introspection:\n        client_id: rs\n        client_secret_file: rs.secret\n", nil},
		{"no endpoint without discovery", issuer + "      introspection:\n        client_id: rs\n        client_secret_file: s\n", []string{"line 5: jwt.issuers[0].introspection: needs an endpoint: set endpoint, or discovery: true"}},
		{"empty endpoint", withEndpoint("''"), []string{"line 6: jwt.issuers[0].introspection.endpoint: may not be empty"}},
		{"http endpoint", withEndpoint("http://auth.example.com/introspect"), []string{`line 6: jwt.issuers[0].introspection.endpoint: uses http:// for "auth.example.com"`, "allow_insecure_http does not apply"}},
		{"http endpoint with allow_insecure_http", strings.Replace(withEndpoint("http://auth.internal/introspect"), "audiences: [api]\n", "audiences: [api]\n      jwks_url: http://auth.internal/jwks\n      allow_insecure_http: true\n", 1), []string{`line 8: jwt.issuers[0].introspection.endpoint: uses http:// for "auth.internal"`}},
		{"endpoint user info", withEndpoint("https://rs@auth.example.com/introspect"), []string{"line 6: jwt.issuers[0].introspection.endpoint: may not contain user info"}},
		{"endpoint password", withEndpoint("https://rs:pw@auth.example.com/introspect"), []string{"line 6: jwt.issuers[0].introspection.endpoint: may not contain"}},
		{"endpoint relative", withEndpoint("/introspect"), []string{"line 6: jwt.issuers[0].introspection.endpoint: must be an absolute https:// URL with a host"}},
		{"endpoint ftp", withEndpoint("ftp://auth.example.com/introspect"), []string{"line 6: jwt.issuers[0].introspection.endpoint: must be an https:// URL"}},
		{"no client_id", strings.Replace(opaque, "        client_id: keyward-rs\n", "", 1), []string{"line 5: jwt.issuers[0].introspection.client_id: is required"}},
		{"empty client_id", strings.Replace(opaque, "client_id: keyward-rs", "client_id: ''", 1), []string{"line 7: jwt.issuers[0].introspection.client_id: is required"}},
		{"no client_secret_file", strings.Replace(opaque, "        client_secret_file: rs.secret\n", "", 1), []string{"line 5: jwt.issuers[0].introspection.client_secret_file: is required: a file whose first line"}},
		{"empty client_secret_file", strings.Replace(opaque, "client_secret_file: rs.secret", "client_secret_file: ''", 1), []string{"line 8: jwt.issuers[0].introspection.client_secret_file: may not be empty"}},
		{"client_secret inline", opaque + "        client_secret: hunter2\n", []string{`line 9: unknown key "client_secret" in jwt.issuers[0].introspection`, "client_secret_file"}},
		{"auth_method unknown", opaque + "        auth_method: basic\n", []string{`line 9: jwt.issuers[0].introspection.auth_method: unknown method "basic"; use client_secret_basic (the default) or client_secret_post`}},
		{"auth_method private_key_jwt", opaque + "        auth_method: private_key_jwt\n", []string{`line 9: jwt.issuers[0].introspection.auth_method: unknown method "private_key_jwt"`}},
		{"auth_method case", opaque + "        auth_method: Client_Secret_Post\n", []string{"line 9: jwt.issuers[0].introspection.auth_method: unknown method"}},
		{"auth_method empty", opaque + "        auth_method: ''\n", []string{"line 9: jwt.issuers[0].introspection.auth_method: may not be empty; omit it for the default, client_secret_basic"}},
		{"timeout 0s", opaque + "        timeout: 0s\n", []string{"line 9: jwt.issuers[0].introspection.timeout: must be positive"}},
		{"timeout negative", opaque + "        timeout: -2s\n", []string{"line 9: jwt.issuers[0].introspection.timeout: must be positive"}},
		{"timeout bare number", opaque + "        timeout: 2\n", []string{`line 9: jwt.issuers[0].introspection.timeout: "2" is not a duration`}},
		{"introspect_jwts yes", opaque + "        introspect_jwts: yes\n", []string{`line 9: jwt.issuers[0].introspection.introspect_jwts: "yes" is not true or false`}},
		{"cache max_ttl short", opaque + "        cache:\n          max_ttl: 500ms\n", []string{"line 10: jwt.issuers[0].introspection.cache.max_ttl: 500ms is too short; the least is 1s"}},
		{"cache negative_ttl 0s", opaque + "        cache:\n          negative_ttl: 0s\n", []string{"line 10: jwt.issuers[0].introspection.cache.negative_ttl: 0s is too short"}},
		{"cache max_entries 0", opaque + "        cache:\n          max_entries: 0\n", []string{"line 10: jwt.issuers[0].introspection.cache.max_entries: 0 is outside 1 to 10000000"}},
		{"cache max_entries huge", opaque + "        cache:\n          max_entries: 10000001\n", []string{"line 10: jwt.issuers[0].introspection.cache.max_entries: 10000001 is outside 1 to 10000000"}},
		{"cache unknown key", opaque + "        cache:\n          ttl: 1m\n", []string{`line 10: unknown key "ttl" in jwt.issuers[0].introspection.cache`}},
		{"unknown key", opaque + "        endpoint_url: x\n", []string{`line 9: unknown key "endpoint_url" in jwt.issuers[0].introspection`}},
		{"section a list", issuer + "      introspection: [a]\n", []string{"line 5: jwt.issuers[0].introspection: must be a mapping of keys (endpoint, client_id,"}},
		{"two issuers, no prefix", opaque + second, []string{"line 5: jwt.issuers[0].introspection.token_prefix: is required: several issuers introspect"}},
		{"two issuers, second without prefix", opaque + "        token_prefix: a_\n" + second, []string{"line 12: jwt.issuers[1].introspection.token_prefix: is required"}},
		{"two issuers, one empty prefix", opaque + "        token_prefix: ''\n" + second + "        token_prefix: b_\n", []string{"line 9: jwt.issuers[0].introspection.token_prefix: is required"}},
		{"two issuers, same prefix", opaque + "        token_prefix: at_\n" + second + "        token_prefix: at_\n", []string{`line 16: jwt.issuers[1].introspection.token_prefix: "at_" is also jwt.issuers[0].introspection.token_prefix`}},
		{"two issuers, one prefix starts the other", opaque + "        token_prefix: at_\n" + second + "        token_prefix: at_partner_\n", []string{`line 16: jwt.issuers[1].introspection.token_prefix: "at_partner_" and jwt.issuers[0].introspection.token_prefix ("at_") start alike`}},

		// The credentials section of mode jwt.
		{"jwt mode throttle and proxies", opaque + "credentials:\n  trusted_proxies: [10.0.0.0/8]\n  throttle:\n    max_client_failures: 3\n    max_address_failures: 5\n    window: 10s\n", nil},
		{"jwt mode throttle redis", "mode: jwt\n" + opaque + "credentials:\n  throttle:\n    redis: {url: \"redis://127.0.0.1:6379/0\", replicas: 2}\n", nil},
		{"jwt mode clients_file", opaque + "credentials:\n  trusted_proxies: [10.0.0.0/8]\n  clients_file: c.yaml\n", []string{"line 11: credentials.clients_file: needs mode credentials or dual, but mode is jwt (the default)", "credentials may hold only trusted_proxies and throttle"}},
		{"jwt mode exchange", "mode: jwt\n" + opaque + "credentials:\n  exchange: {token_url: https://auth.example.com/token}\n", []string{"line 11: credentials.exchange: needs mode credentials or dual, but mode is jwt;"}},
		{"jwt mode cache_ttl first", opaque + "credentials:\n  cache_ttl: 5m\n  basic: true\n", []string{"line 10: credentials.cache_ttl: needs mode credentials or dual"}},
		{"jwt mode basic false", opaque + "credentials:\n  basic: false\n", []string{"line 10: credentials.basic: needs mode credentials or dual"}},
		{"jwt mode header", opaque + "credentials:\n  client_id_header: x-client\n", []string{"line 10: credentials.client_id_header: needs mode credentials or dual"}},
		{"jwt mode reload_interval", opaque + "credentials:\n  reload_interval: 5s\n", []string{"line 10: credentials.reload_interval: needs mode credentials or dual"}},
		{"jwt mode throttle without introspection", issuer + keys + "credentials:\n  throttle:\n    window: 10s\n", []string{"line 8: credentials.throttle.window: counts only guessed opaque tokens in mode jwt (the default), and no issuer has introspection", "add introspection to an issuer"}},
		{"jwt mode budget without introspection", issuer + keys + "credentials:\n  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\"}\n    max_address_failures: 5\n", []string{"line 9: credentials.throttle.max_address_failures: counts only guessed opaque tokens in mode jwt (the default)"}},
		{"jwt mode redis without introspection or dpop", issuer + keys + "credentials:\n  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\"}\n", []string{"line 8: credentials.throttle.redis: has nothing to hold in mode jwt (the default) without introspection or jwt.dpop"}},
		{"jwt mode redis for dpop", "jwt:\n  dpop: {mode: allowed}\n" + strings.TrimPrefix(issuer+keys, "jwt:\n") + "credentials:\n  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\"}\n", nil},
		{"jwt mode proxies without introspection", issuer + keys + "credentials:\n  trusted_proxies: [10.0.0.0/8]\n", nil},
		{"jwt mode empty throttle", issuer + keys + "credentials:\n  trusted_proxies: [10.0.0.0/8]\n  throttle: {}\n", nil},
		{"jwt mode bad proxy", opaque + "credentials:\n  trusted_proxies: [proxy.local]\n", []string{`line 10: credentials.trusted_proxies[0]: "proxy.local" is not an IP address`}},
		{"jwt mode throttle window short", opaque + "credentials:\n  throttle:\n    window: 100ms\n", []string{"line 11: credentials.throttle.window: 100ms is too short"}},
		{"jwt mode throttle zero", opaque + "credentials:\n  throttle:\n    max_address_failures: 0\n", []string{"line 11: credentials.throttle.max_address_failures: 0 is outside 1 to 1000000"}},
		{"jwt mode redis without url", opaque + "credentials:\n  throttle:\n    redis: {replicas: 2}\n", []string{"line 11: credentials.throttle.redis.url: is required"}},
		// Checked by clientauth's rules, as in the other modes.
		{"jwt mode redis max_counters 1", opaque + "credentials:\n  throttle:\n    redis: {url: \"redis://127.0.0.1:6379\", max_counters: 1}\n", []string{"line 11: credentials.throttle.redis.max_counters: is 1; it needs at least 2"}},
		{"jwt mode redis bad scheme", opaque + "credentials:\n  throttle:\n    redis: {url: \"http://127.0.0.1:6379\"}\n", []string{"line 11: credentials.throttle.redis.url:"}},
		{"dual mode with introspection", "mode: dual\n" + strings.Replace(opaque, "jwt:\n", "jwt:\n", 1) + "credentials:\n  clients_file: c.yaml\n  throttle:\n    window: 10s\n", nil},
	}
	runParseCases(t, tests)
}

// writeSecret writes a client secret file into dir and returns its name.
func writeSecret(t *testing.T, dir, name, content string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// introspectionFile is a configuration file trusting iss through its key
// set and introspecting at endpoint, with the client secret in
// secretFile; extra is appended to the introspection section.
func introspectionFile(iss *keywardtest.Issuer, endpoint, secretFile, extra string) string {
	return issuerBlockFile(iss) + "      introspection:\n        endpoint: " + endpoint +
		"\n        client_id: keyward-rs\n        client_secret_file: " + secretFile + "\n" + extra
}

// issuerBlockFile is the jwt section of a file trusting iss by its key set.
func issuerBlockFile(iss *keywardtest.Issuer) string {
	return "jwt:\n  issuers:\n" + issuerBlock(iss, "jwks_url: "+iss.JWKSURL)
}

// TestFileIntrospectionParts: a file's introspection section becomes the
// issuer's jwtauth.Introspection, with the first line of the secret file
// (relative to the file's directory, "\r\n" taken off), and the
// credentials section of mode jwt becomes the core's trusted proxies and
// the budgets of the Guard that counts guessed opaque tokens; without
// introspection there is no Guard.
func TestFileIntrospectionParts(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	dir := t.TempDir()
	writeSecret(t, dir, "rs.secret", "s3cr3t-rs\r\nnot the secret\n")
	path := writeConfig(t, dir, introspectionFile(iss, "http://127.0.0.1:1/introspect", "rs.secret",
		"        auth_method: client_secret_post\n        token_prefix: at_\n        timeout: 1500ms\n        introspect_jwts: true\n"+
			"        cache: {enabled: false, max_ttl: 2m, negative_ttl: 3s, max_entries: 50}\n"+
			"credentials:\n  trusted_proxies: [10.0.0.0/8]\n  throttle:\n    max_address_failures: 7\n    window: 30s\n"))
	t.Chdir(t.TempDir()) // the secret file is found relative to the configuration file
	cfg := loadConfig(t, path)
	want := &jwtauth.Introspection{
		Endpoint: "http://127.0.0.1:1/introspect", ClientID: "keyward-rs", ClientSecret: "s3cr3t-rs",
		AuthMethod: jwtauth.ClientSecretPost, TokenPrefix: "at_", Timeout: 1500 * time.Millisecond, IntrospectJWTs: true,
		Cache: jwtauth.IntrospectionCache{Disabled: true, MaxTTL: 2 * time.Minute, NegativeTTL: 3 * time.Second, MaxEntries: 50},
	}
	if got := cfg.JWT.Issuers[0].Introspection; !reflect.DeepEqual(got, want) {
		t.Errorf("introspection\n got %+v\nwant %+v", got, want)
	}
	if cfg.JWT.Issuers[0].Keys == nil {
		t.Error("the issuer's key set is nil; it has a jwks_url")
	}
	if _, ok := cfg.JWT.Throttle.(*clientauth.Guard); !ok {
		t.Errorf("jwtauth.Config.Throttle is %T, want a *clientauth.Guard", cfg.JWT.Throttle)
	}
	if got := cfg.TrustedProxies; len(got) != 1 || got[0].String() != "10.0.0.0/8" {
		t.Errorf("trusted proxies %v, want [10.0.0.0/8] in mode jwt", got)
	}
	if cfg.Config.Clients != nil || cfg.Mode != "" {
		t.Errorf("mode %q, clients %v: want jwt without client credentials", cfg.Mode, cfg.Config.Clients)
	}
	if n := cfg.Clients.Throttle; n != (clientauth.Throttle{}) {
		t.Errorf("a Checker's throttle %+v in mode jwt", n)
	}

	// Without introspection, no Guard.
	plain := writeConfig(t, t.TempDir(), issuerBlockFile(iss))
	if th := loadConfig(t, plain).JWT.Throttle; th != nil {
		t.Errorf("jwtauth.Config.Throttle is %T without introspection; want nil", th)
	}
}

// TestFileIntrospectionSecretFileErrors: an unreadable or empty
// client_secret_file fails Config at its line and key, before any key set
// is fetched, and no error shows what the file holds.
func TestFileIntrospectionSecretFileErrors(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	const secret = "s3cr3t-never-shown"
	for _, tt := range []struct {
		name    string
		content *string // nil: no file
		want    []string
	}{
		{"missing", nil, []string{"no such file"}},
		{"empty", ptr(""), []string{"the first line is empty; it must hold the client secret"}},
		{"first line empty", ptr("\n" + secret + "\n"), []string{"the first line is empty"}},
		{"first line CRLF only", ptr("\r\n" + secret), []string{"the first line is empty"}},
		{"one long line", ptr(secret + strings.Repeat("x", 64<<10)), []string{"the first line is longer than 65536 bytes"}},
		{"a directory", nil, []string{"is a directory"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			switch {
			case tt.content != nil:
				writeSecret(t, dir, "rs.secret", *tt.content)
			case tt.name == "a directory":
				if err := os.Mkdir(filepath.Join(dir, "rs.secret"), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			path := writeConfig(t, dir, introspectionFile(iss, "https://auth.example.com/introspect", "rs.secret", ""))
			before := iss.Fetches()
			_, err := config.Load(context.Background(), path, config.Options{})
			wantErr(t, err, append([]string{"config: " + path + ": line 9: jwt.issuers[0].introspection.client_secret_file: "}, tt.want...)...)
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the file's content: %v", err)
			}
			if tt.name == "missing" && !errors.Is(err, os.ErrNotExist) {
				t.Errorf("error %v is not os.ErrNotExist", err)
			}
			if n := iss.Fetches() - before; n != 0 {
				t.Errorf("%d key set fetches before the secret file was refused", n)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestFileIntrospectionInCode: a File built in code is checked by Config
// as a parsed one, without lines.
func TestFileIntrospectionInCode(t *testing.T) {
	ctx := context.Background()
	base := func() *config.File {
		return &config.File{JWT: config.JWT{Issuers: []config.Issuer{{
			Issuer: "https://auth.example.com", Audiences: []string{"api"},
			Introspection: &config.Introspection{Endpoint: "https://auth.example.com/i", ClientID: "rs", ClientSecretFile: "rs.secret"},
		}}}}
	}
	for _, tt := range []struct {
		edit func(*config.File)
		want string
	}{
		{func(f *config.File) { f.JWT.Issuers[0].Introspection.ClientID = "" }, "config: jwt.issuers[0].introspection.client_id: is required"},
		{func(f *config.File) { f.JWT.Issuers[0].Introspection.AuthMethod = "none" }, `config: jwt.issuers[0].introspection.auth_method: unknown method "none"`},
		{func(f *config.File) { f.JWT.Issuers[0].Introspection.Endpoint = "" }, "config: jwt.issuers[0].introspection: needs an endpoint"},
		{func(f *config.File) { f.JWT.Issuers[0].Introspection.Timeout = -1 }, "config: jwt.issuers[0].introspection.timeout: must be positive"},
		{func(f *config.File) {
			f.Credentials = &config.Credentials{Throttle: config.Throttle{Window: config.Duration(time.Second)}, CacheTTL: config.Duration(time.Minute)}
		}, "config: credentials.cache_ttl: needs mode credentials or dual, but mode is jwt (the default)"},
		{func(f *config.File) {
			f.JWT.Issuers[0].Introspection = nil
			f.JWT.Issuers[0].JWKSURL = "https://auth.example.com/jwks"
			f.Credentials = &config.Credentials{TrustedProxies: []string{"10.0.0.1"}, Throttle: config.Throttle{Window: config.Duration(time.Minute)}}
		}, "config: credentials.throttle.window: counts only guessed opaque tokens in mode jwt (the default), and no issuer has introspection"},
		{func(f *config.File) {
			f.Credentials = &config.Credentials{Throttle: config.Throttle{Redis: &config.Redis{URL: "redis://127.0.0.1:1", MaxCounters: 1}}}
		}, "config: credentials.throttle.redis.max_counters: is 1"},
	} {
		f := base()
		tt.edit(f)
		_, err := f.Config(ctx, config.Options{})
		wantErr(t, err, tt.want)
		var ce *dualauth.ConfigError
		if strings.Contains(tt.want, "max_counters") && !errors.As(err, &ce) {
			t.Errorf("error %v does not wrap clientauth's ConfigError", err)
		}
	}
}
