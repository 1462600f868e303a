package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/syncbuf"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/examples/internal/bookings"
	"github.com/keyward/keyward/examples/internal/server"
)

const testdata = "../../testdata/"

// startRun runs the command with args (and the test registry) until the
// test ends, and returns its base URL.
func startRun(t *testing.T, args ...string) (base string, stdout, stderr *syncbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncbuf.Buffer{}, &syncbuf.Buffer{}
	listening := make(chan string, 1)
	done := make(chan error, 1)
	args = append([]string{"-addr", "127.0.0.1:0", "-clients", testdata + "clients/clients.yaml"}, args...)
	go func() { done <- run(ctx, args, stdout, stderr, listening) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
		if !strings.Contains(stderr.String(), "shutting down") {
			t.Errorf("no clean shutdown in the log:\n%s", stderr)
		}
	})
	select {
	case addr := <-listening:
		return "http://" + addr, stdout, stderr
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not start")
	}
	return "", nil, nil
}

// post sends a token request and decodes the JSON answer.
func post(t *testing.T, target, contentType, body string, header http.Header) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	for name, vs := range header {
		req.Header[name] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

const form = "application/x-www-form-urlencoded"

var basicGlobex = http.Header{"Authorization": {"Basic Z2xvYmV4Omdsb2JleC1zZWNyZXQ="}} // globex:globex-secret

// seedRequests are a globex token request per endpoint, in its seed's style.
var seedRequests = []struct {
	path, contentType, body string
	header                  http.Header
	expiresIn               float64
}{
	{authserver.PathToken, form, "grant_type=client_credentials&client_id=globex&client_secret=globex-secret", nil, 900},
	{authserver.PathTokenV2, form, "grant_type=client_credentials", basicGlobex, 3600},
	{authserver.PathPartnerToken, "application/json", `{"grant_type":"client_credentials","client_id":"globex","client_secret":"globex-secret"}`,
		http.Header{"Accept": {"application/json"}}, 3600},
	{authserver.PathConnectToken, form, "grant_type=client_credentials&response_type=token&client_id=globex&client_secret=globex-secret", nil, 2592000},
}

// TestRunWithResourceServer is the acceptance criterion end to end: the
// command's tokens from every endpoint are accepted by an example resource
// server configured (testdata/authserver/keyward.yaml) with discovery: true
// pointing at it.
func TestRunWithResourceServer(t *testing.T) {
	base, stdout, _ := startRun(t)
	if !strings.Contains(stdout.String(), "issuer:    "+base+"\n") {
		t.Errorf("stdout does not name the issuer %s:\n%s", base, stdout)
	}
	api := startResourceServer(t, base, "authserver/keyward.yaml")
	for _, tc := range seedRequests {
		t.Run(tc.path, func(t *testing.T) {
			status, body := post(t, base+tc.path, tc.contentType, tc.body, tc.header)
			if status != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"] != tc.expiresIn {
				t.Fatalf("status %d, body %v", status, body)
			}
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, api+"/v1/bookings", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v1/bookings: %d", resp.StatusCode)
			}
		})
	}
}

// startResourceServer runs the example bookings API (the resource servers'
// shared code) with the config file testdata/name, every
// http://127.0.0.1:9000 in it (the authorization server's default address)
// replaced by issuer.
func startResourceServer(t *testing.T, issuer, name string) string {
	t.Helper()
	config, err := os.ReadFile(testdata + name)
	if err != nil {
		t.Fatal(err)
	}
	const fixed = "http://127.0.0.1:9000"
	if !bytes.Contains(config, []byte(fixed)) {
		t.Fatalf("%s no longer has %q", name, fixed)
	}
	config = bytes.ReplaceAll(config, []byte(fixed), []byte(issuer))
	// The copy lives elsewhere: point its clients file at testdata's.
	config = bytes.ReplaceAll(config, []byte("../clients/"), []byte(mustAbs(t, testdata+"clients")+"/"))
	path := filepath.Join(t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(path, config, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(ctx, path, "127.0.0.1:0", slog.New(slog.NewTextHandler(io.Discard, nil)), bookings.NetHTTP, listening)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("resource server: %v", err)
		}
	})
	select {
	case addr := <-listening:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("resource server: %v", err)
	}
	return ""
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestShippedConfigsWithAuthserver runs the example API with each shipped
// config that names the development authorization server, against it.
func TestShippedConfigsWithAuthserver(t *testing.T) {
	base, _, _ := startRun(t)
	status, body := post(t, base+authserver.PathTokenV2, form, "grant_type=client_credentials", basicGlobex)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	bearer := http.Header{"Authorization": {"Bearer " + body["access_token"].(string)}}
	clientHeaders := http.Header{"Client_id": {"globex"}, "Client_secret": {"globex-secret"}}
	for _, tc := range []struct {
		config string
		header http.Header
	}{
		{"config/jwt.yaml", bearer},
		{"config/dual.yaml", bearer},
		{"config/dual.yaml", clientHeaders},
		{"config/exchange.yaml", clientHeaders},
		{"config/exchange.yaml", bearer},
	} {
		t.Run(tc.config, func(t *testing.T) {
			api := startResourceServer(t, base, tc.config)
			req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, api+"/v1/bookings", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.header.Clone()
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /v1/bookings: %d", resp.StatusCode)
			}
		})
	}
}

// getMetadata fetches and decodes the RFC 8414 metadata of the server at
// base.
func getMetadata(t *testing.T, base string) map[string]any {
	t.Helper()
	meta, err := getMetadataWith(t, http.DefaultClient, base)
	if err != nil {
		t.Fatal(err)
	}
	return meta
}

// TestRunOpaqueTokens runs the command with testdata/authserver's registry
// and client options: opaque-app gets an opaque token, which keyward-rs (its
// secret read from the file a resource server's config names) introspects
// as active, and which the metadata's introspection_endpoint serves.
func TestRunOpaqueTokens(t *testing.T) {
	base, _, stderr := startRun(t, "-clients", testdata+"authserver/clients.yaml", "-client-options", testdata+"authserver/client-options.yaml")
	status, body := post(t, base+authserver.PathToken, form, "grant_type=client_credentials&client_id=opaque-app&client_secret=opaque-app-secret", nil)
	token, _ := body["access_token"].(string)
	if status != http.StatusOK || !strings.HasPrefix(token, authserver.OpaqueTokenPrefix) || strings.Contains(token, ".") {
		t.Fatalf("status %d, body %v", status, body)
	}

	meta := getMetadata(t, base)
	endpoint, _ := meta["introspection_endpoint"].(string)
	if endpoint != base+authserver.PathIntrospect {
		t.Fatalf("introspection_endpoint %q", endpoint)
	}
	secret, err := os.ReadFile(testdata + "authserver/keyward-rs.secret")
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := strings.Cut(string(secret), "\n")
	introspect := url.Values{"token": {token}, "token_type_hint": {"access_token"}, "client_id": {"keyward-rs"}, "client_secret": {first}}
	for _, tc := range []struct {
		name   string
		body   url.Values
		status int
		want   map[string]any
	}{
		{"keyward-rs", introspect, http.StatusOK, map[string]any{"active": true, "client_id": "opaque-app", "scope": "bookings:read bookings:create", "iss": base}},
		{"a client not allowed", url.Values{"token": {token}, "client_id": {"globex"}, "client_secret": {"globex-secret"}}, http.StatusForbidden, map[string]any{"error": "unauthorized_client"}},
	} {
		status, body := post(t, endpoint, form, tc.body.Encode(), nil)
		if status != tc.status {
			t.Errorf("%s: status %d, body %v", tc.name, status, body)
		}
		for k, v := range tc.want {
			if body[k] != v {
				t.Errorf("%s: %s = %v, want %v (body %v)", tc.name, k, body[k], v, body)
			}
		}
	}
	for _, want := range []string{"client_options=" + testdata + "authserver/client-options.yaml", "token_format=opaque", `msg="token introspected"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr.String(), token[len(authserver.OpaqueTokenPrefix):]) {
		t.Errorf("the log holds the token:\n%s", stderr)
	}
}

func TestRunFlags(t *testing.T) {
	t.Run("ttl, alg and issuer", func(t *testing.T) {
		base, _, stderr := startRun(t, "-ttl", "90s", "-alg", "EdDSA", "-issuer", "https://auth.example.test", "-audience", "reports-api")
		for _, tc := range seedRequests {
			status, body := post(t, base+tc.path, tc.contentType, tc.body, tc.header)
			if status != http.StatusOK || body["expires_in"] != 90.0 {
				t.Errorf("%s: status %d, body %v", tc.path, status, body)
			}
		}
		meta := getMetadata(t, base)
		if meta["issuer"] != "https://auth.example.test" || meta["token_endpoint"] != "https://auth.example.test/oauth/token" {
			t.Errorf("metadata %v", meta)
		}
		if algs, _ := meta["id_token_signing_alg_values_supported"].([]any); len(algs) != 1 || algs[0] != "EdDSA" {
			t.Errorf("algorithms %v", meta["id_token_signing_alg_values_supported"])
		}
		for _, want := range []string{"msg=listening", "alg=EdDSA", "audience=reports-api", `msg="token issued"`} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("the log lacks %s:\n%s", want, stderr)
			}
		}
		if strings.Contains(stderr.String(), "globex-secret") {
			t.Errorf("the log holds a secret:\n%s", stderr)
		}
	})

	t.Run("trusted proxies", func(t *testing.T) {
		base, _, stderr := startRun(t, "-trusted-proxies", "10.0.0.0/8, 127.0.0.1", "-trusted-proxies", "::1")
		// A failed authentication forwarded by a trusted proxy is counted
		// against the address it names.
		status, body := post(t, base+authserver.PathTokenV2, form, "grant_type=client_credentials",
			http.Header{"Authorization": {"Basic Z2xvYmV4Om5vcGU="}, "X-Forwarded-For": {"198.51.100.9, 10.1.2.3"}}) // globex:nope
		if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Fatalf("status %d, body %v", status, body)
		}
		for _, want := range []string{"trusted_proxies=10.0.0.0/8,127.0.0.1,::1", `msg="token request refused"`, "remote_addr=127.0.0.1 client_addr=198.51.100.9"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("the log lacks %s:\n%s", want, stderr)
			}
		}
	})

	t.Run("rotate", func(t *testing.T) {
		base, _, _ := startRun(t, "-rotate", "1h", "-alg", "ES256")
		status, body := post(t, base+authserver.PathTokenV2, form, url.Values{"grant_type": {"client_credentials"}}.Encode(), basicGlobex)
		if status != http.StatusOK {
			t.Fatalf("status %d, body %v", status, body)
		}
	})

	badOptions := filepath.Join(t.TempDir(), "bad-options.yaml")
	if err := os.WriteFile(badOptions, []byte("clients:\n  - client_id: acme\n    token_format: reference\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"-port", "9000"}, "flag provided but not defined"},
		{"argument", []string{"serve"}, "unexpected argument"},
		{"bad ttl", []string{"-ttl", "10"}, "invalid value"},
		{"bad alg", []string{"-addr", "127.0.0.1:0", "-clients", testdata + "clients/clients.yaml", "-alg", "HS256"}, "not supported"},
		{"bad issuer", []string{"-addr", "127.0.0.1:0", "-clients", testdata + "clients/clients.yaml", "-issuer", "http://x/"}, "trailing slash"},
		{"no registry", []string{"-addr", "127.0.0.1:0", "-clients", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{"bad address", []string{"-addr", "127.0.0.1:http-alt-nope", "-clients", testdata + "clients/clients.yaml"}, "listen"},
		{"bad client options", []string{"-addr", "127.0.0.1:0", "-clients", testdata + "clients/clients.yaml", "-client-options", badOptions}, "bad-options.yaml: line 3: token_format: \"reference\" is not a token format"},
		{"no client options", []string{"-addr", "127.0.0.1:0", "-clients", testdata + "clients/clients.yaml", "-client-options", filepath.Join(t.TempDir(), "none.yaml")}, "none.yaml"},
		{"bad trusted proxy", []string{"-addr", "127.0.0.1:0", "-clients", testdata + "clients/clients.yaml", "-trusted-proxies", "10.0.0.0/8,proxy.internal"}, `TrustedProxies[1] "proxy.internal"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tc.args, &stdout, &stderr, nil)
			if err == nil || !strings.Contains(err.Error()+stderr.String(), tc.want) {
				t.Errorf("run = %v (stderr %q), want an error about %q", err, stderr.String(), tc.want)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"-h"}, &stdout, &stderr, nil)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stderr.String(), "-rotate") {
			t.Errorf("run -h = %v, stderr %q", err, stderr.String())
		}
	})
}
