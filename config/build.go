package config

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/throttle"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	_ "github.com/keyward/keyward/redisthrottle" // the store of credentials.throttle.redis
)

// Config checks f and builds the dualauth.Config it describes, with a key
// set per issuer: jwks.NewRemote for jwks_url, jwks.NewDiscovered for
// discovery and jwks.LoadPEMFile for public_key_file. Remote sets use the
// jwt.jwks options and the issuer's allow_insecure_http, log to
// opts.Logger and refresh in the background. An unreachable key server does
// not fail Config; an unreadable public key file does. Nothing is fetched
// before the whole file has been checked.
//
// With credentials.clients_file, Config opens the registry with
// clients.Open (an unreadable or broken file fails Config) and keeps it in
// step with the file, polling every reload_interval, and on SIGHUP with
// opts.ReloadOnSIGHUP; client credentials are then checked by the
// registry (clients.Registry.VerifyClient). With credentials.exchange it builds the
// exchange.Client instead.
//
// Config builds the methods the file describes: a jwtauth.Verifier over
// the key sets (Tokens; also the verifier of the exchanged tokens) and a
// clientauth.Checker over the registry or the exchange (Clients), and
// returns the dualauth.Config that holds them. When an issuer has
// introspection, Config reads its client_secret_file (before any key set
// is fetched) and gives the Verifier a clientauth.Guard on the budgets of
// credentials.throttle (the defaults without it; with its redis, the
// Checker's counters), which the Verifier closes.
//
// What Config starts runs until ctx ends or it is closed: the remote key
// sets (held by Tokens) and the registry's watcher (held by Clients).
// dualauth.New takes both methods over, whether it succeeds or fails, and
// closing the last Authenticator built from them stops them and waits for
// them; a Config never given to New is stopped with its Close method. If
// Config fails, it has stopped whatever it started.
func (f *File) Config(ctx context.Context, opts Options) (dualauth.Config, error) {
	cfg, _, err := f.build(ctx, opts)
	return cfg, err
}

// build is Config, which also returns the Configs it built the methods
// from.
func (f *File) build(ctx context.Context, opts Options) (dualauth.Config, parts, error) {
	p, err := f.checked()
	if err != nil {
		return dualauth.Config{}, parts{}, err
	}
	opts.Logger = f.redactLogger(opts.Logger) // for everything Config starts
	p.jwt.Logger = opts.Logger
	if p.clients != nil {
		p.clients.Logger = opts.Logger
	}
	// The registry is a file too: read before any fetch starts.
	reg, err := f.openClients(opts)
	if err != nil {
		return dualauth.Config{}, parts{}, err
	}
	if err := f.redisFiles(p.throttle.Redis); err != nil {
		return dualauth.Config{}, parts{}, err // nothing has started yet
	}
	if err := f.secretFiles(p.jwt.Issuers); err != nil {
		return dualauth.Config{}, parts{}, err
	}
	if err := f.dpopFiles(p.jwt.DPoP); err != nil {
		return dualauth.Config{}, parts{}, err
	}
	keys, err := f.keys(ctx, opts.Logger)
	if err != nil {
		return dualauth.Config{}, parts{}, err
	}
	for i := range p.jwt.Issuers {
		p.jwt.Issuers[i].Keys = keys[i]
	}
	if f.introspecting() {
		// Guessed opaque tokens count against the caller's address, on
		// the budgets (and the Redis) of credentials.throttle.
		guard, err := clientauth.NewGuard(p.throttle, nil, opts.Logger)
		if err != nil {
			closeKeys(keys)
			return dualauth.Config{}, parts{}, f.validateError(err)
		}
		p.jwt.Throttle = guard // jwtauth.New takes it over, as the key sets
	}
	if p.jwt.DPoP != nil && p.throttle.Redis != nil {
		// Proofs are recorded in the Redis of credentials.throttle, so
		// that a proof replayed to another replica is refused too.
		replay, err := replayStore(p.throttle.Redis, opts.Logger)
		if err != nil {
			closeKeys(keys)
			if c, ok := p.jwt.Throttle.(io.Closer); ok { // the Guard
				_ = c.Close()
			}
			return dualauth.Config{}, parts{}, f.wrap("credentials.throttle.redis", err)
		}
		p.jwt.DPoP.Replay = replay
		// The Verifier closes its Throttle, not DPoP.Replay: the store
		// goes with the Throttle.
		p.jwt.Throttle = &heldThrottle{guard: p.jwt.Throttle, replay: replay}
	}
	cfg := p.core
	if len(p.jwt.Issuers) > 0 {
		tokens, err := jwtauth.New(p.jwt) // closes the key sets if it fails
		if err != nil {
			return dualauth.Config{}, parts{}, f.validateError(err)
		}
		cfg.Tokens = tokens
	}
	if p.clients != nil {
		if reg != nil {
			p.clients.Verifier = watch(ctx, reg, opts.ReloadOnSIGHUP)
		}
		p.clients.Tokens = cfg.Tokens
		clients, err := clientauth.New(*p.clients) // closes the watcher if it fails
		if err != nil {
			_ = cfg.Close()
			return dualauth.Config{}, parts{}, f.validateError(err)
		}
		cfg.Clients = clients
	}
	return cfg, p, nil
}

// redisFiles reads credentials.throttle.redis's pair key and CA files into
// out, the RedisThrottle it describes (nil if none).
func (f *File) redisFiles(out *clientauth.RedisThrottle) error {
	if out == nil {
		return nil
	}
	r := f.Credentials.Throttle.Redis
	if r.PairKeyFile != "" {
		key, err := throttle.LoadPairKey(f.resolve(r.PairKeyFile))
		if err != nil {
			return f.wrap("credentials.throttle.redis.pair_key_file", err)
		}
		out.PairKey = key
	}
	if r.CAFile != "" {
		pem, err := os.ReadFile(f.resolve(r.CAFile))
		if err != nil {
			return f.wrap("credentials.throttle.redis.ca_file", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return f.errorf("credentials.throttle.redis.ca_file", "holds no PEM certificate")
		}
		out.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return nil
}

// resolve returns path relative to the configuration file's directory.
func (f *File) resolve(path string) string {
	if !filepath.IsAbs(path) && f.dir != "" {
		return filepath.Join(f.dir, path)
	}
	return path
}

// openClients opens the registry of credentials.clients_file, or returns
// nil if there is none.
func (f *File) openClients(opts Options) (*clients.Registry, error) {
	c := f.Credentials
	if c == nil || c.ClientsFile == "" {
		return nil, nil
	}
	reg, err := clients.Open(f.resolve(c.ClientsFile), clients.Options{
		ReloadInterval: time.Duration(c.ReloadInterval),
		Logger:         opts.Logger, // the registry names its file in every line
		OnReload:       f.onReload,
	})
	if err != nil {
		return nil, f.wrap("credentials.clients_file", err)
	}
	return reg, nil
}

// keys builds the key set of every issuer. If one fails, the remote sets
// already started are closed.
func (f *File) keys(ctx context.Context, logger *slog.Logger) ([]jwks.Set, error) {
	j := f.JWT
	keys := make([]jwks.Set, len(j.Issuers))
	// Files first, so a missing one fails before any refresh starts.
	for i, iss := range j.Issuers {
		if iss.PublicKeyFile == "" {
			continue
		}
		set, err := jwks.LoadPEMFile(f.resolve(iss.PublicKeyFile))
		if err != nil {
			return nil, f.wrap(fmt.Sprintf("jwt.issuers[%d].public_key_file", i), err)
		}
		keys[i] = set
	}
	// Each NewRemote fetches its set once before it returns (failures are
	// retried in the background); fetching in parallel bounds the start to
	// one timeout however many issuers there are.
	errs := make([]error, len(j.Issuers))
	var wg sync.WaitGroup
	for i, iss := range j.Issuers {
		if iss.PublicKeyFile != "" || (iss.JWKSURL == "" && !iss.Discovery) {
			continue // a file, or none: opaque tokens only
		}
		opts := jwks.Options{
			RefreshInterval:    time.Duration(j.JWKS.RefreshInterval),
			UnknownKIDInterval: time.Duration(j.JWKS.UnknownKIDInterval),
			Timeout:            time.Duration(j.JWKS.Timeout),
			MaxBytes:           j.JWKS.MaxBytes,
			AllowInsecureHTTP:  iss.AllowInsecureHTTP,
		}
		if w := j.JWKS.UnknownKIDWait; w != nil {
			opts.UnknownKIDWait = time.Duration(*w)
			if opts.UnknownKIDWait == 0 {
				opts.UnknownKIDWait = -1 // jwks reads 0 as its default
			}
		}
		if logger != nil {
			opts.Logger = logger.With("issuer", iss.Issuer)
		}
		wg.Go(func() {
			var set *jwks.Remote
			if iss.Discovery {
				set, errs[i] = jwks.NewDiscovered(ctx, iss.Issuer, opts)
			} else {
				set, errs[i] = jwks.NewRemote(ctx, iss.JWKSURL, opts)
			}
			if errs[i] == nil {
				keys[i] = set
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		closeKeys(keys)
		key := fmt.Sprintf("jwt.issuers[%d].jwks_url", i)
		if j.Issuers[i].Discovery {
			key = fmt.Sprintf("jwt.issuers[%d].discovery", i)
		}
		return nil, f.wrap(key, err)
	}
	return keys, nil
}

// closeKeys stops the remote key sets of keys.
func closeKeys(keys []jwks.Set) {
	for _, set := range keys {
		if r, ok := set.(*jwks.Remote); ok {
			r.Close()
		}
	}
}

// watchedRegistry is the clientauth.Config.Verifier of a clients_file: the
// registry, and the goroutine that keeps the
// registry in step with its file, which Close stops.
type watchedRegistry struct {
	clientauth.Verifier
	reg  *clients.Registry
	stop context.CancelFunc
	done chan struct{}
}

// watch starts keeping reg in step with its file until ctx ends or the
// returned verifier is closed.
func watch(ctx context.Context, reg *clients.Registry, sighup bool) *watchedRegistry {
	ctx, stop := context.WithCancel(ctx)
	v := &watchedRegistry{Verifier: reg, reg: reg, stop: stop, done: make(chan struct{})}
	var signals []os.Signal
	if sighup {
		signals = append(signals, syscall.SIGHUP)
	}
	go func() {
		defer close(v.done)
		reg.Watch(ctx, signals...)
	}()
	return v
}

// Generation is the registry's: cached verifications are dropped whenever a
// reload changed it.
func (v *watchedRegistry) Generation() uint64 { return v.reg.Generation() }

// Close stops watching the file and waits until the watcher has returned;
// the registry keeps verifying what it holds. Close is idempotent.
func (v *watchedRegistry) Close() error {
	v.stop()
	<-v.done
	return nil
}
