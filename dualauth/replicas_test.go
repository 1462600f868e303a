package dualauth_test

import (
	"fmt"
	"net/http"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/testredis"
)

// TestReplicasShareTheThrottle: two Authenticators (two replicas behind a
// balancer) sharing one real Redis together allow max_client_failures
// failures for a client id from one address, not twice that; with Redis
// killed each replica still limits on its own (401 then 429, never a 500,
// and the real client still gets in); once Redis is back they share again.
func TestReplicasShareTheThrottle(t *testing.T) {
	srv := testredis.Start(t, false)
	path := registryFile(t, t.TempDir(), testClients)
	replica := func() *dualauth.Authenticator {
		reg, err := clients.Open(path, clients.Options{})
		if err != nil {
			t.Fatal(err)
		}
		a, err := dualauth.New(dualauth.Config{
			Mode: dualauth.ModeCredentials,
			Credentials: dualauth.Credentials{
				Verifier: dualauth.RegistryVerifier(reg),
				Throttle: dualauth.Throttle{MaxClientFailures: 3, MaxAddrFailures: 50, Redis: &dualauth.RedisThrottle{URL: srv.URL(), KeyPrefix: "t:", Timeout: 5 * time.Second}},
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
			if s >= 500 {
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

	srv.Stop()
	var down []int
	for i := range 10 {
		down = append(down, try([]*dualauth.Authenticator{a, b}[i%2], "192.0.2.20", "guess"))
	}
	if n := count(down, http.StatusUnauthorized); n < 3 || n > 6 {
		t.Fatalf("Redis down: %d guesses checked (%v), want each replica to limit on its own (3 to 6)", n, down)
	}
	if got := try(a, "192.0.2.30", "acme-secret"); got != http.StatusOK {
		t.Fatalf("the real client while Redis is down: %d", got)
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
