package dpop_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/dpop"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
	"github.com/keyward/keyward/internal/throttle/redisstore"
	"github.com/keyward/keyward/keywardtest"
)

// TestSharedReplay checks two checkers (two replicas) sharing one real
// redis-server: a proof one accepted is a replay to the other; the record
// lives as long as the proof's iat passes plus the margin; while Redis is
// down every proof is refused 503 (fail closed: a proof that cannot be
// recorded could be replayed); and proofs pass again once Redis is back.
func TestSharedReplay(t *testing.T) {
	srv := testredis.Start(t, false)
	clk := newClock()
	replica := func() *dpop.Checker {
		store, err := redisstore.New(throttle.RedisOptions{URL: srv.URL(), Now: clk.Now, ProbeEvery: time.Second,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		return newChecker(t, dpop.Options{Shared: store, MaxAge: time.Minute, Leeway: 10 * time.Second, Now: clk.Now})
	}
	a, b := replica(), replica()
	k := newKey(t, "ES256")
	request := func(jti string) dpop.Request {
		p := sign(t, k, "GET", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: clk.Now(), JTI: jti})
		return dpop.Request{Proofs: []string{p}, Method: "GET", URI: testURI, AccessToken: testToken, BoundTo: k.Thumbprint()}
	}
	ctx := context.Background()

	first := request("first")
	if _, err := a.Check(ctx, first); err != nil {
		t.Fatalf("replica a: %v", err)
	}
	_, err := b.Check(ctx, first)
	wantRefusal(t, err, http.StatusUnauthorized, dpop.CodeInvalidProof, dpop.ErrReplayed)
	_, err = a.Check(ctx, first)
	wantRefusal(t, err, http.StatusUnauthorized, dpop.CodeInvalidProof, dpop.ErrReplayed)
	if _, err := b.Check(ctx, request("second")); err != nil {
		t.Fatalf("replica b, a new proof: %v", err)
	}

	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	keys, err := rc.Keys(ctx, redisstore.DefaultKeyPrefix+"dpop:"+k.Thumbprint()+":*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v, %v; want the two proofs' records", keys, err)
	}
	for _, key := range keys {
		if strings.Contains(key, "first") || strings.Contains(key, "second") {
			t.Fatalf("key %s holds the jti itself, want its hash", key)
		}
		ttl, err := rc.PTTL(ctx, key).Result()
		if err != nil || ttl <= 70*time.Second || ttl > 70*time.Second+dpop.ReplayMargin {
			t.Fatalf("record %s lives %s, %v; want 70s (max age and leeway) plus the margin", key, ttl, err)
		}
	}

	srv.Stop()
	_, err = a.Check(ctx, request("while-down"))
	wantRefusal(t, err, http.StatusServiceUnavailable, dpop.CodeUnavailable, nil)
	if e := err.(*dpop.Error); e.RetryAfter <= 0 {
		t.Fatalf("RetryAfter %s, want a positive wait", e.RetryAfter)
	}
	srv.Restart()
	clk.Add(time.Second) // the next call probes Redis
	if _, err := a.Check(ctx, request("after")); err != nil {
		t.Fatalf("after Redis came back: %v", err)
	}
}
