package authserver

import (
	"fmt"
	"runtime"
	"testing"
	"time"
)

// TestRefreshStoreDefaultBounds issues 40,000 refresh tokens, as many
// client credentials grants do (each gets one), and redeems a long chain:
// the store keeps at most DefaultMaxRefreshTokensPerClient per client and
// DefaultMaxRefreshTokens in all, the newest ones.
func TestRefreshStoreDefaultBounds(t *testing.T) {
	st := newRefreshStore(DefaultMaxRefreshTokens, DefaultMaxRefreshTokensPerClient)
	now := time.Now()
	expires := now.Add(DefaultRefreshTTL)
	scopes := []string{"bookings:read"}
	allowed := func(string) ([]string, bool) { return scopes, true }

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)

	last := map[string]string{}
	for i := range 40_000 {
		id := fmt.Sprint("client-", i%20)
		rt := newRefreshToken()
		st.issue(rt, id, scopes, expires, now)
		last[id] = rt
	}
	// One client refreshes 2,000 times: every redeemed token is kept, up to
	// the client's bound.
	chain := last["client-0"]
	for range 2_000 {
		next := newRefreshToken()
		if _, _, _, e := st.redeem(redemption{raw: chain, next: next, now: now, expires: expires, allowed: allowed}); e != nil {
			t.Fatal(e)
		}
		chain = next
	}

	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d tokens stored, %d KiB retained", st.len(), retained>>10)

	if n := st.len(); n != DefaultMaxRefreshTokens {
		t.Errorf("%d tokens stored, want %d", n, DefaultMaxRefreshTokens)
	}
	st.mu.Lock()
	for id, own := range st.byClient {
		if own.Len() > DefaultMaxRefreshTokensPerClient {
			t.Errorf("%s has %d tokens stored", id, own.Len())
		}
	}
	st.mu.Unlock()
	// At about 300 bytes a token, with room for the race detector's and the
	// allocator's slack.
	if retained > 8<<20 {
		t.Errorf("%d KiB retained for %d tokens", retained>>10, st.len())
	}
	// The newest tokens are the ones kept.
	for id, rt := range last {
		if id == "client-0" {
			rt = chain
		}
		if _, _, _, e := st.redeem(redemption{raw: rt, next: newRefreshToken(), now: now, expires: expires, allowed: allowed}); e != nil {
			t.Errorf("%s's newest token: %v", id, e)
		}
	}
	// Expired tokens are swept as soon as a token is stored.
	later := expires.Add(time.Second)
	st.issue(newRefreshToken(), "client-1", scopes, later.Add(DefaultRefreshTTL), later)
	if n := st.len(); n != 1 {
		t.Errorf("%d tokens stored after every other expired, want 1", n)
	}
}
