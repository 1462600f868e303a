package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
)

// usedMemory is Redis's used_memory, in bytes.
func usedMemory(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no used_memory in INFO memory:\n%s", info)
	return 0
}

// flood sends one failed check for each of n fresh IPv6 /64s, from
// prefix's block, to the replicas in turn.
func flood(replicas []*replica, block, n int) {
	for i := range n {
		addr := fmt.Sprintf("2001:db8:%x:%x::/64", block, i)
		guess(replicas[i%len(replicas)].th, "acme", addr)
	}
}

// guesses counts the checks of tries guesses at one id from addr that the
// replicas, in turn, let run.
func guesses(replicas []*replica, addr string, tries int) int {
	allowed := 0
	for i := range tries {
		if guess(replicas[i%len(replicas)].th, "guessed", addr) {
			allowed++
		}
	}
	return allowed
}

// TestRedisFloodStaysBounded: two replicas on one Redis (noeviction, at a
// small maxmemory or none) take a flood of failed checks from fresh IPv6
// /64s. The counters Redis holds never pass the bound, Redis never fills
// (no write is refused), and a new guesser still gets one budget across
// both replicas, not one each. Before the bound, a 2 MB Redis filled,
// refused writes, and each replica fell back to a budget of its own.
func TestRedisFloodStaysBounded(t *testing.T) {
	for _, tc := range []struct {
		name        string
		maxmemory   string
		maxCounters int
		flood       int
	}{
		{"2 MB, 1,500 counters", "2mb", 1500, 8000},
		{"no maxmemory, 5,000 counters", "0", 5000, 8000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testredis.Start(t, false, "--maxmemory", tc.maxmemory, "--maxmemory-policy", "noeviction")
			raw := rawClient(t, srv)
			ctx := context.Background()
			limits := throttle.Limits{MaxClientFailures: 5, MaxAddrFailures: 50, Window: time.Minute}
			replicas := make([]*replica, 2)
			for i := range replicas {
				logger, buf := testLogger()
				s, err := New(throttle.RedisOptions{URL: srv.URL(), KeyPrefix: "test:", Logger: logger, Timeout: 2 * time.Second, MaxCounters: tc.maxCounters})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = s.Close() })
				replicas[i] = &replica{store: s, th: throttle.NewWithStore(limits, s, time.Now), log: buf}
			}
			before := usedMemory(t, raw)

			flood(replicas, 0, tc.flood)
			keys, indexed := raw.DBSize(ctx).Val(), raw.ZCard(ctx, "test:"+indexKey).Val()
			used := usedMemory(t, raw)
			t.Logf("after %d fresh /64s: %d keys, %d bytes used (%d before; %d per counter)",
				tc.flood, keys, used, before, (used-before)/max(indexed, 1))
			if indexed != int64(tc.maxCounters) || keys != indexed+1 {
				t.Fatalf("%d keys, %d of them indexed; want the bound, %d, and the index", keys, indexed, tc.maxCounters)
			}
			if per := (used - before) / indexed; per > 2*BytesPerCounter {
				t.Fatalf("%d bytes per counter, more than twice BytesPerCounter (%d)", per, BytesPerCounter)
			}
			if ttl := raw.PTTL(ctx, "test:"+indexKey).Val(); ttl <= 0 || ttl > limits.Window {
				t.Fatalf("the index's time to live is %s, want within the window", ttl)
			}
			for i, rep := range replicas {
				if n := rep.store.StoreErrors(); n != 0 {
					t.Fatalf("replica %d: %d store errors during the flood:\n%s", i, n, rep.log.String())
				}
			}

			// A new guesser gets one budget across both replicas.
			if n := guesses(replicas, "2001:db8:ffff:1::/64", 20); n != limits.MaxClientFailures {
				t.Fatalf("a guesser got %d checks across two replicas, want %d", n, limits.MaxClientFailures)
			}
			// Its counters are among the newest: a flood smaller than the
			// bound does not push them out.
			flood(replicas, 1, tc.maxCounters/4)
			if n := guesses(replicas, "2001:db8:ffff:1::/64", 4); n != 0 {
				t.Fatalf("after a smaller flood the guesser got %d more checks", n)
			}
			// A client from an address the flood never used is not locked out.
			if !guess(replicas[0].th, "globex", "198.51.100.7") {
				t.Fatal("a fresh address was refused after the flood")
			}
			if keys := raw.DBSize(ctx).Val(); keys > int64(tc.maxCounters)+1 {
				t.Fatalf("%d keys at the end, bound %d", keys, tc.maxCounters)
			}
		})
	}
}

// fillRedis floods the replicas with fresh /64s until Redis, under
// noeviction, refuses a write, as in the report that found the split (its
// maxmemory is below what the bound on counters needs). Then it sets
// maxmemory below what Redis uses, so that Redis stays full whatever it
// frees meanwhile (idle clients' buffers, say).
func fillRedis(t *testing.T, srv *testredis.Server, replicas []*replica) {
	t.Helper()
	for i := 0; replicas[0].store.StoreErrors()+replicas[1].store.StoreErrors() == 0; i++ {
		if i == 100_000 {
			t.Fatal("100,000 fresh addresses did not fill a 2 MB Redis")
		}
		guess(replicas[i%2].th, "acme", fmt.Sprintf("2001:db8:1:%x::/64", i))
	}
	raw := rawClient(t, srv)
	if err := raw.ConfigSet(context.Background(), "maxmemory", strconv.FormatInt(usedMemory(t, raw)/2, 10)).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisFullFailsClosed: with Redis full (noeviction refuses every
// write; a maxmemory below what the bound on counters needs), a guesser alternating between two replicas gets no more than one
// budget in all: none by default, and with throttle.Limits.Replicas each replica's
// share. Before, each replica fell back to a whole budget of its own.
func TestRedisFullFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
		want     int
	}{
		{"default: refuse", 0, 0},
		{"Replicas 2: half a budget each", 2, 4},
		{"Replicas 3: a third each", 3, 2},
		{"Replicas 1 understated: a whole budget each", 1, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testredis.Start(t, false, "--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
			limits := throttle.Limits{MaxClientFailures: 5, MaxAddrFailures: 50, Window: time.Minute, Replicas: tc.replicas}
			replicas := []*replica{newReplica(t, srv.URL(), limits), newReplica(t, srv.URL(), limits)}
			fillRedis(t, srv, replicas)

			if n := guesses(replicas, "2001:db8:ffff:1::/64", 20); n != tc.want {
				t.Fatalf("with Redis full a guesser got %d checks across two replicas, want %d", n, tc.want)
			}
			r, retry, err := replicas[1].th.Admit("guessed", "2001:db8:ffff:1::/64")
			switch {
			case r != nil:
				t.Fatal("a check past the budget was let through")
			case tc.want == 0 && (!errors.Is(err, throttle.ErrStoreUnavailable) || retry != time.Second):
				t.Fatalf("refusal: %v, %s; want throttle.ErrStoreUnavailable, a second", err, retry)
			case tc.want > 0 && err != nil:
				t.Fatalf("refusal past the share: %v; want a spent budget", err)
			}
			for i, rep := range replicas {
				if rep.store.StoreErrors() == 0 || !strings.Contains(rep.log.String(), "OOM") {
					t.Fatalf("replica %d: %d store errors, log:\n%s", i, rep.store.StoreErrors(), rep.log.String())
				}
			}
		})
	}
}

// TestRedisServerCheck: the first call Redis answers reads its maxmemory
// settings, and warns once when an eviction policy could drop counters or
// maxmemory cannot hold the bound; a Redis that refuses CONFIG is told of
// in an info line.
func TestRedisServerCheck(t *testing.T) {
	for _, tc := range []struct {
		name        string
		args        []string
		maxCounters int
		want        []string // in the log, once each; none: no line about Redis's settings
	}{
		{"noeviction, no maxmemory", nil, 0, nil},
		{"allkeys-lru", []string{"--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru"}, 0,
			[]string{"level=WARN msg=\"throttle: redis has maxmemory-policy allkeys-lru"}},
		{"volatile-ttl", []string{"--maxmemory", "64mb", "--maxmemory-policy", "volatile-ttl"}, 0,
			[]string{"level=WARN msg=\"throttle: redis has maxmemory-policy volatile-ttl"}},
		{"eviction without maxmemory never evicts", []string{"--maxmemory-policy", "allkeys-lru"}, 0, nil},
		{"maxmemory below the bound", []string{"--maxmemory", "2mb"}, 0,
			[]string{"level=WARN msg=\"throttle: redis maxmemory is 2097152 bytes, less than the 40000000 or so that 100000 failure counters take"}},
		{"maxmemory above a lowered bound", []string{"--maxmemory", "2mb"}, 2000, nil},
		// An empty Redis uses about 1 MB: 1.5 MB holds 2,000 counters (800 KB)
		// on paper, not beside that.
		{"maxmemory above the bound but not above what Redis uses too", []string{"--maxmemory", "1500kb"}, 2000,
			[]string{"level=WARN msg=\"throttle: redis maxmemory is 1536000 bytes, less than the 800000 or so that 2000 failure counters take beside the"}},
		{"noeviction, room for the bound", []string{"--maxmemory", "64mb"}, 0, nil},
		{"both", []string{"--maxmemory", "2mb", "--maxmemory-policy", "allkeys-random"}, 0,
			[]string{"maxmemory-policy allkeys-random", "less than the 40000000"}},
		{"CONFIG refused", []string{"--rename-command", "CONFIG", ""}, 0,
			[]string{"level=INFO msg=\"throttle: could not read redis's maxmemory settings; the throttle needs maxmemory-policy noeviction\""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := testredis.Start(t, false, tc.args...)
			logger, buf := testLogger()
			s, err := New(throttle.RedisOptions{URL: srv.URL(), KeyPrefix: "test:", Logger: logger, Timeout: 2 * time.Second, MaxCounters: tc.maxCounters})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			th := throttle.NewWithStore(throttle.Limits{MaxClientFailures: 5, MaxAddrFailures: 50, Window: time.Minute}, s, time.Now)
			for i := range 3 {
				if !guess(th, "acme", fmt.Sprint("192.0.2.", i)) {
					t.Fatal("a check was refused")
				}
			}
			log := buf.String()
			for _, w := range tc.want {
				if n := strings.Count(log, w); n != 1 {
					t.Errorf("%q logged %d times, want once:\n%s", w, n, log)
				}
			}
			if lines := strings.Count(log, "\n"); lines != len(tc.want) {
				t.Errorf("%d lines logged, want %d:\n%s", lines, len(tc.want), log)
			}
			if s.StoreErrors() != 0 {
				t.Errorf("reading the settings counted %d store errors", s.StoreErrors())
			}
		})
	}
}

// TestRedisMaxCountersOption: a bound below two (a check makes two
// counters) or negative is refused; zero is the in-memory bound.
func TestRedisMaxCountersOption(t *testing.T) {
	for _, tc := range []struct {
		maxCounters, want int // want 0: refused
	}{{-1, 0}, {1, 0}, {0, throttle.MaxCounters}, {2, 2}, {5000, 5000}} {
		s, err := New(throttle.RedisOptions{URL: "redis://127.0.0.1:6379/0", MaxCounters: tc.maxCounters})
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("MaxCounters %d accepted", tc.maxCounters)
		case tc.want != 0 && err != nil:
			t.Errorf("MaxCounters %d: %v", tc.maxCounters, err)
		case tc.want != 0 && s.maxCounter != tc.want:
			t.Errorf("MaxCounters %d: bound %d, want %d", tc.maxCounters, s.maxCounter, tc.want)
		}
		if s != nil {
			_ = s.Close()
		}
	}
}
