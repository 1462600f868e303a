package authserver

import (
	"cmp"
	"errors"
	"fmt"
	"github.com/keyward/keyward/internal/clientaddr"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/clients"
)

// Config configures a Server. Issuer, Audience and Clients are required;
// every other field's zero value is a useful default.
type Config struct {
	// Issuer is the "iss" of issued tokens and the "issuer" of the metadata:
	// the server's base URL, an http or https URL with a host and no path,
	// query, fragment or trailing slash, such as "http://127.0.0.1:9000".
	// Required. Resource servers compare it byte for byte.
	Issuer string
	// Audience is the "aud" of issued tokens, such as "bookings-api". Required.
	Audience string
	// Clients authenticates clients (hashed secrets; disabled clients are
	// refused) and holds the scopes each may be granted. Required. Reloading
	// it (Watch, Reload) takes effect for the next request.
	Clients *clients.Registry
	// Algorithm is the JWS algorithm of access tokens: "RS256" (RSA 2048, the
	// default when empty), "ES256" (P-256) or "EdDSA" (Ed25519).
	Algorithm string
	// TTL, if not 0, is the lifetime of every access token, whatever the
	// endpoint; 0 keeps each endpoint's own lifetime (LifetimeToken and the
	// others). At least 1s; fractions of a second are dropped.
	TTL time.Duration
	// RefreshTTL is how long a refresh token can be used after it is issued;
	// 0 means DefaultRefreshTTL. At least 1s.
	RefreshTTL time.Duration
	// RotateEvery, if not 0, is the period on which Run rotates the signing
	// key (see Server.RotateKey). At least 1s.
	RotateEvery time.Duration
	// MaxRefreshTokens bounds the live refresh tokens held in all: one per
	// family (a client credentials grant and every token rotated from it),
	// whose used tokens take no room and are recognised as reuse however
	// often it rotated since; 0 means DefaultMaxRefreshTokens.
	// MaxRefreshTokensPerClient bounds those of one client; 0 means
	// DefaultMaxRefreshTokensPerClient, and it is never more than
	// MaxRefreshTokens. Past a bound, the least recently used family (issued
	// or rotated longest ago) of the client, or of all, is revoked:
	// presenting any of its tokens is invalid_grant.
	MaxRefreshTokens          int
	MaxRefreshTokensPerClient int
	// TrustedProxies are the networks, as CIDR prefixes ("10.0.0.0/8",
	// "2001:db8::/32") or single addresses ("127.0.0.1"), of the proxies
	// and resource servers (exchanging their callers' credentials) whose
	// X-Forwarded-For header is believed. Failed client authentications are
	// counted against the caller's address: the request's peer, unless the
	// peer is in one of these networks, in which case it is the right-most
	// X-Forwarded-For address that is not (see Server.Handler). Empty, the
	// default, trusts no proxy: X-Forwarded-For is ignored.
	TrustedProxies []string
	// ClientOptions are the options of clients beyond the registry's, by
	// client_id: the format of their access tokens and whether they may
	// introspect (see ClientOptions and ReadClientOptions). A client it does
	// not list gets JWT access tokens and may not introspect. New copies it.
	ClientOptions map[string]ClientOptions
	// MaxOpaqueTokens bounds the live opaque access tokens held; 0 means
	// DefaultMaxOpaqueTokens. Issuing one past the bound drops the expired
	// ones, or if none has expired the one closest to its expiry, which
	// introspection then answers inactive.
	MaxOpaqueTokens int
	// MutualTLS says that Handler is served over TLS asking clients for
	// certificates (as examples/authserver's -client-ca does), so that the
	// metadata advertises certificate-bound access tokens
	// (tls_client_certificate_bound_access_tokens, RFC 8705 §3.3). Tokens
	// are bound to the client certificate of every token request that
	// carries one, whatever this says (see the package documentation).
	MutualTLS bool
	// Now is the clock of token timestamps and expiries (access tokens,
	// refresh tokens, retired keys) and of the failure throttle's windows
	// and verified-credential caches; nil means time.Now. Only the rotation
	// period of Run is measured on the real clock.
	Now func() time.Time
	// Logger receives issued tokens' metadata (client, scopes, key id, never
	// the tokens), refusals and rotations; nil discards. Secrets and tokens
	// are never logged.
	Logger *slog.Logger
}

// Defaults and limits.
const (
	// DefaultAlgorithm is the JWS algorithm when Config.Algorithm is empty.
	DefaultAlgorithm = "RS256"
	// DefaultRefreshTTL is the refresh-token lifetime when Config.RefreshTTL
	// is 0.
	DefaultRefreshTTL = 24 * time.Hour
	// MaxBodyBytes caps a token request's body; a larger one is refused with
	// 413 and invalid_request.
	MaxBodyBytes = 64 << 10
	// DefaultMaxRefreshTokens is the bound on live refresh tokens (token
	// families) held in all when Config.MaxRefreshTokens is 0: about 3 MB
	// of memory (a family takes about 320 bytes, however often it rotated).
	DefaultMaxRefreshTokens = 10_000
	// DefaultMaxRefreshTokensPerClient is the bound on one client's live
	// refresh tokens (token families) when Config.MaxRefreshTokensPerClient
	// is 0.
	DefaultMaxRefreshTokensPerClient = 1_000
	// DefaultMaxOpaqueTokens is the bound on live opaque access tokens when
	// Config.MaxOpaqueTokens is 0: about 20 MB of memory (a token takes
	// about 200 bytes, see BenchmarkOpaqueTokenMemory).
	DefaultMaxOpaqueTokens = 100_000
)

// settings is a checked Config with its defaults applied.
type settings struct {
	Config
	ttl, refreshTTL time.Duration      // whole seconds
	maxRefresh      int                // MaxRefreshTokens with its default
	maxRefreshOwn   int                // MaxRefreshTokensPerClient with its default, at most maxRefresh
	maxOpaque       int                // MaxOpaqueTokens with its default
	proxies         clientaddr.Proxies // TrustedProxies, parsed
}

func (cfg Config) check() (settings, error) {
	st := settings{Config: cfg}
	if err := checkIssuer(cfg.Issuer); err != nil {
		return st, err
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return st, errors.New("authserver: Audience is required")
	}
	if cfg.Clients == nil {
		return st, errors.New("authserver: Clients is required")
	}
	switch cfg.Algorithm {
	case "":
		st.Algorithm = DefaultAlgorithm
	case "RS256", "ES256", "EdDSA":
	default:
		return st, fmt.Errorf("authserver: Algorithm %q is not supported (use RS256, ES256 or EdDSA)", cfg.Algorithm)
	}
	for _, d := range []struct {
		name  string
		value time.Duration
	}{{"TTL", cfg.TTL}, {"RefreshTTL", cfg.RefreshTTL}, {"RotateEvery", cfg.RotateEvery}} {
		if d.value != 0 && d.value < time.Second {
			return st, fmt.Errorf("authserver: %s must be 0 or at least 1s, not %v", d.name, d.value)
		}
	}
	st.ttl = cfg.TTL.Truncate(time.Second)
	st.refreshTTL = cfg.RefreshTTL.Truncate(time.Second)
	if st.refreshTTL == 0 {
		st.refreshTTL = DefaultRefreshTTL
	}
	switch {
	case cfg.MaxRefreshTokens < 0:
		return st, fmt.Errorf("authserver: MaxRefreshTokens must be 0 (the default, %d) or more, not %d", DefaultMaxRefreshTokens, cfg.MaxRefreshTokens)
	case cfg.MaxRefreshTokensPerClient < 0:
		return st, fmt.Errorf("authserver: MaxRefreshTokensPerClient must be 0 (the default, %d) or more, not %d", DefaultMaxRefreshTokensPerClient, cfg.MaxRefreshTokensPerClient)
	}
	st.maxRefresh = cmp.Or(cfg.MaxRefreshTokens, DefaultMaxRefreshTokens)
	if cfg.MaxOpaqueTokens < 0 {
		return st, fmt.Errorf("authserver: MaxOpaqueTokens must be 0 (the default, %d) or more, not %d", DefaultMaxOpaqueTokens, cfg.MaxOpaqueTokens)
	}
	st.maxOpaque = cmp.Or(cfg.MaxOpaqueTokens, DefaultMaxOpaqueTokens)
	for _, id := range slices.Sorted(maps.Keys(cfg.ClientOptions)) {
		if err := checkTokenFormat(cfg.ClientOptions[id].TokenFormat); err != nil {
			return st, fmt.Errorf("authserver: ClientOptions[%q].TokenFormat: %w", id, err)
		}
	}
	st.ClientOptions = maps.Clone(cfg.ClientOptions)
	st.maxRefreshOwn = min(cmp.Or(cfg.MaxRefreshTokensPerClient, DefaultMaxRefreshTokensPerClient), st.maxRefresh)
	var err error
	if st.proxies, err = clientaddr.Parse(cfg.TrustedProxies); err != nil {
		var pe *clientaddr.ParseError
		errors.As(err, &pe)
		return st, fmt.Errorf("authserver: TrustedProxies[%d] %q is not a CIDR prefix (such as 10.0.0.0/8) or an IP address", pe.Index, pe.Entry)
	}
	if st.Now == nil {
		st.Now = time.Now
	}
	if st.Logger == nil {
		st.Logger = slog.New(slog.DiscardHandler)
	}
	return st, nil
}

// checkIssuer accepts scheme://host[:port] for http and https, as a
// resource server's discovery expects: the well-known documents are served at
// the root, and the issuer is also the realm of Basic challenges.
func checkIssuer(issuer string) error {
	if issuer == "" {
		return errors.New("authserver: Issuer is required")
	}
	u, err := url.Parse(issuer)
	switch {
	case err != nil:
		return fmt.Errorf("authserver: Issuer %q is not a URL", issuer)
	case u.Scheme != "http" && u.Scheme != "https", u.Host == "", u.Opaque != "":
		return fmt.Errorf("authserver: Issuer %q must be an http:// or https:// URL with a host", issuer)
	case u.User != nil, u.RawQuery != "", u.ForceQuery, u.Fragment != "", u.Path != "":
		return fmt.Errorf("authserver: Issuer %q must be scheme://host[:port], without user info, path (or trailing slash), query or fragment", issuer)
	case strings.ContainsAny(issuer, "\"\\ \t#"):
		return fmt.Errorf("authserver: Issuer %q has characters a URL cannot have", issuer)
	}
	return nil
}
