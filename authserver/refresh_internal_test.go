package authserver

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// storeTest is a refresh store on a fixed clock, every client allowed
// bookings:read.
type storeTest struct {
	*refreshStore
	now, expires time.Time
}

var testScopes = []string{"bookings:read"}

func newStoreTest(max, maxOwn int) storeTest {
	now := time.Now()
	return storeTest{newRefreshStore(max, maxOwn), now, now.Add(DefaultRefreshTTL)}
}

func (st storeTest) grant(clientID string) string {
	return st.issue(clientID, testScopes, "", st.expires, st.now)
}

func (st storeTest) rotate(raw string) (refreshGrant, redeemResult) {
	g, res, _ := st.redeem(redemption{raw: raw, now: st.now, expires: st.expires,
		allowed: func(string) ([]string, bool) { return testScopes, true }})
	return g, res
}

// heapInUse returns the live heap after a collection.
func heapInUse() int64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestRefreshStoreFlood floods the store with grants and rotations: it
// keeps at most MaxRefreshTokensPerClient families per client and
// MaxRefreshTokens in all, the most recently used, in bounded memory; a
// chain rotated any number of times takes one entry and still knows its
// first token for reuse; and one client's flood evicts none of another's
// families.
func TestRefreshStoreFlood(t *testing.T) {
	tests := []struct {
		name       string
		clients    int // the flooders, client-0 to client-<n-1>
		grants     int // in all, round robin
		rotations  int // of one chain of client-0, started before the flood
		wantStored int // families, the bystander's included
	}{
		{"20 clients, 40,000 grants, a chain of 100,000 rotations", 20, 40_000, 100_000, DefaultMaxRefreshTokens},
		{"one client, 100,000 grants", 1, 100_000, 0, DefaultMaxRefreshTokensPerClient + 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newStoreTest(DefaultMaxRefreshTokens, DefaultMaxRefreshTokensPerClient)
			before := heapInUse()
			bystander := st.grant("bystander")
			first := st.grant("client-0")
			chain := first
			for range tc.rotations {
				g, res := st.rotate(chain)
				if res != redeemed {
					t.Fatalf("rotation refused: %v", res)
				}
				chain = g.next
			}
			if n := st.len(); n != 2 {
				t.Fatalf("%d families stored after %d rotations, want 2", n, tc.rotations)
			}
			newest := map[string]string{}
			for i := range tc.grants {
				id := fmt.Sprint("client-", i%tc.clients)
				newest[id] = st.grant(id)
				// The chain is in use all along: the least recently used
				// families go first, never it.
				if i%1000 == 0 && tc.rotations > 0 {
					g, res := st.rotate(chain)
					if res != redeemed {
						t.Fatalf("the chain was refused (%v) after %d grants", res, i)
					}
					chain = g.next
				}
			}
			retained := heapInUse() - before
			t.Logf("%d families stored, %d KiB retained", st.len(), retained>>10)

			if n := st.len(); n != tc.wantStored {
				t.Errorf("%d families stored, want %d", n, tc.wantStored)
			}
			st.mu.Lock()
			for id, own := range st.byClient {
				if own.Len() > DefaultMaxRefreshTokensPerClient {
					t.Errorf("%s has %d families", id, own.Len())
				}
			}
			st.mu.Unlock()
			// About 330 bytes a family, with room for the race detector's
			// and the allocator's slack.
			if limit := int64(DefaultMaxRefreshTokens) * 800; retained > limit {
				t.Errorf("%d KiB retained for %d families, want at most %d KiB", retained>>10, st.len(), limit>>10)
			}
			// The most recently used ones are kept.
			for id, rt := range newest {
				if _, res := st.rotate(rt); res != redeemed {
					t.Errorf("%s's newest token: %v", id, res)
				}
			}
			if tc.clients == 1 {
				if _, res := st.rotate(bystander); res != redeemed {
					t.Errorf("another client's family: %v after the flood", res)
				}
			}
			if tc.rotations > 0 {
				if _, res := st.rotate(first); res != redeemReused {
					t.Errorf("the chain's first token again: %v, want reuse", res)
				}
				if _, res := st.rotate(chain); res != redeemUnknown {
					t.Errorf("the chain's live token after reuse: %v, want revoked", res)
				}
			}
		})
	}
}

// TestRefreshStoreSweep: families are dropped once their live token
// expired, as soon as a family is started or rotated.
func TestRefreshStoreSweep(t *testing.T) {
	st := newStoreTest(DefaultMaxRefreshTokens, DefaultMaxRefreshTokensPerClient)
	for i := range 100 {
		st.grant(fmt.Sprint("client-", i%3))
	}
	kept := st.grant("client-0")
	// kept is rotated halfway through the others' lifetime: it lives on.
	st.now = st.now.Add(DefaultRefreshTTL / 2)
	st.expires = st.now.Add(DefaultRefreshTTL)
	g, res := st.rotate(kept)
	if res != redeemed {
		t.Fatal(res)
	}
	st.now = st.now.Add(DefaultRefreshTTL / 2)
	st.grant("client-1")
	if n := st.len(); n != 2 {
		t.Errorf("%d families stored after the others expired, want 2", n)
	}
	if _, res := st.rotate(g.next); res != redeemed {
		t.Errorf("the rotated family: %v", res)
	}
}

// TestRefreshTokenShape: anything but a token this store issued, spelled
// as it was issued, is unknown, and revokes nothing.
func TestRefreshTokenShape(t *testing.T) {
	st := newStoreTest(10, 10)
	live := st.grant("globex")
	otherID := "A" + live[1:]
	if live[0] == 'A' {
		otherID = "B" + live[1:]
	}
	tests := []struct{ name, raw string }{
		{"empty", ""},
		{"short", live[:len(live)-1]},
		{"long", live + "A"},
		{"a line break inside", live[:10] + "\n" + live[11:]},
		{"a line break added", live[:len(live)-1] + "\n"},
		{"padding", live[:len(live)-1] + "="},
		{"standard base64", strings.NewReplacer("-", "+", "_", "/").Replace(live[:len(live)-2]) + "+/"},
		{"not base64", strings.Repeat("!", len(live))},
		{"another family's id", otherID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.raw == live {
				t.Fatal("the case is the live token itself")
			}
			if _, res := st.rotate(tc.raw); res != redeemUnknown {
				t.Errorf("%v, want unknown", res)
			}
		})
	}
	if _, res := st.rotate(live); res != redeemed {
		t.Errorf("the live token after every malformed one: %v", res)
	}
}

// TestRefreshStoreConcurrent rotates many families at once, from many
// clients, and starts new ones, up to the bounds: every chain ends usable,
// every first token is seen as reuse, and the bounds hold. Run it with
// -race.
func TestRefreshStoreConcurrent(t *testing.T) {
	const clients, familiesEach, rotations = 8, 4, 200
	st := newStoreTest(clients*familiesEach, familiesEach)
	type chain struct{ first, last string }
	chains := make([][]chain, clients)
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			id := fmt.Sprint("client-", c)
			own := make([]chain, familiesEach)
			for f := range own {
				own[f].first = st.grant(id)
				own[f].last = own[f].first
			}
			for r := range rotations * familiesEach {
				ch := &own[r%familiesEach]
				g, res := st.rotate(ch.last)
				if res != redeemed || g.clientID != id {
					t.Errorf("%s: rotation %d refused (%v) or of %q", id, r, res, g.clientID)
					return
				}
				ch.last = g.next
			}
			chains[c] = own
		})
	}
	wg.Wait()
	if n := st.len(); n != clients*familiesEach {
		t.Errorf("%d families stored, want %d", n, clients*familiesEach)
	}
	for c, own := range chains {
		for f, ch := range own {
			if _, res := st.rotate(ch.first); res != redeemReused {
				t.Errorf("client-%d family %d: first token again: %v, want reuse", c, f, res)
			}
			if _, res := st.rotate(ch.last); res != redeemUnknown {
				t.Errorf("client-%d family %d: live token after reuse: %v, want revoked", c, f, res)
			}
		}
	}
	if n := st.len(); n != 0 {
		t.Errorf("%d families left after every one was revoked", n)
	}
}
