package throttle

import (
	"context"
	"github.com/keyward/keyward/internal/testredis"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var testPairKey = []byte("0123456789abcdef0123456789abcdef-test-pair-key")

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

// TestKnownAcrossReplicas: with a shared pair key, a pair one replica
// marked is known to the others through Redis; Redis holds neither the id
// nor the secret, nor the pair key; a replica with another key does not
// know it; Forget on one replica ends the shared marker.
func TestKnownAcrossReplicas(t *testing.T) {
	srv := testredis.Start(t, false)
	limits := Limits{MaxClientFailures: 1, MaxAddrFailures: 50, Window: time.Minute}
	ra, rb := newReplica(t, srv.URL(), limits), newReplica(t, srv.URL(), limits)
	known := func(r *replica, key []byte) *Known {
		k, err := NewKnown(KnownOptions{Store: r.store, PairKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if !k.Shared() {
			t.Fatal("not shared")
		}
		return k
	}
	a, b, c := known(ra, testPairKey), known(rb, testPairKey), known(rb, []byte(strings.Repeat("x", 32)))

	const id, secret = "acme-client", "correct-horse-battery-staple"
	a.Mark(id, secret)
	if !b.IsKnown(id, secret) {
		t.Fatal("a pair marked on one replica is unknown on the other")
	}
	if b.IsKnown(id, secret+"x") || c.IsKnown(id, secret) {
		t.Fatal("known under another secret or another pair key")
	}
	raw := rawClient(t, srv)
	keys, err := raw.Keys(context.Background(), "*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys %v, %v; want one marker", keys, err)
	}
	v, _ := raw.Get(context.Background(), keys[0]).Result()
	ttl := raw.PTTL(context.Background(), keys[0]).Val()
	for _, s := range []string{keys[0], v} {
		if strings.Contains(s, id) || strings.Contains(s, secret) || strings.Contains(s, string(testPairKey)) {
			t.Fatalf("Redis holds %q", s)
		}
	}
	if ttl <= 23*time.Hour || ttl > DefaultKnownTTL {
		t.Fatalf("marker TTL %s, want about %s", ttl, DefaultKnownTTL)
	}

	// The gate: a replica that did not see the success lets the known pair
	// through while its address's budget for the id is spent.
	if !guess(rb.th, id, "192.0.2.1") || guess(ra.th, id, "192.0.2.1") {
		t.Fatal("the budget is not shared")
	}
	if !b.IsKnown(id, secret) {
		t.Fatal("the real pair lost its exemption")
	}

	b.Forget(id, secret) // it failed on b
	fresh := known(ra, testPairKey)
	if b.IsKnown(id, secret) || fresh.IsKnown(id, secret) {
		t.Fatal("known after Forget on another replica")
	}
	if !a.IsKnown(id, secret) {
		t.Fatal("the replica that marked the pair forgot it (it keeps it until it sees it fail)")
	}
	a.Forget(id, secret)
	if a.IsKnown(id, secret) {
		t.Fatal("known after Forget")
	}

	// Redis down: a replica knows what it marked itself, and nothing more.
	a.Mark(id, secret)
	b.Mark("beta", secret)
	srv.Stop()
	if !a.IsKnown(id, secret) || a.IsKnown("beta", secret) {
		t.Fatal("during the outage a replica does not fall back to its own markers")
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
