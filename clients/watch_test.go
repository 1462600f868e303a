package clients_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/clients"
)

// waitTimeout bounds every wait on Watch; nothing sleeps.
const waitTimeout = 10 * time.Second

// watcher opens path with OnReload feeding a channel and runs Watch (with
// signals) until the test ends.
type watcher struct {
	r       *clients.Registry
	reports chan error
	started chan struct{}
	stop    func()
}

func startWatch(t *testing.T, path string, interval time.Duration, signals ...os.Signal) *watcher {
	t.Helper()
	w := &watcher{reports: make(chan error, 100), started: make(chan struct{})}
	r, err := clients.Open(path, clients.Options{ReloadInterval: interval, OnReload: func(err error) { w.reports <- err }})
	if err != nil {
		t.Fatal(err)
	}
	w.r = r
	clients.OnWatching(r, func() { close(w.started) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Watch(ctx, signals...)
		close(done)
	}()
	w.stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(waitTimeout):
			t.Error("Watch did not return after its context ended")
		}
	}
	t.Cleanup(w.stop)
	select {
	case <-w.started:
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not start")
	}
	return w
}

// next waits for the next OnReload report.
func (w *watcher) next(t *testing.T) error {
	t.Helper()
	select {
	case err := <-w.reports:
		return err
	case <-time.After(waitTimeout):
		t.Fatal("no reload reported")
		return nil
	}
}

func TestWatchPollsReplacedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "one"}))
	w := startWatch(t, path, 5*time.Millisecond)

	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "two"}))
	if err := w.next(t); err != nil {
		t.Fatal(err)
	}
	if w.r.Generation() != 2 {
		t.Errorf("Generation %d; want 2", w.r.Generation())
	}
	if _, err := w.r.Verify(context.Background(), "a", "two"); err != nil {
		t.Error(err)
	}

	// A broken file is reported once, and the next report is its repair.
	writeFile(t, path, []byte("clients: []\n"))
	if err := w.next(t); err == nil {
		t.Fatal("a broken file reported no error")
	}
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "three"}))
	if err := w.next(t); err != nil {
		t.Fatalf("after the repair: %v", err)
	}
	if w.r.Generation() != 3 {
		t.Errorf("Generation %d; want 3", w.r.Generation())
	}

	// A vanished file is reported; its return, even unchanged, too.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := w.next(t); err == nil {
		t.Fatal("a missing file reported no error")
	}
	writeFile(t, path, data)
	if err := w.next(t); err != nil {
		t.Fatalf("after the file came back: %v", err)
	}
	if w.r.Generation() != 3 || w.r.Len() != 1 {
		t.Errorf("Generation %d, Len %d; want 3, 1", w.r.Generation(), w.r.Len())
	}
}

// TestWatchSymlinkSwap mimics a Kubernetes ConfigMap volume: the file is a
// symlink through ..data, which is swapped atomically to a new directory.
func TestWatchSymlinkSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name string, data []byte) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name, "clients.yaml"), data)
	}
	swap := func(target string) {
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(target, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", registryYAML(t, spec{id: "a", secret: "one"}))
	swap("..v1")
	path := filepath.Join(dir, "clients.yaml")
	if err := os.Symlink("..data/clients.yaml", path); err != nil {
		t.Fatal(err)
	}
	w := startWatch(t, path, 5*time.Millisecond)

	version("..v2", registryYAML(t, spec{id: "a", secret: "two"}, spec{id: "b", secret: "b"}))
	swap("..v2")
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	if err := w.next(t); err != nil {
		t.Fatal(err)
	}
	if w.r.Generation() != 2 || w.r.Len() != 2 {
		t.Errorf("Generation %d, Len %d; want 2, 2", w.r.Generation(), w.r.Len())
	}
}

func TestWatchParsedWaitsForContext(t *testing.T) {
	t.Parallel()
	r := mustParse(t, registryYAML(t, spec{id: "a", secret: "s"}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Watch(ctx)
		close(done)
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(waitTimeout):
		t.Fatal("Watch did not return")
	}
}
