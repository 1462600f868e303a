package jwks

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestUnknownKIDWaitDefaults: zero means the default, negative stays
// negative (never wait), and the wait never exceeds Timeout.
func TestUnknownKIDWaitDefaults(t *testing.T) {
	for _, c := range []struct {
		wait, timeout, want time.Duration
	}{
		{0, 0, DefaultUnknownKIDWait},
		{500 * time.Millisecond, 0, 500 * time.Millisecond},
		{time.Minute, 0, DefaultTimeout},
		{0, time.Second, time.Second},
		{5 * time.Second, 3 * time.Second, 3 * time.Second},
		{-1, 0, -1},
	} {
		o, err := Options{UnknownKIDWait: c.wait, Timeout: c.timeout}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		if o.UnknownKIDWait != c.want {
			t.Errorf("UnknownKIDWait %v, Timeout %v: effective wait %v, want %v", c.wait, c.timeout, o.UnknownKIDWait, c.want)
		}
	}
}

// TestKIDGateWaits: which fetch a lookup waits for.
func TestKIDGateWaits(t *testing.T) {
	var keys atomic.Pointer[keySet]
	ks := newKeySet(nil, time.Time{})
	keys.Store(ks)
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	g := newKIDGate(time.Minute, func() time.Time { return now }, &keys)
	isClosed := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		default:
			return false
		}
	}

	queued, first := g.request("a", ks, true)
	if !queued || first == nil {
		t.Fatalf("first unknown kid: queued %v, channel %v", queued, first)
	}
	// Another kid joins the pending fetch; so does the same kid again.
	if queued, c := g.request("b", ks, true); queued || c != first {
		t.Fatal("a second kid did not join the pending fetch")
	}
	if _, c := g.request("a", ks, false); c != nil {
		t.Fatal("a lookup that may not wait got a channel")
	}

	g.started()
	// "a" is in flight: a lookup of it joins the running fetch; a new kid
	// queues the next one and waits for it.
	if queued, c := g.request("a", ks, true); queued || c != first {
		t.Fatal("a kid in flight did not join the running fetch")
	}
	queued, second := g.request("c", ks, true)
	if !queued || second == nil || second == first {
		t.Fatalf("a kid looked up during a fetch: queued %v, same channel %v", queued, second == first)
	}
	g.done(true, func(string) bool { return false })
	if !isClosed(first) || isClosed(second) {
		t.Fatal("the end of the first fetch released the wrong waiters")
	}
	// "a" and "b" were proven absent: no wait.
	if _, c := g.request("a", ks, true); c != nil {
		t.Fatal("a kid just proven absent waits")
	}

	g.started()
	g.done(false, func(string) bool { return false })
	if !isClosed(second) {
		t.Fatal("a failed fetch did not release its waiters")
	}

	// A lookup made on keys that a load has replaced since starts nothing.
	keys.Store(newKeySet(nil, time.Time{}))
	if queued, c := g.request("d", ks, true); queued || c != closedChan {
		t.Fatalf("lookup on replaced keys: queued %v, closed channel %v", queued, c == closedChan)
	}

	// The third fetch of the burst; then the limiter is spent and a new kid
	// is answered at once.
	ks = keys.Load()
	if queued, c := g.request("e", ks, true); !queued || c == nil {
		t.Fatalf("the third fetch: queued %v, channel %v", queued, c)
	}
	g.started()
	g.done(true, func(string) bool { return false })
	if queued, c := g.request("f", ks, true); queued || c != nil {
		t.Fatalf("a lookup past the burst: queued %v, channel %v", queued, c)
	}
}
