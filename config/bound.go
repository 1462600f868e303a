package config

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/throttle"
	"github.com/keyward/keyward/jwtauth"
)

// DPoP is the jwt.dpop section: DPoP-bound access tokens (RFC 9449),
// jwtauth.Config.DPoP. Without it a token bound to a DPoP key (cnf.jkt) is
// refused, never taken as a Bearer token.
//
// The proofs accepted are recorded for max_age to refuse replays: in this
// process's memory, or, with credentials.throttle.redis, in that Redis, so
// that a proof replayed to another replica is refused too. While that
// Redis cannot answer, DPoP requests are refused 503 with Retry-After (a
// proof that cannot be recorded could be replayed); Bearer requests are
// not affected.
type DPoP struct {
	// Mode is "allowed" (the default: Bearer and DPoP-bound tokens) or
	// "required" (DPoP-bound tokens only; a Bearer token is refused with a
	// challenge that offers DPoP).
	Mode string `yaml:"mode,omitempty"`
	// MaxAge is how old a proof may be (its iat, plus jwt.leeway); 0
	// means 60s, at most 10m.
	MaxAge Duration `yaml:"max_age,omitempty"`
	// Nonce makes every proof carry a nonce this server provides (RFC
	// 9449 §8): a proof without the current one is refused 401
	// use_dpop_nonce with a fresh one in a DPoP-Nonce header.
	Nonce bool `yaml:"nonce,omitempty"`
	// NonceSecretFile is a file of at least 32 bytes (its first line),
	// the key the nonces are made with, relative to the file's directory.
	// Replicas behind one name need the same one: a nonce one of them
	// gave must pass at the others. Without it each process makes a random
	// key when it starts, which suits one replica (a client then gets a
	// new nonce after a restart, at the cost of one retry). Only with
	// nonce: true.
	NonceSecretFile string `yaml:"nonce_secret_file,omitempty"`
	// MaxReplayEntries bounds the proofs remembered in this process's
	// memory (without credentials.throttle.redis), from 1 to
	// MaxCachedTokens; 0 means 100,000. When it is full, the key holding
	// the most gives room to a key below its share and is refused 429.
	MaxReplayEntries int `yaml:"max_replay_entries,omitempty"`
	// MaxReplayEntriesPerKey bounds the proofs of one DPoP key (past it,
	// 429 for that key), from 1 to MaxReplayEntries; 0 means no bound of
	// its own in memory, and 100,000 in Redis, where it always applies.
	MaxReplayEntriesPerKey int `yaml:"max_replay_entries_per_key,omitempty"`
}

// DPoP modes.
const (
	dpopAllowed  = "allowed"
	dpopRequired = "required"
)

// checkDPoP checks the jwt.dpop section.
func (f *File) checkDPoP() error {
	d := f.JWT.DPoP
	const at = "jwt.dpop"
	if d == nil { // absent, or null as every section may be
		return nil
	}
	if len(f.JWT.Issuers) == 0 {
		return f.errorf(at, "needs a jwt issuer: it binds the access tokens of jwt.issuers, and there are none")
	}
	switch d.Mode {
	case "", dpopAllowed, dpopRequired:
		if d.Mode == "" && f.has(at+".mode") {
			return f.errorf(at+".mode", "may not be empty; use allowed or required")
		}
	default:
		return f.errorf(at+".mode", "%s is neither allowed nor required", excerpt.Quote(d.Mode))
	}
	if (d.MaxAge != 0 || f.has(at+".max_age")) && d.MaxAge <= 0 {
		return f.errorf(at+".max_age", "must be positive, such as 60s; omit it for the default, 60s")
	}
	switch {
	case d.NonceSecretFile == "" && f.has(at+".nonce_secret_file"):
		return f.errorf(at+".nonce_secret_file", "may not be empty; omit it for a random key of this process")
	case d.NonceSecretFile != "" && !d.Nonce:
		return f.errorf(at+".nonce_secret_file", "applies only with nonce: true")
	}
	if err := f.checkEntries(at+".max_replay_entries", d.MaxReplayEntries); err != nil {
		return err
	}
	if err := f.checkEntries(at+".max_replay_entries_per_key", d.MaxReplayEntriesPerKey); err != nil {
		return err
	}
	if d.MaxReplayEntries > 0 && d.MaxReplayEntriesPerKey > d.MaxReplayEntries {
		return f.errorf(at+".max_replay_entries_per_key", "%d is above max_replay_entries, %d: one key cannot keep more proofs than the cache", d.MaxReplayEntriesPerKey, d.MaxReplayEntries)
	}
	return nil
}

// CertificateBound is the jwt.certificate_bound section: where a client
// certificate may come from besides the TLS connection, for
// certificate-bound tokens (RFC 8705 §3, cnf."x5t#S256"),
// jwtauth.Config.CertificateBound. Such tokens are checked with or
// without it: without it only the TLS connection's certificate counts.
type CertificateBound struct {
	// Header is the request header a TLS-terminating proxy forwards the
	// client certificate in: Envoy's X-Forwarded-Client-Cert, or a
	// URL-encoded PEM (nginx's $ssl_client_escaped_cert). It is read only
	// from a peer in credentials.trusted_proxies, which it needs.
	Header string `yaml:"header,omitempty"`
}

// checkCertificateBound checks the jwt.certificate_bound section; the
// header's name is jwtauth's to check.
func (f *File) checkCertificateBound() error {
	cb := f.JWT.CertificateBound
	const at = "jwt.certificate_bound"
	switch {
	case cb == nil: // absent, or null as every section may be
		return nil
	case len(f.JWT.Issuers) == 0:
		return f.errorf(at, "needs a jwt issuer: it binds the access tokens of jwt.issuers, and there are none")
	case cb.Header == "" && f.has(at+".header"):
		return f.errorf(at+".header", "may not be empty; omit it to read the TLS connection's certificate only")
	case cb.Header != "" && (f.Credentials == nil || len(f.Credentials.TrustedProxies) == 0):
		return f.errorf(at+".header", "is read only from a trusted proxy, and credentials.trusted_proxies names none: add the proxy's address there")
	}
	return nil
}

// certificateBoundConfig is the jwtauth.CertificateBound of
// jwt.certificate_bound; nil without the section.
func (f *File) certificateBoundConfig() *jwtauth.CertificateBound {
	if cb := f.JWT.CertificateBound; cb != nil {
		return &jwtauth.CertificateBound{Header: cb.Header}
	}
	return nil
}

// dpopConfig is the jwtauth.DPoP of jwt.dpop, without the nonce secret
// and the replay store, which Config adds; nil without the section.
func (f *File) dpopConfig() *jwtauth.DPoP {
	d := f.JWT.DPoP
	if d == nil {
		return nil
	}
	return &jwtauth.DPoP{Required: d.Mode == dpopRequired, MaxAge: time.Duration(d.MaxAge), Nonces: d.Nonce,
		MaxReplayEntries: d.MaxReplayEntries, MaxReplayEntriesPerKey: d.MaxReplayEntriesPerKey}
}

// dpopFiles reads jwt.dpop.nonce_secret_file into d.
func (f *File) dpopFiles(d *jwtauth.DPoP) error {
	if d == nil || f.JWT.DPoP.NonceSecretFile == "" {
		return nil
	}
	const key = "jwt.dpop.nonce_secret_file"
	secret, err := readSecretFile(f.resolve(f.JWT.DPoP.NonceSecretFile))
	if err != nil {
		return f.wrap(key, err)
	}
	d.NonceSecret = []byte(secret) // its length is jwtauth's to check, reported at this key
	return nil
}

// replayStore opens the DPoP replay store on the Redis of r (the
// credentials.throttle.redis the throttle counts in; not connected yet).
func replayStore(r *clientauth.RedisThrottle, logger *slog.Logger) (*sharedReplay, error) {
	store, err := throttle.OpenRedis(throttle.RedisOptions{
		URL: r.URL, KeyPrefix: r.KeyPrefix, Timeout: r.Timeout, TLSConfig: r.TLSConfig, Logger: logger,
	})
	if err != nil {
		return nil, err
	}
	replay, ok := store.(jwtauth.ReplayStore)
	if !ok { // not reached: the Redis store of package redisthrottle has SetOnce
		_ = store.Close()
		return nil, errors.New("config: the Redis store cannot record DPoP proofs")
	}
	return &sharedReplay{ReplayStore: replay, store: store}, nil
}

// sharedReplay is the DPoP replay store on Redis.
type sharedReplay struct {
	jwtauth.ReplayStore
	store throttle.SharedStore
}

// heldThrottle is jwtauth.Config.Throttle when Config opened a DPoP
// replay store: the Verifier closes its Throttle (and not DPoP.Replay), so
// the store is closed with it. Admit is the Guard's when an issuer
// introspects; without one the Verifier asks no Throttle.
type heldThrottle struct {
	guard  jwtauth.Throttle // nil without introspection
	replay *sharedReplay
}

// Admit is the Guard's, or admits without counting when there is none.
func (h *heldThrottle) Admit(ctx context.Context, addr string) (func(failed bool), error) {
	if h.guard == nil {
		return func(bool) {}, nil
	}
	return h.guard.Admit(ctx, addr)
}

// Close closes the Guard and the replay store.
func (h *heldThrottle) Close() error {
	var err error
	if c, ok := h.guard.(io.Closer); ok {
		err = c.Close()
	}
	return errors.Join(err, h.replay.store.Close())
}
