package clients_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/clients"
)

// Under the race detector bcrypt at cost 10 takes most of a second, so tests
// use argon2id with the minimum parameters wherever the algorithm does not
// matter.
var (
	argonMin = clients.HashParams{Algorithm: clients.AlgArgon2id,
		Argon2: clients.Argon2Params{Memory: clients.MinArgon2Memory, Time: 1, Threads: 1}}
	bcrypt10 = clients.HashParams{Algorithm: clients.AlgBcrypt, BcryptCost: 10}
)

const testdataFile = "../testdata/clients/clients.yaml"

var hashMemo sync.Map // hashKey → string

type hashKey struct {
	secret string
	p      clients.HashParams
}

// hashOf hashes secret, once per secret and parameters for the whole run.
func hashOf(t testing.TB, secret string, p clients.HashParams) string {
	t.Helper()
	if h, ok := hashMemo.Load(hashKey{secret, p}); ok {
		return h.(string)
	}
	h, err := clients.HashSecret(secret, p)
	if err != nil {
		t.Fatalf("HashSecret: %v", err)
	}
	hashMemo.Store(hashKey{secret, p}, h)
	return h
}

// spec is one client of a registry file built by a test.
type spec struct {
	id, secret string
	p          clients.HashParams
	scopes     []string
	disabled   bool
}

type fileClient struct {
	ID         string   `yaml:"client_id"`
	SecretHash string   `yaml:"secret_hash"`
	Scopes     []string `yaml:"scopes,flow,omitempty"`
	Disabled   bool     `yaml:"disabled,omitempty"`
}

// registryYAML builds a registry file; ids and secrets may hold any
// character, the YAML encoder quotes them.
func registryYAML(t testing.TB, specs ...spec) []byte {
	t.Helper()
	var f struct {
		Clients []fileClient `yaml:"clients"`
	}
	for _, s := range specs {
		p := s.p
		if p == (clients.HashParams{}) {
			p = argonMin
		}
		f.Clients = append(f.Clients, fileClient{s.id, hashOf(t, s.secret, p), s.scopes, s.disabled})
	}
	data, err := yaml.Marshal(&f)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, data []byte) *clients.Registry {
	t.Helper()
	r, err := clients.Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, data)
	}
	return r
}

// writeFile replaces path's content atomically, as editors and deployment
// tools do (write a temporary file, rename it over the old one).
func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// noWaiting makes r's failed verifications return without waiting out the
// failure floor, for tests of outcomes that would otherwise spend a whole
// check's time (most of a second under -race) on every failure;
// floor_test.go and TestVerify cover the wait.
func noWaiting(r *clients.Registry) {
	clients.SetClock(r, time.Now, func(context.Context, time.Duration) {})
}
