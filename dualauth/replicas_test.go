package dualauth_test

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/testredis"
	_ "github.com/keyward/keyward/redisthrottle"
)

// TestReplicasShareTheThrottle: two Authenticators (two replicas behind a
// balancer) sharing one real Redis together allow max_client_failures
// failures for a client id from one address, not twice that. With Redis
// killed they never allow more than one budget between them: by default
// a check Redis cannot count is refused (503, never a 500) while a pair
// known to have verified still gets in; with Replicas set each replica
// checks against its share. Once Redis is back they share again.
func TestReplicasShareTheThrottle(t *testing.T) {
	for _, tc := range []struct {
		replicas int
		downMax  int // guesses checked across both replicas while Redis is down
	}{
		{replicas: 0, downMax: 0},
		{replicas: 2, downMax: 2}, // 3/2 = 1 each
		{replicas: 1, downMax: 6}, // each replica a whole budget: the old split, when asked for
	} {
		t.Run(fmt.Sprintf("replicas=%d", tc.replicas), func(t *testing.T) {
			testReplicasShareTheThrottle(t, tc.replicas, tc.downMax)
		})
	}
}

func testReplicasShareTheThrottle(t *testing.T, replicas, downMax int) {
	srv := testredis.Start(t, false)
	path := registryFile(t, t.TempDir(), testClients)
	replica := func() *dualauth.Authenticator {
		reg, err := clients.Open(path, clients.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := build(testConfig{
			Mode: dualauth.ModeCredentials,
			Credentials: credentials{
				Verifier: reg,
				Throttle: clientauth.Throttle{MaxClientFailures: 3, MaxAddrFailures: 50, Redis: &clientauth.RedisThrottle{
					URL: srv.URL(), KeyPrefix: "t:", Timeout: 5 * time.Second, Replicas: replicas,
				}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	a, b := replica(), replica()
	try := func(r *dualauth.Authenticator, addr, secret string) int {
		_, err := r.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": secret}, remote: addr + ":1"}.build())
		if err == nil {
			return http.StatusOK
		}
		return asError(t, err).Status
	}
	count := func(statuses []int, want int) (n int) {
		for _, s := range statuses {
			if s == want {
				n++
			}
			if s >= 500 && s != http.StatusServiceUnavailable {
				t.Fatalf("a %d among %v", s, statuses)
			}
		}
		return n
	}

	var shared []int
	for i := range 8 {
		shared = append(shared, try([]*dualauth.Authenticator{a, b}[i%2], "192.0.2.10", "guess"))
	}
	if n := count(shared, http.StatusUnauthorized); n != 3 {
		t.Fatalf("two replicas on one Redis let %d guesses be checked (%v), want 3", n, shared)
	}

	if n := count(shared, http.StatusServiceUnavailable); n != 0 {
		t.Fatalf("503s while Redis is up: %v", shared)
	}
	// The real client verifies on replica a while Redis is up: a known pair.
	if got := try(a, "192.0.2.30", "acme-secret"); got != http.StatusOK {
		t.Fatalf("the real client: %d", got)
	}

	srv.Stop()
	var down []int
	for i := range 10 {
		down = append(down, try([]*dualauth.Authenticator{a, b}[i%2], "192.0.2.20", "guess"))
	}
	if n := count(down, http.StatusUnauthorized); n != downMax {
		t.Fatalf("Redis down: %d guesses checked (%v), want %d", n, down, downMax)
	}
	if downMax == 0 && count(down, http.StatusServiceUnavailable) != len(down) {
		t.Fatalf("Redis down, no share: %v, want every check refused with 503", down)
	}
	if got := try(a, "192.0.2.31", "acme-secret"); got != http.StatusOK {
		t.Fatalf("the known client while Redis is down: %d", got)
	}

	srv.Restart()
	// Each replica tries Redis again at most once a second; until then it
	// counts in memory. Wait (bounded) until both count in Redis: one guess
	// from a fresh address on each, and Redis holds both.
	raw := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = raw.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		addr := fmt.Sprintf("198.51.100.%d", i%250)
		try(a, addr, "guess")
		try(b, addr, "guess")
		if n, _ := raw.HGet(t.Context(), "t:{"+addr+"}:a", "n").Int(); n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replicas did not count in Redis again within 10s of its return")
		}
		runtime.Gosched()
	}
	var back []int
	for i := range 8 {
		back = append(back, try([]*dualauth.Authenticator{a, b}[i%2], "192.0.2.40", "guess"))
	}
	if n := count(back, http.StatusUnauthorized); n != 3 {
		t.Fatalf("after Redis came back: %d guesses checked (%v), want 3 again", n, back)
	}
}
