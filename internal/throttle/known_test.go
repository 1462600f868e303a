package throttle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestKnownInProcess: without a pair key, a pair is known to the process
// that marked it, until its TTL on the injected clock or Forget, and to no
// other.
func TestKnownInProcess(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	shared := NewMemoryStore(clock.now)
	a, err := NewKnown(KnownOptions{TTL: time.Hour, Now: clock.now, Store: shared})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewKnown(KnownOptions{TTL: time.Hour, Now: clock.now, Store: shared})
	if a.Shared() {
		t.Fatal("a Known without a pair key shares its markers")
	}
	a.Mark("acme", "s3cret")
	if !a.IsKnown("acme", "s3cret") || a.IsKnown("acme", "other") || a.IsKnown("acm", "es3cret") {
		t.Fatal("IsKnown does not tell the marked pair")
	}
	if b.IsKnown("acme", "s3cret") {
		t.Fatal("another process knows a pair without a shared pair key")
	}
	clock.add(time.Hour)
	if a.IsKnown("acme", "s3cret") {
		t.Fatal("known after its TTL")
	}
	a.Mark("acme", "s3cret")
	a.Forget("acme", "s3cret")
	if a.IsKnown("acme", "s3cret") {
		t.Fatal("known after Forget")
	}
	if _, err := NewKnown(KnownOptions{PairKey: []byte("short")}); err == nil {
		t.Fatal("a short pair key was taken")
	}
}

// TestLoadPairKey: a key file's trailing line end is not part of the key,
// and a short file is refused without quoting it.
func TestLoadPairKey(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg=\n"), 0o600)
	k, err := LoadPairKey(good)
	if err != nil || string(k) != "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eHF1dXg=" {
		t.Fatalf("LoadPairKey = %q, %v", k, err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("tiny-secret-key\n"), 0o600)
	if _, err := LoadPairKey(short); err == nil || strings.Contains(err.Error(), "tiny") {
		t.Fatalf("short key: %v", err)
	}
	if _, err := LoadPairKey(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("a missing file was taken")
	}
}
