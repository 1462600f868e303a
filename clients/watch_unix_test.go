//go:build unix

package clients_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWatchSIGHUP sends SIGHUP to the test process only while Watch has it
// registered (polling is off, so only the signal can cause the reload).
func TestWatchSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "one"}))
	w := startWatch(t, path, -1)

	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "one", disabled: true}))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if err := w.next(t); err != nil {
		t.Fatal(err)
	}
	if c, _ := w.r.Lookup("a"); !c.Disabled || w.r.Generation() != 2 {
		t.Errorf("after SIGHUP: %+v, Generation %d", c, w.r.Generation())
	}
	w.stop()
}
