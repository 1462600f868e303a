package dualauth_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestJWTProgramLinksNoMethodDependencies: a program that verifies JWTs on
// net/http (middleware, dualauth, jwks, jwtauth) links none of the modules that only
// other methods and other frameworks need: the Redis client (the shared
// throttle, linked by package redisthrottle), YAML and x/crypto (the
// clients registry and the config file), Echo.
func TestJWTProgramLinksNoMethodDependencies(t *testing.T) {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go command is needed: %v", err)
		}
		t.Skipf("no go command on PATH: %v", err)
	}
	out, err := exec.Command(goCmd, "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}",
		"github.com/keyward/keyward/middleware", "github.com/keyward/keyward/dualauth", "github.com/keyward/keyward/jwks", "github.com/keyward/keyward/jwtauth").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	modules := slices.Compact(slices.Sorted(slices.Values(strings.Fields(string(out)))))
	if len(modules) == 0 {
		t.Fatal("go list named no module")
	}
	for _, forbidden := range []struct{ prefix, why string }{
		{"github.com/redis/go-redis/", "the Redis throttle store (package redisthrottle)"},
		{"go.yaml.in/yaml/", "the clients registry and the config file"},
		{"gopkg.in/yaml.", "YAML"},
		{"golang.org/x/crypto", "bcrypt and argon2id (package clients)"},
		{"github.com/labstack/", "Echo (package middleware/echokw)"},
	} {
		for _, m := range modules {
			if strings.HasPrefix(m, forbidden.prefix) {
				t.Errorf("middleware + dualauth + jwks + jwtauth link %s, which only %s needs", m, forbidden.why)
			}
		}
	}
}
