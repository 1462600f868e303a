//go:build unix

package clients_test

import (
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestWatchSIGHUP sends SIGHUP to the test process only while Watch has it
// registered (polling is off, so only the signal can cause the reload).
func TestWatchSIGHUP(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "one"}))
	w := startWatch(t, path, -1, syscall.SIGHUP)

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

// TestWatchSignalsOptIn: a Watch given no signals leaves SIGHUP alone. The
// test registers for SIGHUP itself, so that the signal cannot end the
// process, and stops Watch once the signal has been delivered: a reload by
// Watch would have been reported before Watch returned, or would still be in
// OnReload's channel.
func TestWatchSignalsOptIn(t *testing.T) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "one"}))
	w := startWatch(t, path, -1)
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "one", disabled: true}))
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hup:
	case <-time.After(waitTimeout):
		t.Fatal("SIGHUP was not delivered")
	}
	w.stop()
	select {
	case err := <-w.reports:
		t.Errorf("Watch without signals reloaded on SIGHUP (%v)", err)
	default:
	}
	if c, _ := w.r.Lookup("a"); c.Disabled || w.r.Generation() != 1 {
		t.Errorf("after SIGHUP: %+v, Generation %d; want the file as first loaded", c, w.r.Generation())
	}
}

// TestWatchOtherSignal: Watch reloads on whichever signals it is given.
func TestWatchOtherSignal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "clients.yaml")
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "one"}))
	w := startWatch(t, path, -1, syscall.SIGUSR1)
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "two"}))
	if err := syscall.Kill(os.Getpid(), syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	if err := w.next(t); err != nil {
		t.Fatal(err)
	}
	if w.r.Generation() != 2 {
		t.Errorf("after SIGUSR1: Generation %d; want 2", w.r.Generation())
	}
}
