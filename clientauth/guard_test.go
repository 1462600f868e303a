package clientauth_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/testredis"
	_ "github.com/keyward/keyward/redisthrottle"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *fakeClock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// status is the HTTP status of an Admit's error (200 for none), and the
// Retry-After it carries.
func status(t *testing.T, err error) (int, time.Duration) {
	t.Helper()
	if err == nil {
		return http.StatusOK, 0
	}
	var e *dualauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("Admit: %T %v, want a *dualauth.Error", err, err)
	}
	return e.Status, e.RetryAfter
}

// TestNewGuardValidates: a Guard refuses the Throttle a Checker refuses,
// with a clientauth ConfigError naming the field.
func TestNewGuardValidates(t *testing.T) {
	for _, tt := range []struct {
		name  string
		t     clientauth.Throttle
		field string
	}{
		{"window", clientauth.Throttle{Window: -1}, "Throttle.Window"},
		{"addr budget", clientauth.Throttle{MaxAddrFailures: -1}, "Throttle.MaxAddrFailures"},
		{"redis timeout", clientauth.Throttle{Redis: &clientauth.RedisThrottle{URL: "redis://127.0.0.1:1", Timeout: -1}}, "Throttle.Redis.Timeout"},
		{"redis url", clientauth.Throttle{Redis: &clientauth.RedisThrottle{URL: "http://127.0.0.1:1"}}, "Throttle.Redis.URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ce *dualauth.ConfigError
			if _, err := clientauth.NewGuard(tt.t, nil, nil); !errors.As(err, &ce) || ce.Package != "clientauth" || ce.Field != tt.field {
				t.Fatalf("NewGuard: %v, want a clientauth ConfigError for %s", err, tt.field)
			}
			if err := (clientauth.Config{Verifier: &verifier{}, Throttle: tt.t}).Validate(); err == nil {
				t.Fatal("Config.Validate accepts what NewGuard refuses")
			}
		})
	}
}

// TestGuardInMemory: failures are counted per address until its budget
// (MaxAddrFailures, not MaxClientFailures) is spent, then 429 with the
// rest of the window as Retry-After; a check that ends done(false) costs
// nothing, another address has a budget of its own, and the window's end
// restores the budget.
func TestGuardInMemory(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	g, err := clientauth.NewGuard(clientauth.Throttle{MaxClientFailures: 2, MaxAddrFailures: 5, Window: time.Minute}, clock.Now, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx := context.Background()
	admit := func(addr string, failed bool) (int, time.Duration) {
		t.Helper()
		done, err := g.Admit(ctx, addr)
		if err == nil {
			done(failed)
		}
		return status(t, err)
	}
	for i := range 5 {
		if s, _ := admit("192.0.2.1", false); s != http.StatusOK {
			t.Fatalf("good check %d: %d, want 200 (a good check is not counted)", i, s)
		}
	}
	for i := range 5 {
		if s, _ := admit("192.0.2.1", true); s != http.StatusOK {
			t.Fatalf("failure %d: %d, want 200 within the address budget of 5", i, s)
		}
	}
	clock.Advance(20 * time.Second)
	if s, retry := admit("192.0.2.1", false); s != http.StatusTooManyRequests || retry != 40*time.Second {
		t.Fatalf("after the budget: %d Retry-After %v, want 429 after 40s", s, retry)
	}
	if s, _ := admit("192.0.2.2", true); s != http.StatusOK {
		t.Fatalf("another address: %d, want 200", s)
	}
	clock.Advance(40 * time.Second)
	if s, _ := admit("192.0.2.1", true); s != http.StatusOK {
		t.Fatalf("next window: %d, want 200", s)
	}
}

// TestGuardConcurrentAndAddressless: checks of one address in progress at
// once are not capped at throttle.MaxInFlight (many callers behind one
// gateway present new tokens at once), yet each still spends the address
// budget; an empty address (a zero dualauth.Origin) is never counted, so
// that all addressless checks do not share one budget.
func TestGuardConcurrentAndAddressless(t *testing.T) {
	clock := &fakeClock{now: time.Unix(1_700_000_000, 0)}
	ctx := context.Background()
	for _, tt := range []struct {
		name     string
		addr     string
		budget   int
		inFlight int // checks admitted and held open at once
		want429  bool
	}{
		{"twenty at once from one address", "192.0.2.50", 50, 20, false},
		{"at once beyond the address budget", "192.0.2.51", 5, 5, true},
		{"no address, beyond any budget", "", 1, 20, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g, err := clientauth.NewGuard(clientauth.Throttle{MaxAddrFailures: tt.budget}, clock.Now, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer g.Close()
			var dones []func(bool)
			for i := range tt.inFlight {
				done, err := g.Admit(ctx, tt.addr)
				if s, _ := status(t, err); s != http.StatusOK {
					t.Fatalf("check %d in progress: %d, want 200", i, s)
				}
				dones = append(dones, done)
			}
			for _, done := range dones {
				done(true)
			}
			s, _ := status(t, second(g.Admit(ctx, tt.addr)))
			if got := s == http.StatusTooManyRequests; got != tt.want429 {
				t.Fatalf("after %d failures: %d, want 429 %v", tt.inFlight, s, tt.want429)
			}
		})
	}
}

func second[A, B any](_ A, b B) B { return b }

// TestGuardSharesRedis: two Guards and a Checker on one Redis spend one
// address budget: token guesses at either Guard and a wrong secret at the
// Checker add up, and once it is spent all three answer 429; with Redis
// gone (and no Replicas share), a Guard answers 503 with Retry-After.
func TestGuardSharesRedis(t *testing.T) {
	srv := testredis.Start(t, false)
	th := clientauth.Throttle{MaxClientFailures: 10, MaxAddrFailures: 3, Redis: &clientauth.RedisThrottle{
		URL: srv.URL(), KeyPrefix: "g:", Timeout: 5 * time.Second,
	}}
	var guards []*clientauth.Guard
	for range 2 {
		g, err := clientauth.NewGuard(th, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := g.Close(); err != nil {
				t.Error(err)
			}
			if err := g.Close(); err != nil {
				t.Errorf("a second Close: %v", err)
			}
		})
		guards = append(guards, g)
	}
	checker, err := clientauth.New(clientauth.Config{Verifier: &verifier{}, Throttle: th})
	if err != nil {
		t.Fatal(err)
	}
	defer checker.Close()
	ctx := context.Background()
	const addr = "192.0.2.7"
	for i, g := range guards {
		done, err := g.Admit(ctx, addr)
		if err != nil {
			t.Fatalf("guard %d: %v", i, err)
		}
		done(true)
	}
	if _, _, err := checker.CheckClient(ctx, "acme", "wrong", addr); err == nil {
		t.Fatal("a wrong secret passed")
	} else if s, _ := status(t, err); s != http.StatusUnauthorized {
		t.Fatalf("wrong secret within the budget: %d, want 401", s)
	}
	for i, g := range guards {
		if s, retry := status(t, second(g.Admit(ctx, addr))); s != http.StatusTooManyRequests || retry < time.Second {
			t.Fatalf("guard %d after the shared budget: %d Retry-After %v, want 429", i, s, retry)
		}
	}
	if _, _, err := checker.CheckClient(ctx, "acme", "wrong again", addr); err == nil {
		t.Fatal("a wrong secret passed")
	} else if s, _ := status(t, err); s != http.StatusTooManyRequests {
		t.Fatalf("the checker after the shared budget: %d, want 429", s)
	}

	srv.Stop()
	if s, retry := status(t, second(guards[0].Admit(ctx, "192.0.2.8"))); s != http.StatusServiceUnavailable || retry <= 0 {
		t.Fatalf("Redis down: %d Retry-After %v, want 503 with a Retry-After", s, retry)
	}
}
