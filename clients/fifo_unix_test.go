//go:build unix

package clients_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/clients"
)

// mkfifo makes a FIFO at path, or skips the test.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

// promptly runs f and fails the test if it does not return within
// waitTimeout, unblocking a reader stuck on the FIFO at path.
func promptly(t *testing.T, path string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitTimeout):
		t.Errorf("still blocked after %v on the FIFO at %s", waitTimeout, path)
		if w, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
			w.Close()
		}
		return <-done
	}
}

const notRegular = "not a regular file (a named pipe)"

// TestOpenFIFO: Open refuses a FIFO at once instead of waiting for a writer.
func TestOpenFIFO(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clients.yaml")
	mkfifo(t, path)
	err := promptly(t, path, func() error {
		_, err := clients.Open(path, clients.Options{})
		return err
	})
	if err == nil || !strings.Contains(err.Error(), notRegular) {
		t.Errorf("Open(FIFO) = %v; want %q", err, notRegular)
	}
}

// TestReloadFIFO is the review's hang: the file replaced by a FIFO made
// Reload block on open holding the registry's lock, stopping every later
// reload. Now Reload fails, the registry keeps its clients, and the next
// reload runs.
func TestReloadFIFO(t *testing.T) {
	t.Parallel()
	r, path := openFile(t, clients.Options{ReloadInterval: -1}, spec{id: "a", secret: "s"})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	mkfifo(t, path)
	for range 2 { // the second would wait on the lock if the first hung
		if err := promptly(t, path, r.Reload); err == nil || !strings.Contains(err.Error(), notRegular) {
			t.Errorf("Reload(FIFO) = %v; want %q", err, notRegular)
		}
	}
	if r.Generation() != 1 || r.Len() != 1 {
		t.Errorf("Generation %d, Len %d; want the old registry (1, 1)", r.Generation(), r.Len())
	}
	noWaiting(r)
	if _, err := r.Verify(context.Background(), "a", "s"); err != nil {
		t.Errorf("Verify after a failed reload: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "s"}, spec{id: "b", secret: "s"}))
	if err := r.Reload(); err != nil || r.Len() != 2 {
		t.Errorf("Reload of a regular file again: %v, Len %d", err, r.Len())
	}
}

// TestReadOpenedFIFO: a FIFO swapped in after readFile's Stat is opened
// without blocking (O_NONBLOCK) and refused by the check after opening.
func TestReadOpenedFIFO(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clients.yaml")
	mkfifo(t, path)
	err := promptly(t, path, func() error {
		_, err := clients.ReadOpened(path)
		return err
	})
	if err == nil || !strings.Contains(err.Error(), notRegular) {
		t.Errorf("ReadOpened(FIFO) = %v; want %q", err, notRegular)
	}
}
