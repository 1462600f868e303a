// Package redisstore is the throttle.Store on Redis that replicas share.
// Programs link it (and go-redis) only when they import it: package
// redisthrottle does so, and registers it with package throttle.
package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/keyward/keyward/internal/throttle"
)

// Defaults of throttle.RedisOptions.
const (
	DefaultKeyPrefix  = "keyward:"
	DefaultTimeout    = 100 * time.Millisecond
	DefaultProbeEvery = time.Second
)

// BytesPerCounter is about what one failure counter costs in Redis
// (its hash, its expiry and its place in the index of counters): 350 to
// 380 bytes measured with keys of IPv6 /64 addresses on Redis 7.0, so the
// default bound takes about 40 MB.
const BytesPerCounter = 400

// Store is a throttle.Store in Redis, shared by every process that uses the
// same server, database and key prefix. Each method is one round trip (a
// Lua script for Take and Refund), and windows end by Redis key expiry
// (PEXPIRE), on Redis's clock. It needs Redis 5 or later, one server (not
// Cluster: the index of counters is one key).
//
// A flood of fresh addresses cannot fill Redis: the store keeps at most
// MaxCounters failure counters (an index of them, ordered by when their
// windows end, lives under KeyPrefix+"counters"), and at the bound the one
// that ends first is deleted to make room. The markers of throttle.Known pairs are
// not counted: there is one per pair that verified.
//
// Keyward needs maxmemory-policy noeviction (or no maxmemory), and a
// maxmemory above MaxCounters × BytesPerCounter: an eviction policy
// drops counters silently, which gives their budgets back, whereas a full
// Redis under noeviction refuses the write, which the store reports as an
// error and a Throttle then fails closed on. The first call Redis answers
// reads its maxmemory settings (CONFIG GET), and logs a warning if they
// fall short.
//
// When Redis answers with an error (a full Redis included) or not within
// the timeout, the method returns an error, the outage is logged once, and
// StoreErrors counts it; while it lasts, only one call per ProbeEvery tries
// Redis, and the others return an error at once. The first of those tries
// that Redis answers ends the outage, which is logged too.
//
// A store whose Redis restarts without persistence forgets its windows.
type Store struct {
	client     *redis.Client
	prefix     string
	timeout    time.Duration
	probeEvery time.Duration
	logger     *slog.Logger
	now        func() time.Time
	url        string // redacted
	maxCounter int

	errors  atomic.Uint64
	down    atomic.Bool
	checked atomic.Bool // the server's maxmemory settings were read

	mu           sync.Mutex // guards the outage fields
	downSince    time.Time
	nextProbe    time.Time
	outageErrors uint64
}

var _ throttle.Store = (*Store)(nil)

// indexKey, after the prefix, names the index of counters; no counter key
// (which starts with "{") nor marker key (which starts with "k:") is it.
const indexKey = "counters"

// errDown answers a call made while Redis is known unavailable.
var errDown = errors.New("throttle: redis is unavailable")

// New returns a Store for opts. It does not connect: a
// Redis unavailable at start is an outage like any other (see Ping).
func New(opts throttle.RedisOptions) (*Store, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		// url.Parse quotes the URL, and may quote part of a password.
		return nil, errors.New("throttle: the redis URL does not parse (it is not repeated here: it may hold a password)")
	}
	redacted := RedactURL(opts.URL)
	switch {
	case u.Scheme != "redis" && u.Scheme != "rediss":
		return nil, fmt.Errorf("throttle: redis URL %s: the scheme must be redis or rediss", redacted)
	case u.Opaque != "" || u.Host == "":
		// redis:user:pw@host parses as an opaque URL, which go-redis
		// would dial as localhost:6379: another server than meant.
		return nil, fmt.Errorf("throttle: redis URL %s: it needs a host, as in redis://[user:password@]host[:port][/db]", redacted)
	}
	o, err := redis.ParseURL(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("throttle: redis URL %s: %s", redacted, withoutURLParts(err.Error(), u))
	}
	if opts.TLSConfig != nil {
		if o.TLSConfig == nil {
			return nil, fmt.Errorf("throttle: redis URL %s: a TLS configuration needs a rediss:// URL", redacted)
		}
		tc := opts.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = o.TLSConfig.ServerName
		}
		if tc.MinVersion == 0 {
			tc.MinVersion = tls.VersionTLS12
		}
		tc.InsecureSkipVerify = tc.InsecureSkipVerify || o.TLSConfig.InsecureSkipVerify
		o.TLSConfig = tc
	}
	if opts.MaxCounters < 0 || opts.MaxCounters == 1 {
		return nil, fmt.Errorf("throttle: redis max counters is %d; it needs at least 2 (or 0 for %d)", opts.MaxCounters, throttle.MaxCounters)
	}
	timeout := orDefault(opts.Timeout, DefaultTimeout)
	o.DialTimeout = timeout
	o.ReadTimeout = timeout
	o.WriteTimeout = timeout
	o.PoolTimeout = timeout
	o.ContextTimeoutEnabled = true
	o.DialerRetries = 1
	// A command retried after its answer was lost could count a failure
	// twice: a caller falls back to memory instead.
	o.MaxRetries = -1
	o.DisableIdentity = true
	if o.Protocol == 0 {
		o.Protocol = 2
	}
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}

	s := &Store{
		client:     redis.NewClient(o),
		prefix:     opts.KeyPrefix,
		timeout:    timeout,
		probeEvery: orDefault(opts.ProbeEvery, DefaultProbeEvery),
		logger:     opts.Logger,
		now:        opts.Now,
		url:        redacted,
		maxCounter: opts.MaxCounters,
	}
	if s.maxCounter == 0 {
		s.maxCounter = throttle.MaxCounters
	}
	if s.prefix == "" {
		s.prefix = DefaultKeyPrefix
	}
	if s.logger == nil {
		s.logger = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// RedactURL returns rawURL for logs and errors with its user information
// and every query value replaced by "…" (a password can sit in either); a
// URL that does not parse, or has no host (where a password can land in
// the path), is replaced whole.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	switch {
	case err != nil:
		return "(a redis URL that does not parse)"
	case u.Opaque != "" || u.Host == "":
		return "(a redis URL without a host)"
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString("…@")
	}
	b.WriteString(u.Host + u.EscapedPath())
	if u.RawQuery != "" {
		sep := "?"
		for pair := range strings.SplitSeq(u.RawQuery, "&") {
			name, _, _ := strings.Cut(pair, "=")
			b.WriteString(sep + name + "=…")
			sep = "&"
		}
	}
	return b.String()
}

// withoutURLParts is msg with every part of u that may hold a secret (the
// user name and password, the path, the query values) replaced by "…":
// go-redis quotes some of them in its errors.
func withoutURLParts(msg string, u *url.URL) string {
	var parts []string
	if u.User != nil {
		parts = append(parts, u.User.Username())
		if pw, ok := u.User.Password(); ok {
			parts = append(parts, pw)
		}
	}
	parts = append(parts, u.Path, u.RawPath)
	for _, values := range u.Query() {
		parts = append(parts, values...)
	}
	// The longest first, so that a part inside another goes with it.
	slices.SortFunc(parts, func(a, b string) int { return len(b) - len(a) })
	for _, p := range parts {
		if len(p) > 1 { // a one-character part would blot out the message
			msg = strings.ReplaceAll(msg, p, "…")
		}
	}
	return msg
}

// String returns the store's URL, its password redacted.
func (s *Store) String() string { return s.url }

// StoreErrors is the number of calls that Redis did not serve: those that
// failed or timed out, and those not sent because it was unavailable. Each
// one was answered from a process's memory instead, or, for a refund or a
// marker, skipped.
func (s *Store) StoreErrors() uint64 { return s.errors.Load() }

// Available reports whether Redis answered the last call tried (true
// before any).
func (s *Store) Available() bool { return !s.down.Load() }

// Close closes the connections to Redis.
func (s *Store) Close() error { return s.client.Close() }

// Ping asks Redis to answer, as any call does: an error is an outage,
// logged and counted, and an answer may end one.
func (s *Store) Ping(ctx context.Context) error {
	return s.do(ctx, func(ctx context.Context) error { return s.client.Ping(ctx).Err() })
}

// do runs call against Redis within the timeout, unless Redis is known
// unavailable and it is not time to probe, and keeps the outage state.
func (s *Store) do(ctx context.Context, call func(context.Context) error) error {
	probe := false
	if s.down.Load() {
		s.mu.Lock()
		if now := s.now(); s.down.Load() && now.Before(s.nextProbe) {
			s.outageErrors++
			s.mu.Unlock()
			s.errors.Add(1)
			return errDown
		} else if s.down.Load() {
			s.nextProbe = now.Add(s.probeEvery)
			probe = true
		}
		s.mu.Unlock()
	}
	cctx, cancel := context.WithTimeout(ctx, s.timeout)
	err := call(cctx)
	cancel()
	if err != nil && ctx.Err() != nil {
		return err // the caller gave up: nothing learnt of Redis
	}
	if err == nil {
		if probe {
			s.recovered()
		}
		if s.checked.CompareAndSwap(false, true) {
			s.checkServer(context.WithoutCancel(ctx))
		}
		return nil
	}
	s.errors.Add(1)
	s.failed(err)
	return err
}

// failed notes a call Redis did not serve, and logs the outage it starts.
func (s *Store) failed(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.outageErrors++
	s.nextProbe = now.Add(s.probeEvery)
	if s.down.Load() {
		return
	}
	s.down.Store(true)
	s.downSince = now
	s.logger.Warn("throttle: redis is unavailable; failed client checks cannot be counted across replicas until it is back",
		"redis", s.url, "error", err.Error())
}

// recovered ends an outage, and logs it.
func (s *Store) recovered() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.down.Load() {
		return
	}
	s.down.Store(false)
	s.logger.Info("throttle: redis is available again; failed client checks are counted across replicas",
		"redis", s.url, "outage", s.now().Sub(s.downSince).Round(time.Millisecond).String(), "calls_not_served", s.outageErrors)
	s.outageErrors = 0
}

// takeScript counts one failure under each counter if every one has room.
// KEYS[1] is the index of counters, a sorted set of their keys by the time
// their windows end; KEYS[1+i] are the counters. ARGV[1] is the window in
// milliseconds, ARGV[2] the id of a window this call starts, ARGV[3] the
// most counters the index may hold, ARGV[3+i] the budget of KEYS[1+i]. A
// counter is a hash: n, the failures, and w, its window's id. It answers
// {1, id...} with each counter's window id, or {0, pttl} with the spent
// counter's time to live.
//
// Each counter's first write is HINCRBY or HSET, which a Redis at
// maxmemory refuses: the script then fails whole, with nothing written,
// rather than running past maxmemory (a script that has written is let
// through).
var takeScript = redis.NewScript(`
local index, window, most = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[3])
local n = #KEYS - 1
local ids = {}
for i = 1, n do
  local v = redis.call('HMGET', KEYS[1 + i], 'n', 'w')
  if v[2] then
    if tonumber(v[1] or 0) >= tonumber(ARGV[3 + i]) then
      return {0, redis.call('PTTL', KEYS[1 + i])}
    end
    ids[i] = v[2]
  elseif tonumber(ARGV[3 + i]) < 1 then
    return {0, -1}
  end
end
local now
for i = 1, n do
  local key = KEYS[1 + i]
  if ids[i] then
    redis.call('HINCRBY', key, 'n', 1)
    if redis.call('PTTL', key) < 0 then
      redis.call('PEXPIRE', key, window)
    end
  else
    redis.call('HSET', key, 'n', 1, 'w', ARGV[2])
    redis.call('PEXPIRE', key, window)
    if not now then
      local t = redis.call('TIME')
      now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
      redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
    end
    local over = redis.call('ZCARD', index) + 1 - most
    if over > 0 then
      -- The counters that end first make room; this call's own never do.
      local dropped = 0
      for _, old in ipairs(redis.call('ZRANGE', index, 0, over + n - 1)) do
        if dropped == over then break end
        local mine = false
        for j = 2, #KEYS do
          if KEYS[j] == old then mine = true end
        end
        if not mine then
          redis.call('ZREM', index, old)
          redis.call('DEL', old)
          dropped = dropped + 1
        end
      end
    end
    redis.call('ZADD', index, now + window, key)
    ids[i] = ARGV[2]
  end
end
if now and redis.call('PTTL', index) < window then
  redis.call('PEXPIRE', index, window)
end
return {1, unpack(ids, 1, n)}
`)

// refundScript takes back one failure under each of KEYS whose window id
// is still ARGV[i].
var refundScript = redis.NewScript(`
for i, key in ipairs(KEYS) do
  local v = redis.call('HMGET', key, 'n', 'w')
  if v[2] == ARGV[i] and tonumber(v[1] or 0) > 0 then
    redis.call('HINCRBY', key, 'n', -1)
  end
end
return 0
`)

// Take implements throttle.Store, in one round trip.
func (s *Store) Take(ctx context.Context, window time.Duration, budgets []throttle.Budget) (throttle.Taken, error) {
	ms := max(window.Milliseconds(), 1)
	keys := make([]string, 1, 1+len(budgets))
	keys[0] = s.prefix + indexKey
	args := make([]any, 0, 3+len(budgets))
	args = append(args, ms, strconv.FormatUint(rand.Uint64(), 10), s.maxCounter)
	for _, b := range budgets {
		keys = append(keys, s.prefix+b.Key)
		args = append(args, b.Max)
	}
	var taken throttle.Taken
	err := s.do(ctx, func(ctx context.Context) error {
		v, err := takeScript.Run(ctx, s.client, keys, args...).Slice()
		if err != nil {
			return err
		}
		taken, err = parseTaken(v, window, budgets)
		return err
	})
	if err != nil {
		return throttle.Taken{}, err
	}
	return taken, nil
}

// parseTaken reads takeScript's answer.
func parseTaken(v []any, window time.Duration, budgets []throttle.Budget) (throttle.Taken, error) {
	bad := errors.New("throttle: redis answered the count script unexpectedly")
	if len(v) < 1 {
		return throttle.Taken{}, bad
	}
	ok, _ := v[0].(int64)
	if ok == 0 {
		if len(v) != 2 {
			return throttle.Taken{}, bad
		}
		pttl, _ := v[1].(int64)
		if pttl <= 0 {
			return throttle.Taken{Retry: window}, nil
		}
		return throttle.Taken{Retry: time.Duration(pttl) * time.Millisecond}, nil
	}
	if len(v) != 1+len(budgets) {
		return throttle.Taken{}, bad
	}
	claims := make([]throttle.Claim, len(budgets))
	for i, b := range budgets {
		str, _ := v[1+i].(string)
		id, err := strconv.ParseUint(str, 10, 64)
		if err != nil {
			return throttle.Taken{}, bad
		}
		claims[i] = throttle.Claim{Key: b.Key, Window: id}
	}
	return throttle.Taken{OK: true, Claims: claims}, nil
}

// Refund implements throttle.Store, in one round trip.
func (s *Store) Refund(ctx context.Context, claims []throttle.Claim) error {
	if len(claims) == 0 {
		return nil
	}
	keys := make([]string, len(claims))
	args := make([]any, len(claims))
	for i, c := range claims {
		keys[i] = s.prefix + c.Key
		args[i] = strconv.FormatUint(c.Window, 10)
	}
	return s.do(ctx, func(ctx context.Context) error {
		return refundScript.Run(ctx, s.client, keys, args...).Err()
	})
}

// Mark implements throttle.Store.
func (s *Store) Mark(ctx context.Context, key string, ttl time.Duration) error {
	return s.do(ctx, func(ctx context.Context) error {
		return s.client.Set(ctx, s.prefix+key, "1", max(ttl, time.Millisecond)).Err()
	})
}

// Marked implements throttle.Store.
func (s *Store) Marked(ctx context.Context, key string) (bool, error) {
	var n int64
	err := s.do(ctx, func(ctx context.Context) (err error) {
		n, err = s.client.Exists(ctx, s.prefix+key).Result()
		return err
	})
	return n > 0, err
}

// Unmark implements throttle.Store.
func (s *Store) Unmark(ctx context.Context, key string) error {
	return s.do(ctx, func(ctx context.Context) error {
		return s.client.Del(ctx, s.prefix+key).Err()
	})
}

// checkServer reads Redis's maxmemory settings once, and logs what falls
// short of what the store needs. A Redis that refuses CONFIG (a managed
// one, say) is told of in an info line.
func (s *Store) checkServer(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cfg, err := s.client.ConfigGet(ctx, "maxmemory*").Result()
	if err != nil {
		s.logger.Info("throttle: could not read redis's maxmemory settings; the throttle needs maxmemory-policy noeviction",
			"redis", s.url, "error", err.Error())
		return
	}
	maxMemory, _ := strconv.ParseInt(cfg["maxmemory"], 10, 64)
	for _, w := range memoryWarnings(cfg["maxmemory-policy"], maxMemory, s.otherMemory(ctx), s.maxCounter) {
		s.logger.Warn(w, "redis", s.url)
	}
}

// otherMemory is what Redis uses for anything but the counters it holds
// for this store (INFO's used_memory, less the counters' share): an empty
// Redis already uses about a megabyte. 0 if it cannot be read.
func (s *Store) otherMemory(ctx context.Context) int64 {
	info, err := s.client.InfoMap(ctx, "memory").Result()
	if err != nil {
		return 0
	}
	used, _ := strconv.ParseInt(info["Memory"]["used_memory"], 10, 64)
	counters, _ := s.client.ZCard(ctx, s.prefix+indexKey).Result()
	return max(0, used-counters*BytesPerCounter)
}

// memoryWarnings says what is wrong with a Redis whose maxmemory is
// maxMemory bytes (0: no bound), of which other are taken by other things,
// and maxmemory-policy policy, for a store of maxCounters counters.
func memoryWarnings(policy string, maxMemory, other int64, maxCounters int) []string {
	if maxMemory <= 0 {
		return nil
	}
	var out []string
	if policy != "noeviction" {
		out = append(out, fmt.Sprintf("throttle: redis has maxmemory-policy %s: when it is full it evicts failure counters, "+
			"which gives their budgets back to guessers; set maxmemory-policy noeviction (on a Redis of the throttle's own)", policy))
	}
	if need := int64(maxCounters) * BytesPerCounter; maxMemory < other+need {
		out = append(out, fmt.Sprintf("throttle: redis maxmemory is %d bytes, less than the %d or so that %d failure counters take "+
			"beside the %d bytes Redis uses for other things: once it is full, checks it cannot count are refused; "+
			"raise maxmemory or lower the bound on counters",
			maxMemory, need, maxCounters, other))
	}
	return out
}
