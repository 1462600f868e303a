package redisstore

import (
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
)

// benchLimits never refuse.
var benchLimits = throttle.Limits{MaxClientFailures: math.MaxInt, MaxAddrFailures: math.MaxInt, Window: time.Minute}

// benchThrottles are a Throttle in memory, and one on a redis-server of the
// benchmark's own on loopback.
func benchThrottles(b *testing.B) map[string]*throttle.Throttle {
	srv := testredis.Start(b, false)
	s, err := New(throttle.RedisOptions{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return map[string]*throttle.Throttle{"memory": throttle.New(benchLimits, time.Now), "redis": throttle.NewWithStore(benchLimits, s, time.Now)}
}

// BenchmarkReserve: one check's cost in the throttle, a failure (Reserve,
// Fail) or a good pair (Reserve, Cancel), in memory and with Redis on
// loopback, one at a time and from parallel goroutines.
func BenchmarkReserve(b *testing.B) {
	for _, store := range []string{"memory", "redis"} {
		for _, end := range []string{"Fail", "Cancel"} {
			b.Run(store+"/"+end, func(b *testing.B) {
				th := benchThrottles(b)[store]
				for b.Loop() {
					r, _ := th.Reserve("acme", "192.0.2.1")
					if r == nil {
						b.Fatal("refused")
					}
					if end == "Fail" {
						r.Fail()
					} else {
						r.Cancel()
					}
				}
			})
			b.Run(store+"/"+end+"/parallel", func(b *testing.B) {
				th := benchThrottles(b)[store]
				var n atomic.Int64
				b.RunParallel(func(pb *testing.PB) {
					addr := fmt.Sprint("192.0.2.", n.Add(1))
					for pb.Next() {
						r, _ := th.Reserve("acme", addr)
						if r == nil {
							b.Error("refused")
							return
						}
						if end == "Fail" {
							r.Fail()
						} else {
							r.Cancel()
						}
					}
				})
			})
		}
	}
}
