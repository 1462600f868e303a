package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeErrors: usage errors exit 2, configuration errors 1, each with a
// message naming the problem, before anything listens.
func TestServeErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	noSection := filepath.Join(dir, "no-section.yaml")
	badRoute := filepath.Join(dir, "bad-route.yaml")
	head := "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      jwks_url: https://auth.example.com/jwks.json\n      audiences: [api]\n"
	for path, content := range map[string]string{
		noSection: head,
		badRoute:  head + "forward_auth:\n  routes:\n    - match: /v1/\n    - match: /v1/\n",
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no -config", []string{"serve"}, 2, "-config FILE is required"},
		{"-h", []string{"serve", "-h"}, 2, "serve flags:"},
		{"unknown flag", []string{"serve", "-config", noSection, "-port", "1"}, 2, "flag provided but not defined: -port"},
		{"arguments", []string{"serve", "-config", noSection, "extra"}, 2, "unexpected arguments"},
		{"missing file", []string{"serve", "-config", filepath.Join(dir, "none.yaml")}, 1, "no such file"},
		{"no forward_auth", []string{"serve", "-config", noSection}, 1, "forward_auth: is required by keyward serve"},
		{"bad route", []string{"serve", "-config", badRoute}, 1, `line 9: forward_auth.routes[1].match: duplicates the route at line 8 ("/v1/")`},
		{"bad address", []string{"serve", "-config", "../../testdata/forwardauth/keyward.yaml", "-addr", "127.0.0.1:notaport"}, 1, "notaport"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			code := serveCmd(ctx, tt.args[1:], &stderr, func(string) { t.Error("listening") })
			if code != tt.code || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), tt.code, tt.stderr)
			}
		})
	}
}
