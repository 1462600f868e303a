package clients_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/clients"
)

// dearArgon costs twice argonMin (twice the memory), so that a registry with
// both has a dummy dearer than its cheap entry.
var dearArgon = clients.HashParams{Algorithm: clients.AlgArgon2id,
	Argon2: clients.Argon2Params{Memory: 2 * clients.MinArgon2Memory, Time: 1, Threads: 1}}

// fakeClock stands still but for the sleeps it is asked for, which it
// records and skips.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
	during func() // called at each sleep, if set
}

func installFakeClock(r *clients.Registry) *fakeClock {
	c := &fakeClock{now: time.Unix(1e9, 0)}
	clients.SetClock(r, c.Now, c.Sleep)
	return c
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) {
	if c.during != nil {
		c.during()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
}

// take returns and forgets the sleeps so far.
func (c *fakeClock) take() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sleeps
	c.sleeps = nil
	return s
}

// TestFailureFloorMixedRegistry is the review's timing attack made
// structural: in a registry whose dummy (the dearest entry) costs more than
// its cheap entry, a wrong secret for the cheap entry used to be answered
// sooner than an unknown id. Now every failure returns no sooner than the
// floor, measured at load, after it began; the wait holds no hash slot;
// success does not wait.
func TestFailureFloorMixedRegistry(t *testing.T) {
	t.Parallel()
	r, _ := openFile(t, clients.Options{MaxConcurrentHashes: 1},
		spec{id: "cheap", secret: "cheap-secret"},
		spec{id: "dear", secret: "dear-secret", p: dearArgon},
		spec{id: "off", secret: "off-secret", disabled: true},
	)
	if got, want := clients.DummyParams(r), "argon2id m=38912,t=1,p=1,key=32"; got != want {
		t.Fatalf("dummy %s; want %s", got, want)
	}
	floor := clients.FailureFloor(r)
	if floor <= 0 {
		t.Fatalf("failure floor %v; want the measured time of a dummy check", floor)
	}
	clock := installFakeClock(r)
	clock.during = func() {
		if used, _ := clients.HashSlots(r); used != 0 {
			t.Errorf("waiting out the floor holds %d hash slots", used)
		}
	}
	ctx := context.Background()
	for _, try := range []struct{ name, id, secret string }{
		{"cheap entry, wrong secret", "cheap", "guess"},
		{"dear entry, wrong secret", "dear", "guess"},
		{"unknown id", "nobody", "guess"},
		{"disabled, right secret", "off", "off-secret"},
		{"empty secret (no hash)", "cheap", ""},
		{"secret over MaxSecretBytes (no hash)", "nobody", string(make([]byte, clients.MaxSecretBytes+1))},
	} {
		start := clock.Now()
		if _, err := r.Verify(ctx, try.id, try.secret); !errors.Is(err, clients.ErrInvalidClient) {
			t.Fatalf("%s: %v", try.name, err)
		}
		if elapsed := clock.Now().Sub(start); elapsed < floor {
			t.Errorf("%s: returned after %v; want at least the floor %v", try.name, elapsed, floor)
		}
		if sleeps := clock.take(); len(sleeps) != 1 {
			t.Errorf("%s: slept %v; want one wait", try.name, sleeps)
		}
	}
	for _, id := range []string{"cheap", "dear"} {
		if _, err := r.Verify(ctx, id, id+"-secret"); err != nil {
			t.Fatal(err)
		}
		if sleeps := clock.take(); len(sleeps) != 0 {
			t.Errorf("success for %s slept %v", id, sleeps)
		}
	}
}

// TestFailureFloorContext: a caller that goes away during the wait gets the
// failure at once, still wrapping ErrInvalidClient, so that hanging up
// early cannot turn a counted failure into an uncounted context error.
func TestFailureFloorContext(t *testing.T) {
	t.Parallel()
	r := mustParse(t, registryYAML(t, spec{id: "a", secret: "s"}))
	clients.SetFailureFloor(r, time.Hour)
	sleeping := make(chan struct{})
	clients.SetClock(r, time.Now, func(ctx context.Context, d time.Duration) {
		close(sleeping)
		select {
		case <-ctx.Done():
		case <-time.After(d):
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Verify(ctx, "a", "wrong")
		done <- err
	}()
	<-sleeping
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, clients.ErrInvalidClient) || !errors.Is(err, clients.ErrWrongSecret) {
			t.Errorf("Verify = %v; want ErrInvalidClient, ErrWrongSecret", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Verify kept waiting out the floor after its context ended")
	}
}

// TestFailureFloorPerLoad: Parse and every reload that changes something
// measure the floor anew.
func TestFailureFloorPerLoad(t *testing.T) {
	t.Parallel()
	if r := mustParse(t, registryYAML(t, spec{id: "a", secret: "s"})); clients.FailureFloor(r) <= 0 {
		t.Errorf("Parse: failure floor %v", clients.FailureFloor(r))
	}
	r, path := openFile(t, clients.Options{}, spec{id: "a", secret: "s"})
	clients.SetFailureFloor(r, time.Hour)
	writeFile(t, path, registryYAML(t, spec{id: "a", secret: "s"}, spec{id: "b", secret: "s"}))
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	if f := clients.FailureFloor(r); f <= 0 || f == time.Hour {
		t.Errorf("failure floor %v after a reload; want a new measurement", f)
	}
}
