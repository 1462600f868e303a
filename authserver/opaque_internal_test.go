package authserver

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkOpaqueTokenMemory measures the live heap a full store of
// DefaultMaxOpaqueTokens opaque tokens takes, per token (bytes/token): the
// entry, its scope text, its map slot and its heap slot. Run it with
// -benchtime=1x; each iteration fills a store.
func BenchmarkOpaqueTokenMemory(b *testing.B) {
	const n = DefaultMaxOpaqueTokens
	now := time.Unix(1_700_000_000, 0)
	clientID := "bookings-client" // shared with the registry, as the server's are
	scopes := []string{"bookings:read", "bookings:create"}
	var perToken float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		st := newOpaqueStore(n)
		for i := range n {
			iat := now.Unix() + int64(i%900)
			st.issue(opaqueGrant{clientID: clientID, scope: strings.Join(scopes, " "), iat: iat, exp: iat + 900}, now)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		if st.len() != n {
			b.Fatalf("%d tokens stored, want %d", st.len(), n)
		}
		perToken = float64(after.HeapAlloc-before.HeapAlloc) / n
		runtime.KeepAlive(st)
	}
	b.ReportMetric(perToken, "bytes/token")
}

// TestOpaqueStoreStaysBounded issues many tokens of mixed lifetimes into a
// small store: it never holds more than its bound, its expiry heap stays
// ordered, and every token it still holds is found by its text.
func TestOpaqueStoreStaysBounded(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_700_000_000, 0)
	st := newOpaqueStore(50)
	live := map[string]bool{}
	for i := range 1000 {
		if i%100 == 0 {
			now = now.Add(7 * time.Minute) // some expire
		}
		iat := now.Unix()
		raw := st.issue(opaqueGrant{clientID: "c", iat: iat, exp: iat + int64(60*(1+i%37))}, now)
		live[raw] = true
		if st.len() > 50 {
			t.Fatalf("after %d tokens the store holds %d, over its bound of 50", i+1, st.len())
		}
	}
	for i := 1; i < len(st.byExp); i++ {
		if parent := (i - 1) / 2; st.byExp[parent].exp > st.byExp[i].exp || st.byExp[i].index != i {
			t.Fatalf("the expiry heap is out of order at %d", i)
		}
	}
	found := 0
	for raw := range live {
		if _, ok := st.lookup(raw, now); ok {
			found++
		}
	}
	if found == 0 || found > 50 {
		t.Errorf("%d tokens found, want 1 to 50", found)
	}
}
