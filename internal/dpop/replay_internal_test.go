package dpop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// TestMemoryReplayNeverForgets drives the memory cache, small and mostly
// full, with a fixed pseudo-random sequence of proofs of 8 keys on a fake
// clock: no proof is accepted twice while its record should live (room
// made for a newcomer must not open a replay), the cache never holds more
// than its bound, and the keys' records add up to the cache's.
func TestMemoryReplayNeverForgets(t *testing.T) {
	const maxEntries = 50
	now := time.Unix(0, 0)
	m := newMemoryReplay(maxEntries, 40, func() time.Time { return now })
	r := rand.New(rand.NewPCG(1, 2))
	accepted := map[string]time.Time{} // until when a proof must stay refused
	var made, full int
	for i := range 200_000 {
		now = now.Add(time.Duration(r.IntN(300)) * time.Millisecond)
		k, jti := fmt.Sprint(r.IntN(8)), fmt.Sprint(r.IntN(400))
		ttl := time.Duration(10+r.IntN(20)) * time.Second
		err := m.remember(context.Background(), k, jti, ttl)
		if err == nil {
			if until, ok := accepted[k+"/"+jti]; ok && now.Before(until) {
				t.Fatalf("step %d: proof %s/%s accepted twice within its lifetime", i, k, jti)
			}
			accepted[k+"/"+jti] = now.Add(ttl)
			made++
		} else if _, isFull := err.(*storeFull); isFull {
			full++
		}
		total := 0
		for _, s := range m.shares {
			total += len(s.entries)
		}
		if total != len(m.seen) || len(m.seen) > maxEntries {
			t.Fatalf("step %d: the keys hold %d records, the cache %d (bound %d)", i, total, len(m.seen), maxEntries)
		}
	}
	if made == 0 || full == 0 {
		t.Fatalf("%d accepted, %d refused for room: the sequence must exercise both", made, full)
	}
}
