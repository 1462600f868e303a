package clients_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/internal/syncbuf"
)

// openFile writes specs to a new file and opens it.
func openFile(t *testing.T, opts clients.Options, specs ...spec) (*clients.Registry, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, registryYAML(t, specs...))
	r, err := clients.Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r, path
}

func TestReloadSecretAndDisabled(t *testing.T) {
	t.Parallel()
	var reports []error
	r, path := openFile(t, clients.Options{OnReload: func(err error) { reports = append(reports, err) }},
		spec{id: "acme", secret: "old-secret", scopes: []string{"bookings:read"}},
		spec{id: "globex", secret: "globex-secret"},
	)
	ctx := context.Background()
	if _, err := r.Verify(ctx, "acme", "old-secret"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, registryYAML(t,
		spec{id: "acme", secret: "new-secret", scopes: []string{"bookings:read"}},
		spec{id: "globex", secret: "globex-secret", disabled: true},
	))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if r.Generation() != 2 {
		t.Errorf("Generation %d; want 2", r.Generation())
	}
	if _, err := r.Verify(ctx, "acme", "old-secret"); !errors.Is(err, clients.ErrWrongSecret) {
		t.Errorf("old secret after reload: %v", err)
	}
	if _, err := r.Verify(ctx, "acme", "new-secret"); err != nil {
		t.Errorf("new secret after reload: %v", err)
	}
	if _, err := r.Verify(ctx, "globex", "globex-secret"); !errors.Is(err, clients.ErrDisabled) {
		t.Errorf("disabled client after reload: %v", err)
	}
	if len(reports) != 1 || reports[0] != nil {
		t.Errorf("OnReload got %v; want one nil", reports)
	}
}

// TestReloadGeneration: every change that matters to a cached verification
// bumps Generation; edits that change nothing do not.
func TestReloadGeneration(t *testing.T) {
	t.Parallel()
	base := []spec{
		{id: "a", secret: "sa", scopes: []string{"x:r", "y:r"}},
		{id: "b", secret: "sb", scopes: []string{"x:r"}, disabled: true},
	}
	with := func(f func(s []spec) []spec) []byte {
		return registryYAML(t, f(append([]spec(nil), base...))...)
	}
	rehashed := strings.Replace(string(registryYAML(t, base...)), hashOf(t, "sa", argonMin), hashOf(t, "sa", clients.HashParams{
		Algorithm: clients.AlgArgon2id, Argon2: clients.Argon2Params{Memory: clients.MinArgon2Memory, Time: 1, Threads: 1, SaltLen: 17}}), 1)
	tests := []struct {
		name string
		file []byte
		bump bool
	}{
		{"secret changed", with(func(s []spec) []spec { s[0].secret = "sa2"; return s }), true},
		{"same secret, new hash", []byte(rehashed), true},
		{"client disabled", with(func(s []spec) []spec { s[0].disabled = true; return s }), true},
		{"client enabled", with(func(s []spec) []spec { s[1].disabled = false; return s }), true},
		{"client removed", with(func(s []spec) []spec { return s[:1] }), true},
		{"client added", with(func(s []spec) []spec { return append(s, spec{id: "c", secret: "sc"}) }), true},
		{"scope added", with(func(s []spec) []spec { s[1].scopes = []string{"x:r", "z:w"}; return s }), true},
		{"scope removed", with(func(s []spec) []spec { s[0].scopes = []string{"x:r"}; return s }), true},
		{"nothing changed", registryYAML(t, base...), false},
		{"comment added", append([]byte("# a comment\n"), registryYAML(t, base...)...), false},
		{"clients reordered", registryYAML(t, base[1], base[0]), false},
		{"scopes reordered", with(func(s []spec) []spec { s[0].scopes = []string{"y:r", "x:r"}; return s }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, path := openFile(t, clients.Options{}, base...)
			writeFile(t, path, tt.file)
			if err := r.Reload(); err != nil {
				t.Fatal(err)
			}
			want := uint64(1)
			if tt.bump {
				want = 2
			}
			if r.Generation() != want {
				t.Errorf("Generation %d; want %d", r.Generation(), want)
			}
		})
	}
}

// TestReloadBrokenKeepsOld: a broken file leaves the registry as it was, and
// the error (returned, reported, logged) names the problem without secrets.
func TestReloadBrokenKeepsOld(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	var reported error
	r, path := openFile(t, clients.Options{
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnReload: func(err error) { reported = err },
	}, spec{id: "acme", secret: "acme-secret"})
	goodHash := hashOf(t, "acme-secret", argonMin)

	broken := strings.Replace(string(registryYAML(t, spec{id: "acme", secret: "acme-secret"}, spec{id: "plain", secret: "x"})),
		hashOf(t, "x", argonMin), "plaintext-password-here", 1)
	writeFile(t, path, []byte(broken))
	err := r.Reload()
	if err == nil || !strings.Contains(err.Error(), `client "plain": line `) || !strings.Contains(err.Error(), `secret_hash is not a bcrypt or argon2id hash`) {
		t.Fatalf("Reload of a broken file: %v", err)
	}
	if reported != err {
		t.Errorf("OnReload got %v; want %v", reported, err)
	}
	if r.Generation() != 1 || r.Len() != 1 {
		t.Errorf("Generation %d, Len %d after a failed reload; want 1, 1", r.Generation(), r.Len())
	}
	if _, err := r.Verify(context.Background(), "acme", "acme-secret"); err != nil {
		t.Errorf("Verify after a failed reload: %v", err)
	}

	writeFile(t, path, []byte("clients: [")) // not even YAML
	if err := r.Reload(); err == nil {
		t.Error("Reload of invalid YAML succeeded")
	}
	if r.Generation() != 1 || r.Len() != 1 {
		t.Errorf("Generation %d, Len %d after a failed reload; want 1, 1", r.Generation(), r.Len())
	}

	log := logs.String()
	if !strings.Contains(log, "reload failed") || !strings.Contains(log, `client \"plain\"`) {
		t.Errorf("the failure is not logged:\n%s", log)
	}
	for _, secret := range []string{"plaintext-password-here", "acme-secret", goodHash, strings.Split(goodHash, "$")[5]} {
		if strings.Contains(log, secret) {
			t.Errorf("the log holds secret material %q:\n%s", secret, log)
		}
	}
}

func TestReloadParsed(t *testing.T) {
	t.Parallel()
	r := mustParse(t, registryYAML(t, spec{id: "a", secret: "s"}))
	if err := r.Reload(); err == nil {
		t.Error("Reload of a parsed registry succeeded")
	}
}

// TestReloadConcurrentVerify reloads between two versions of the file while
// callers verify; under -race this also checks the snapshot swap. Every
// answer must come from one version or the other.
func TestReloadConcurrentVerify(t *testing.T) {
	t.Parallel()
	v1 := registryYAML(t, spec{id: "a", secret: "one", scopes: []string{"v:1"}}, spec{id: "b", secret: "b"})
	v2 := registryYAML(t, spec{id: "a", secret: "two", scopes: []string{"v:2"}}, spec{id: "c", secret: "c"})
	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, v1)
	r, err := clients.Open(path, clients.Options{MaxConcurrentHashes: 4})
	if err != nil {
		t.Fatal(err)
	}
	noWaiting(r)

	const reloads = 20
	var done atomic.Bool
	var wg sync.WaitGroup
	var verified atomic.Int64
	for w := range 4 {
		wg.Go(func() {
			ctx := context.Background()
			for i := 0; !done.Load() || i < 2; i++ {
				secret := []string{"one", "two"}[(w+i)%2]
				c, err := r.Verify(ctx, "a", secret)
				switch {
				case err == nil && !(secret == "one" && c.Scopes[0] == "v:1" || secret == "two" && c.Scopes[0] == "v:2"):
					t.Errorf("secret %q gave scopes %v", secret, c.Scopes)
				case err != nil && !errors.Is(err, clients.ErrWrongSecret):
					t.Errorf("secret %q: %v", secret, err)
				}
				verified.Add(1)
				if n := r.Len(); n != 2 {
					t.Errorf("Len %d", n)
				}
				if c, ok := r.Lookup("b"); ok && c.ID != "b" {
					t.Errorf("Lookup(b) = %+v", c)
				}
			}
		})
	}
	last := r.Generation()
	for i := range reloads {
		writeFile(t, path, [][]byte{v2, v1}[i%2])
		if err := r.Reload(); err != nil {
			t.Error(err)
		}
		if g := r.Generation(); g != last+1 {
			t.Errorf("Generation %d after reload; want %d", g, last+1)
		}
		last = r.Generation()
	}
	done.Store(true)
	wg.Wait()
	if verified.Load() == 0 {
		t.Error("no verification ran")
	}
}

// TestMixedHashWarning: entries hashed with hash-secret's two defaults
// (bcrypt cost 12, argon2id 64 MiB × 3) raise no warning; an entry at less
// than half the highest cost is named in one warning, which a reload that
// keeps the same cheap entries does not repeat.
func TestMixedHashWarning(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	bcrypt12 := clients.HashParams{Algorithm: clients.AlgBcrypt, BcryptCost: 12}
	bcrypt10 := clients.HashParams{Algorithm: clients.AlgBcrypt, BcryptCost: 10}
	argonDefault := clients.HashParams{Algorithm: clients.AlgArgon2id, Argon2: clients.Argon2Params{Memory: 64 << 10, Time: 3, Threads: 2}}
	defaults := []spec{{id: "acme", secret: "a", p: bcrypt12}, {id: "globex", secret: "g", p: argonDefault}}
	r, path := openFile(t, clients.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}, defaults...)
	warnings := func() int { return strings.Count(logs.String(), "level=WARN") }
	if n := warnings(); n != 0 {
		t.Fatalf("hash-secret's defaults side by side: %d warnings: %s", n, logs.String())
	}
	withCheap := append(defaults, spec{id: "initech", secret: "i", p: bcrypt10})
	writeFile(t, path, registryYAML(t, withCheap...))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := warnings(); n != 1 || !strings.Contains(logs.String(), "entries=[initech]") {
		t.Fatalf("a bcrypt-10 entry: %d warnings, want 1 naming it: %s", n, logs.String())
	}
	writeFile(t, path, registryYAML(t, append(withCheap, spec{id: "umbrella", secret: "u", p: bcrypt12})...))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if n := warnings(); n != 1 {
		t.Fatalf("a reload with the same cheap entries warned again: %s", logs.String())
	}
}
