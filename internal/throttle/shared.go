package throttle

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"time"
)

// RedisOptions configure a Store on Redis (see OpenRedis).
type RedisOptions struct {
	// URL is redis://[user:password@]host[:port][/db] or rediss:// for
	// TLS, with go-redis's query options (such as skip_verify=true for
	// rediss://). The password is never written to an error or a log.
	URL string
	// KeyPrefix starts every key the store writes; redisstore.DefaultKeyPrefix
	// if empty. Replicas that share budgets share it.
	KeyPrefix string
	// Timeout bounds each call to Redis, connecting included;
	// redisstore.DefaultTimeout if zero.
	Timeout time.Duration
	// ProbeEvery is, while Redis is unavailable, how often one call tries
	// it again; the others are answered in memory at once.
	// redisstore.DefaultProbeEvery if zero.
	ProbeEvery time.Duration
	// TLSConfig, if not nil, is used for a rediss:// URL (to trust a
	// private CA, or to present a client certificate); its ServerName
	// defaults to the URL's host. It is an error with a redis:// URL.
	TLSConfig *tls.Config
	// Logger gets one line when Redis becomes unavailable and one when it
	// is back; slog.Default() if nil.
	Logger *slog.Logger
	// Now is the clock of ProbeEvery; time.Now if nil. Windows are on
	// Redis's clock.
	Now func() time.Time
	// MaxCounters bounds the failure counters the store keeps in Redis
	// under KeyPrefix; MaxCounters (the in-memory bound) if zero. At the
	// bound, the counter that ends first makes room, as in memory. Size
	// Redis's maxmemory for it: about redisstore.BytesPerCounter each.
	MaxCounters int
}

// SharedStore is a Store that several processes share, as the one on
// Redis is, with what its owner needs besides.
type SharedStore interface {
	Store
	// StoreErrors is the number of calls the store did not serve (each
	// answered from a process's memory instead, or skipped).
	StoreErrors() uint64
	// Close releases the store's connections.
	Close() error
}

// ErrNoRedis is OpenRedis's error in a program that does not link the
// Redis store. It names the import that links it.
var ErrNoRedis = errors.New(`throttle: this program does not link the Redis store; import _ "github.com/keyward/keyward/redisthrottle"`)

// openRedis opens a Store on Redis; nil until RegisterRedis is called.
var openRedis func(RedisOptions) (SharedStore, error)

// RegisterRedis makes OpenRedis open stores with open. Package
// redisthrottle calls it from its init, so that only the programs that
// import it link go-redis; call it from an init function only.
func RegisterRedis(open func(RedisOptions) (SharedStore, error)) { openRedis = open }

// OpenRedis returns a Store on the Redis of opts, which it checks but does
// not connect to, or ErrNoRedis if none is registered.
func OpenRedis(opts RedisOptions) (SharedStore, error) {
	if openRedis == nil {
		return nil, ErrNoRedis
	}
	return openRedis(opts)
}
