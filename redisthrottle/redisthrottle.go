// Package redisthrottle links the Redis store of the client-credential
// throttle (clientauth.Throttle.Redis) into a program. Import it for its
// effect, as a database/sql driver is imported:
//
//	import _ "github.com/keyward/keyward/redisthrottle"
//
// Package config imports it, so a program that reads its configuration
// with config.Load needs nothing more. Without it, clientauth.New and
// Config.Validate refuse a Config that sets Throttle.Redis,
// naming this import, and a program that keeps its counts in memory links
// neither go-redis nor this package.
package redisthrottle

import (
	"github.com/keyward/keyward/internal/throttle"
	"github.com/keyward/keyward/internal/throttle/redisstore"
)

func init() {
	throttle.RegisterRedis(func(opts throttle.RedisOptions) (throttle.SharedStore, error) {
		s, err := redisstore.New(opts)
		if err != nil {
			return nil, err // not a nil *Store in an interface
		}
		return s, nil
	})
}
