package dpop_test

import (
	"context"
	"fmt"
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

// TestSharedReplayPerKey: with the replay records in a real redis-server
// of little memory and no eviction, one key's proofs are counted and
// refused 429 past MaxEntriesPerKey within a record's lifetime, so that
// one bound token cannot fill Redis: another key's proofs pass, a
// replay is still a replay, and the count lives no longer than the
// longest record (max age, twice the leeway, the margin).
func TestSharedReplayPerKey(t *testing.T) {
	srv := testredis.Start(t, false, "--maxmemory", "3mb", "--maxmemory-policy", "noeviction")
	clk := newClock()
	store, err := redisstore.New(throttle.RedisOptions{URL: srv.URL(), Now: clk.Now, ProbeEvery: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	const perKey = 50
	c := newChecker(t, dpop.Options{Shared: store, MaxAge: time.Minute, Leeway: 10 * time.Second, Now: clk.Now, MaxEntriesPerKey: perKey})
	check := func(k *keywardtest.DPoPKey, jti string) error {
		p := sign(t, k, "GET", testURI, testToken, &keywardtest.ProofOptions{IssuedAt: clk.Now(), JTI: jti})
		_, err := c.Check(context.Background(), dpop.Request{Proofs: []string{p}, Method: "GET", URI: testURI, AccessToken: testToken, BoundTo: k.Thumbprint()})
		return err
	}
	flood, other := newKey(t, "EdDSA"), newKey(t, "ES256")
	for i := range perKey {
		if err := check(flood, fmt.Sprint(i)); err != nil {
			t.Fatalf("proof %d: %v", i, err)
		}
	}
	for _, tc := range []struct {
		name   string
		key    *keywardtest.DPoPKey
		jti    string
		status int
		code   string
		cause  error
	}{
		{"past the key's bound", flood, "over", http.StatusTooManyRequests, dpop.CodeTooManyRequests, dpop.ErrKeyShareFull},
		{"a replay is still a replay", flood, "0", http.StatusUnauthorized, dpop.CodeInvalidProof, dpop.ErrReplayed},
		{"another key", other, "1", 0, "", nil},
	} {
		err := check(tc.key, tc.jti)
		if tc.status == 0 {
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			continue
		}
		wantRefusal(t, err, tc.status, tc.code, tc.cause)
		if e := err.(*dpop.Error); tc.status == http.StatusTooManyRequests && (e.RetryAfter <= 0 || e.RetryAfter > 85*time.Second) {
			t.Fatalf("%s: RetryAfter %s, want up to 85s (the count's window)", tc.name, e.RetryAfter)
		}
	}
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	ttl, err := rc.PTTL(context.Background(), redisstore.DefaultKeyPrefix+"dpop:"+flood.Thumbprint()).Result()
	if err != nil || ttl <= 0 || ttl > 85*time.Second {
		t.Fatalf("the key's count lives %s, %v; want up to 85s", ttl, err)
	}
}
