package authserver_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
)

func TestRotateKey(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
	before := ts.kids(t)
	old := ts.globexToken(t) // 15 minutes
	oldHeader, _ := ts.verify(t, old.str("access_token"))
	oldKID := oldHeader["kid"].(string)
	if oldKID != before[0] {
		t.Fatalf("token kid %s, keys %v", oldKID, before)
	}

	ts.Clock.Add(5 * time.Minute)
	kid, err := ts.RotateKey()
	if err != nil {
		t.Fatal(err)
	}
	if kid != before[1] {
		t.Errorf("new signing key %s, want the one published ahead, %s", kid, before[1])
	}
	after := ts.kids(t)
	if len(after) != 3 || after[0] != oldKID || after[1] != kid || slices.Contains(before, after[2]) {
		t.Fatalf("keys after rotation %v (before %v)", after, before)
	}
	fresh := ts.globexToken(t)
	if header, _ := ts.verify(t, fresh.str("access_token")); header["kid"] != kid {
		t.Errorf("token after rotation signed by %v, want %s", header["kid"], kid)
	}
	ts.verify(t, old.str("access_token")) // still verifiable

	// The old key stays until its last token expires (10 more minutes).
	ts.Clock.Add(10*time.Minute - time.Second)
	if kids := ts.kids(t); !slices.Contains(kids, oldKID) {
		t.Fatalf("old key dropped 1s before its last token expired: %v", kids)
	}
	ts.Clock.Add(time.Second)
	if kids := ts.kids(t); slices.Contains(kids, oldKID) || len(kids) != 2 {
		t.Fatalf("old key still published after its last token expired: %v", kids)
	}
}

func TestRotateKeyLongestToken(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "EdDSA" })
	month := ts.mustToken(t, styleRequests[len(styleRequests)-1].req) // /connect/token: 30 days
	ts.globexToken(t)                                                 // 15 minutes
	header, _ := ts.verify(t, month.str("access_token"))
	if _, err := ts.RotateKey(); err != nil {
		t.Fatal(err)
	}
	ts.Clock.Add(authserver.LifetimeConnectToken - time.Second)
	if !slices.Contains(ts.kids(t), header["kid"].(string)) {
		t.Fatal("key dropped while a 30-day token it signed lives")
	}
	ts.verify(t, month.str("access_token"))
	ts.Clock.Add(time.Second)
	if slices.Contains(ts.kids(t), header["kid"].(string)) {
		t.Fatal("key published after its tokens expired")
	}
}

func TestRotateKeyUnused(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
	before := ts.kids(t)
	for range 3 {
		if _, err := ts.RotateKey(); err != nil {
			t.Fatal(err)
		}
	}
	after := ts.kids(t)
	if len(after) != 2 || slices.Contains(after, before[0]) {
		t.Fatalf("keys %v after rotations without tokens (before %v): unused keys should go at once", after, before)
	}
}

// rotations is a slog handler that reports each key rotation.
type rotations chan string

func (r rotations) Enabled(context.Context, slog.Level) bool { return true }
func (r rotations) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r rotations) WithGroup(string) slog.Handler            { return r }
func (r rotations) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message == "signing key rotated" {
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "kid" {
				r <- a.Value.String()
			}
			return true
		})
	}
	return nil
}

func TestRun(t *testing.T) {
	t.Parallel()
	t.Run("no rotation", func(t *testing.T) {
		ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
		ts.Run(context.Background()) // returns at once
	})
	t.Run("rotates until canceled", func(t *testing.T) {
		rotated := make(rotations, 8)
		ts := start(t, func(c *authserver.Config) {
			c.Algorithm = "ES256"
			c.RotateEvery = time.Second
			c.Logger = slog.New(rotated)
		})
		before := ts.kids(t)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { ts.Run(ctx); close(done) }()
		select {
		case kid := <-rotated:
			if kid != before[1] {
				t.Errorf("rotated to %s, want %s", kid, before[1])
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no rotation")
		}
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("Run did not return")
		}
	})
}
