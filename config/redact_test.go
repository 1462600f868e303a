package config_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/syncbuf"
)

// TestErrorsHideURLSecrets: an error about a URL of the file never shows
// its user information or query values, whoever words it (the file's
// checks, dualauth, the Redis client, which repeats query values). Every
// secret below contains "secret".
func TestErrorsHideURLSecrets(t *testing.T) {
	t.Parallel()
	const (
		reg     = "mode: credentials\ncredentials:\n  clients_file: clients.yaml\n  throttle:\n    redis:\n      url: "
		issuer  = "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      audiences: [api]\n"
		jwksURL = issuer + "      jwks_url: "
	)
	tests := []struct {
		name string
		yaml string
		want []string // in the error
	}{
		{"redis: password in user info and query", reg + "'redis://secretuser:secretpw@127.0.0.1:6379/0?password=secretq'\n",
			[]string{"line 6: credentials.throttle.redis.url: ", "redis://…@127.0.0.1:6379/0?password=…", "unexpected option: password"}},
		{"redis: a query value the client quotes", reg + "'redis://:secretpw@127.0.0.1:6379/0?pool_size=secretn'\n",
			[]string{"credentials.throttle.redis.url: ", "redis://…@127.0.0.1:6379/0?pool_size=…", "invalid pool_size number"}},
		{"redis: percent-encoded query value", reg + "'redis://127.0.0.1:6379/0?password=secret%21q&db=secretdb'\n",
			[]string{"credentials.throttle.redis.url: ", "?password=…&db=…"}},
		{"redis: not redis://", reg + "'http://secretuser:secretpw@127.0.0.1:6379/0?password=secretq'\n",
			[]string{"credentials.throttle.redis.url: ", "the scheme must be redis or rediss"}},
		{"redis: does not parse", reg + "'redis://secretuser:secretpw@127.0.0.1:6379/%zz?password=secretq'\n",
			[]string{"credentials.throttle.redis.url: "}},
		{"jwks_url with a password", jwksURL + "'https://secretuser:secretpw@keys.example.com/jwks.json?key=secretq'\n",
			[]string{"jwt.issuers[0].jwks_url: may not contain a password"}},
		{"jwks_url over http", jwksURL + "'http://secretuser@keys.example.com/jwks.json?key=secretq'\n",
			[]string{"jwt.issuers[0].jwks_url: uses http:// for \"keys.example.com\""}},
		{"discovery issuer with a query", "jwt:\n  issuers:\n    - issuer: 'https://auth.example.com/?key=secretq'\n      discovery: true\n      audiences: [api]\n",
			[]string{"jwt.issuers[0].issuer: with discovery: true, the issuer may not have a query"}},
		{"token_url with user info", "mode: credentials\ncredentials:\n  exchange:\n    token_url: 'https://secretuser:secretpw@auth.example.com/token?key=secretq'\n",
			[]string{"credentials.exchange.token_url: may not contain user info"}},
		{"introspection endpoint with user info", issuer + "      introspection:\n        endpoint: 'https://secretuser:secretpw@auth.example.com/introspect?key=secretq'\n        client_id: rs\n        client_secret_file: rs.secret\n",
			[]string{"line 6: jwt.issuers[0].introspection.endpoint: may not contain user info"}},
		{"introspection endpoint over http", issuer + "      introspection:\n        endpoint: 'http://auth.example.com/introspect?key=secretq'\n        client_id: rs\n        client_secret_file: rs.secret\n",
			[]string{"line 6: jwt.issuers[0].introspection.endpoint: uses http:// for \"auth.example.com\""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := config.Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			// Nor through the error it wraps.
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), "secret") {
					t.Errorf("error shows a secret: %q", e)
				}
			}
		})
	}
}

// TestErrorsKeepWhatIsNotSecret: errors of other packages about a file
// whose URLs hold nothing to redact are as they were, and still wrap their
// cause.
func TestErrorsKeepWhatIsNotSecret(t *testing.T) {
	t.Parallel()
	_, err := config.Parse([]byte("mode: credentials\ncredentials:\n  clients_file: clients.yaml\n  throttle:\n    redis:\n      url: 'redis://127.0.0.1:6379/x'\n"))
	var ce *dualauth.ConfigError
	if err == nil || !strings.Contains(err.Error(), `redis://127.0.0.1:6379/x: redis: invalid database number: "x"`) || !errors.As(err, &ce) {
		t.Fatalf("error %v; want the URL and the client's words, wrapping a dualauth.ConfigError", err)
	}
}

// TestLogsHideURLSecrets: what the key sets Config starts log about a
// jwks_url (its source, the errors fetching it) shows neither its user
// name nor its query values.
func TestLogsHideURLSecrets(t *testing.T) {
	t.Parallel()
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close() // fetching fails at once
	jwks := strings.Replace(dead.URL, "http://", "http://secretuser@", 1) + "/jwks.json?api_key=secretq&tenant=secret%20t"
	path := writeConfig(t, t.TempDir(), "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      jwks_url: '"+jwks+"'\n      audiences: [api]\n")
	var logs syncbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.Load(ctx, path, config.Options{Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	closeConfig(t, cfg)
	out := logs.String()
	if !strings.Contains(out, "jwks: refresh failed") || !strings.Contains(out, "/jwks.json?api_key=…&tenant=…") {
		t.Fatalf("no refresh failure logged with the redacted URL:\n%s", out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("the log shows a secret of the URL:\n%s", out)
	}
}
