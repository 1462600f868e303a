//go:build unix

package config_test

import (
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
)

// sighupSetup writes a registry with globex enabled and a configuration
// file that polls it only every hour, so that a reload within the test can
// only come from SIGHUP; it returns both paths. The test registers for
// SIGHUP itself until it ends, so that a signal no watcher has registered
// for yet cannot end the process; the channel receives each one.
func sighupSetup(t *testing.T) (registry, path string, hup <-chan os.Signal) {
	t.Helper()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(ch) })
	dir := t.TempDir()
	registry = filepath.Join(dir, "clients.yaml")
	replaceFile(t, registry, globexRegistry(t, false))
	path = writeConfig(t, dir, "mode: credentials\ncredentials:\n  clients_file: clients.yaml\n  reload_interval: 1h\n  cache_ttl: 1h\n")
	return registry, path, ch
}

// sighup sends SIGHUP to the test process and waits for its delivery.
func sighup(t *testing.T, hup <-chan os.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hup:
	case <-time.After(10 * time.Second):
		t.Fatal("SIGHUP was not delivered")
	}
}

// TestConfigSIGHUPOptIn: with Options.ReloadOnSIGHUP, SIGHUP reloads the
// clients file at once.
func TestConfigSIGHUPOptIn(t *testing.T) {
	registry, path, hup := sighupSetup(t)
	cfg, reloads := loadWatched(t, path, config.Options{ReloadOnSIGHUP: true})
	a := newFromConfig(t, cfg.Config)
	wantCaller(t, a, headerRequest("globex", "globex-secret"), dualauth.MethodCredentials, "globex")

	replaceFile(t, registry, globexRegistry(t, true))
	// The watcher registers for SIGHUP as it starts, which may be after
	// Load returned: a signal it missed is sent again.
	deadline := time.After(10 * time.Second)
	for reloaded := false; !reloaded; {
		sighup(t, hup)
		select {
		case err := <-reloads:
			if err != nil {
				t.Fatalf("reload: %v", err)
			}
			reloaded = true
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("SIGHUP did not reload the clients file within 10s")
		}
	}
	wantRefused(t, a, headerRequest("globex", "globex-secret"), http.StatusUnauthorized, dualauth.CodeInvalidClient)
}

// TestConfigSIGHUPDefault: without Options.ReloadOnSIGHUP, the loader
// leaves SIGHUP alone. Once the signal has been delivered, the watcher is
// stopped (Close waits for it): a reload it made would have been reported.
func TestConfigSIGHUPDefault(t *testing.T) {
	registry, path, hup := sighupSetup(t)
	cfg, reloads := loadWatched(t, path, config.Options{})
	replaceFile(t, registry, globexRegistry(t, true))
	sighup(t, hup)
	closeConfig(t, cfg)
	select {
	case err := <-reloads:
		t.Fatalf("the clients file was reloaded on SIGHUP (%v) without ReloadOnSIGHUP", err)
	default:
	}
	a := newFromConfig(t, cfg.Config)
	wantCaller(t, a, headerRequest("globex", "globex-secret"), dualauth.MethodCredentials, "globex")
}
