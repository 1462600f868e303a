package redisstore

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
)

var testPairKey = []byte("0123456789abcdef0123456789abcdef-test-pair-key")

// TestKnownAcrossReplicas: with a shared pair key, a pair one replica
// marked is known to the others through Redis; Redis holds neither the id
// nor the secret, nor the pair key; a replica with another key does not
// know it; Forget on one replica ends the shared marker.
func TestKnownAcrossReplicas(t *testing.T) {
	srv := testredis.Start(t, false)
	limits := throttle.Limits{MaxClientFailures: 1, MaxAddrFailures: 50, Window: time.Minute}
	ra, rb := newReplica(t, srv.URL(), limits), newReplica(t, srv.URL(), limits)
	known := func(r *replica, key []byte) *throttle.Known {
		k, err := throttle.NewKnown(throttle.KnownOptions{Store: r.store, PairKey: key})
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
	if ttl <= 23*time.Hour || ttl > throttle.DefaultKnownTTL {
		t.Fatalf("marker TTL %s, want about %s", ttl, throttle.DefaultKnownTTL)
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
