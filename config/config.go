// Package config reads Keyward's YAML configuration file and builds the
// dualauth.Config it describes, with its methods: a jwtauth.Verifier
// (Tokens) and a clientauth.Checker (Clients). The file has this shape,
// where an omitted key means the default of the Config of dualauth,
// jwtauth or clientauth, or of jwks.Options:
//
//	mode: dual                # jwt (the default) | credentials | dual
//	realm: bookings-api       # realm in WWW-Authenticate
//	jwt:                      # required unless mode is credentials with clients_file
//	  issuers:
//	    - issuer: https://auth.example.com       # exact iss
//	      jwks_url: https://auth.example.com/.well-known/jwks.json   # or:
//	      # discovery: true                      # or:
//	      # public_key_file: issuer.pem          # relative to the file's directory
//	      audiences: [bookings-api]
//	      # allow_insecure_http: false           # http:// only for loopback unless true
//	      introspection:                         # opaque tokens (RFC 7662); the key source is then optional
//	        endpoint: https://auth.example.com/oauth2/introspect   # or omitted with discovery: true
//	        client_id: keyward-rs
//	        client_secret_file: introspect.secret  # its first line; relative to the file's directory
//	        auth_method: client_secret_basic     # or client_secret_post
//	        token_prefix: ""                     # required, and distinct, when several issuers introspect
//	        timeout: 2s
//	        introspect_jwts: false               # true: this issuer's JWTs are introspected too
//	        cache: {max_ttl: 5m, negative_ttl: 10s, max_entries: 100000}
//	  algorithms: [RS256, ES256]
//	  leeway: 30s
//	  scope_claims: [scope, scp, scopes]
//	  require_type: at+jwt
//	  max_token_bytes: 8192
//	  cache:                  # verified tokens, answered from memory when seen again
//	    enabled: true
//	    max_entries: 100000
//	    max_ttl: 10m
//	  jwks:
//	    refresh_interval: 1h
//	    unknown_kid_interval: 5m
//	    unknown_kid_wait: 2s                # a request with a new kid waits this long for the refresh; 0s: never
//	    timeout: 10s
//	    max_bytes: 1048576
//	  dpop:                   # DPoP-bound tokens (RFC 9449); absent: refused
//	    mode: allowed         # allowed (Bearer and DPoP) | required (DPoP only)
//	    max_age: 60s          # how old a proof may be
//	    nonce: false          # true: server-provided nonces (DPoP-Nonce)
//	    nonce_secret_file: dpop-nonce.key   # with nonce: the replicas' shared key; default a random one per process
//	    max_replay_entries: 100000          # proofs remembered in memory
//	    max_replay_entries_per_key: 1000    # proofs of one DPoP key; default none in memory, 100000 in Redis
//	  certificate_bound:      # certificate-bound tokens (RFC 8705), checked always against the TLS connection
//	    header: X-Forwarded-Client-Cert     # or the certificate a trusted proxy forwards (needs credentials.trusted_proxies)
//	cors_preflight: pass      # pass (default) | authenticate: CORS preflights (OPTIONS) without credentials
//	credentials:              # required by mode credentials and dual; in mode jwt, see below
//	  client_id_header: client_id          # default client_id
//	  client_secret_header: client_secret  # default client_secret
//	  basic: true                          # also accept HTTP Basic (RFC 6749 §2.3.1)
//	  clients_file: clients.yaml           # hashed secrets, relative to the file's directory; or:
//	  # exchange:                          # trade the credentials at the token endpoint
//	  #   token_url: https://auth.example.com/oauth/v2/token
//	  #   style: basic                     # basic | json | form
//	  #   scope: bookings:read
//	  #   params: {response_type: token}   # extra body parameters, strings
//	  #   timeout: 10s
//	  cache_ttl: 5m                        # how long a verified pair is remembered
//	  reload_interval: 5s                  # clients_file only (SIGHUP too, see Options)
//	  trusted_proxies: [10.0.0.0/8]        # behind these, count failures by the forwarded client address
//	  throttle:
//	    # redis: {url: "redis://127.0.0.1:6379/0", key_prefix: "keyward:", timeout: 100ms}   # shared by replicas
//	    max_client_failures: 10            # per client id from one address per window, then 429
//	    max_address_failures: 50           # per remote address per window
//	    window: 1m
//
// Exactly one of clients_file and exchange is set. In mode jwt the
// credentials section may hold only trusted_proxies and throttle:
// trusted_proxies always (whose X-Forwarded-For, -Proto and -Host count:
// the caller's address, and a DPoP proof's htu); throttle's budgets only
// when an issuer has introspection, since opaque tokens the endpoint does
// not know are all they count in mode jwt (as wrong client secrets, with
// throttle.redis in the same counters); throttle.redis also when jwt.dpop
// is set, whose replay records it then holds. With exchange, the token
// the endpoint issues is verified through jwt.issuers, which every mode then
// needs; with mode credentials and clients_file the jwt section may be
// omitted. exchange has an allow_insecure_http key, but it may not be true:
// the token endpoint is http:// only on loopback hosts.
//
// The file is read strictly: unknown keys, keys set twice, values of the
// wrong type, bare numbers as durations and quoted or YAML 1.1 booleans
// (yes, off) are refused, with the line and the dotted key to fix:
//
//	config: keyward.yaml: line 5: unknown key "jwks_uri" in jwt.issuers[0]; did you mean "jwks_url"?
//	config: keyward.yaml: line 8: jwt.jwks.timeout: "10" is not a duration (use Go syntax such as 10s)
//
// The rules of the file's own keys (key sources, URLs, durations of at
// least 1s, sizes) are checked here; the rules of the Configs it makes are
// those of dualauth, jwtauth and clientauth (their Validate methods),
// reported at the key and line they come from.
//
// Load reads a file and builds its Config; Read (or Parse) and File.Config
// do the same in two steps. The Config's methods hold what Load started —
// the issuers' remote key sets and the watcher of the clients file — until
// ctx ends or they are closed: dualauth.New takes them over (and stops them
// if it fails), Authenticator.Close stops them and waits for them, and a
// Config never given to New is stopped by its Close method:
//
//	cfg, err := config.Load(ctx, "keyward.yaml", config.Options{Logger: logger, ReloadOnSIGHUP: true})
//	if err != nil {
//		log.Fatal(err)
//	}
//	authn, err := dualauth.New(cfg)
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer authn.Close()
package config

import (
	"github.com/keyward/keyward/internal/excerpt"

	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/strictyaml"
)

// Limits of the file.
const (
	// MaxFileBytes caps the size of a configuration file.
	MaxFileBytes = 1 << 20
	// MaxTokenBytes is the largest jwt.max_token_bytes a file may set.
	MaxTokenBytes = 64 << 10
	// MaxJWKSBytes is the largest jwt.jwks.max_bytes a file may set.
	MaxJWKSBytes = 64 << 20
	// MaxThrottleFailures is the largest failure count credentials.throttle
	// may set.
	MaxThrottleFailures = 1_000_000
	// MaxCachedTokens is the largest jwt.cache.max_entries a file may set.
	MaxCachedTokens = 10_000_000
)

// File is the configuration file, as the package documentation shows it.
// Build one with Parse or Read, which check it, and turn it into a
// dualauth.Config with its Config method. A File built in code is checked by
// Config; there zero values mean the defaults.
type File struct {
	// Mode is the authentication method accepted: dualauth.ModeJWT (the
	// default), ModeCredentials or ModeDual. The latter two need
	// Credentials; ModeJWT accepts only its TrustedProxies, and its
	// Throttle when an issuer has Introspection (its Redis also with
	// JWT.DPoP).
	Mode dualauth.Mode `yaml:"mode,omitempty"`
	// Realm is the realm named in WWW-Authenticate challenges; "" means
	// dualauth's default, "api".
	Realm string `yaml:"realm,omitempty"`
	// JWT configures the verification of Bearer JWTs, and of the tokens
	// credentials.exchange obtains.
	JWT JWT `yaml:"jwt,omitempty"`
	// Credentials configures client credentials (client id and secret in
	// two headers or HTTP Basic); nil means none.
	Credentials *Credentials `yaml:"credentials,omitempty"`
	// CORSPreflight is "pass" (the default: CORS preflight requests pass
	// unauthenticated) or "authenticate".
	CORSPreflight string `yaml:"cors_preflight,omitempty"`
	// ForwardAuth is the forward_auth section, read by `keyward serve`
	// (package forwardauth) and ignored by the middleware; nil means none.
	// Parse checks its own keys; keyward serve checks the routes.
	ForwardAuth *ForwardAuth `yaml:"forward_auth,omitempty"`
	// GRPC is the grpc section, read by the gRPC interceptors (package
	// grpcauth, through config/grpcconfig) and ignored by the rest; nil
	// means none. Parse checks its own keys; grpcconfig checks the rules.
	GRPC *GRPC `yaml:"grpc,omitempty"`

	file  string         // the path the file was read from; "" if parsed from bytes
	dir   string         // the directory relative public_key_file and clients_file paths start from
	lines map[string]int // the line of every key present in the file, by dotted path

	onReload func(error) // for tests: the clients registry's Options.OnReload
}

// JWT is the jwt section of a File.
type JWT struct {
	// Issuers are the trusted token issuers; at least one is required
	// unless Mode is ModeCredentials with a clients_file.
	Issuers []Issuer `yaml:"issuers"`
	// Algorithms is the JWS "alg" allowlist, a subset of RS256, RS384,
	// RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA; empty means
	// all of them.
	Algorithms []string `yaml:"algorithms,omitempty"`
	// Leeway is the clock skew allowed on exp, nbf and iat, from 0s to 5m; nil
	// means jwtauth's default (30s). An explicit 0s means no leeway
	// (jwtauth.Config.Leeway is then jwtauth.NoLeeway, since a zero
	// Config.Leeway means the default).
	Leeway *Duration `yaml:"leeway,omitempty"`
	// ScopeClaims are the claims scopes are read from; empty means the
	// dualauth default.
	ScopeClaims []string `yaml:"scope_claims,omitempty"`
	// RequireType, if set, is the "typ" the token header must name, such as
	// "at+jwt".
	RequireType string `yaml:"require_type,omitempty"`
	// MaxTokenBytes caps a token's size, at most MaxTokenBytes; 0 means
	// jwtauth's default, 8 KiB (an explicit 0 in a file is an error).
	MaxTokenBytes int `yaml:"max_token_bytes,omitempty"`
	// JWKS tunes the remote key sets of all issuers.
	JWKS JWKS `yaml:"jwks,omitempty"`
	// Cache tunes the cache of verified tokens (jwtauth.TokenCache).
	Cache Cache `yaml:"cache,omitempty"`
	// DPoP, if set, accepts DPoP-bound tokens (RFC 9449); nil refuses
	// them. See DPoP.
	DPoP *DPoP `yaml:"dpop,omitempty"`
	// CertificateBound, if set, reads the client certificate of
	// certificate-bound tokens (RFC 8705) from a trusted proxy's header
	// too; see CertificateBound.
	CertificateBound *CertificateBound `yaml:"certificate_bound,omitempty"`
}

// Cache is the jwt.cache section: the cache of verified tokens. Omitted
// keys mean jwtauth's defaults (on, 100,000 entries, 10m).
type Cache struct {
	// Enabled turns the cache on or off; nil means on.
	Enabled *bool `yaml:"enabled,omitempty"`
	// MaxEntries bounds the tokens held, from 1 to MaxCachedTokens.
	MaxEntries int `yaml:"max_entries,omitempty"`
	// MaxTTL bounds how long one verification is reused; at least 1s.
	MaxTTL Duration `yaml:"max_ttl,omitempty"`
}

// Issuer is one entry of jwt.issuers. Exactly one of JWKSURL, Discovery
// and PublicKeyFile must be set, or at most one with Introspection.
type Issuer struct {
	// Issuer is the exact "iss" value the issuer's tokens carry.
	Issuer string `yaml:"issuer"`
	// JWKSURL is where the issuer publishes its JWK Set.
	JWKSURL string `yaml:"jwks_url,omitempty"`
	// Discovery finds the JWK Set through the issuer's metadata (OpenID
	// Connect Discovery or RFC 8414); Issuer must then be an https URL.
	Discovery bool `yaml:"discovery,omitempty"`
	// PublicKeyFile is a PEM file of the issuer's public keys; a relative
	// path is relative to the configuration file's directory (to the working
	// directory for a File not read by Read).
	PublicKeyFile string `yaml:"public_key_file,omitempty"`
	// Audiences are the "aud" values accepted from this issuer; at least one,
	// none empty.
	Audiences []string `yaml:"audiences"`
	// AllowInsecureHTTP permits http:// key and discovery URLs for hosts
	// other than loopback (127.0.0.0/8, ::1, localhost). It does not apply
	// to Introspection's endpoint, which receives a client secret and
	// tokens.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http,omitempty"`
	// Introspection, if set, checks the issuer's opaque access tokens at
	// its introspection endpoint (RFC 7662); nil refuses them. With it, the
	// key source is optional: an issuer without one has only opaque tokens.
	Introspection *Introspection `yaml:"introspection,omitempty"`
}

// JWKS is the jwt.jwks section: the jwks.Options of remote key sets. Zero
// values mean the jwks defaults.
type JWKS struct {
	// RefreshInterval is the time between scheduled refreshes; at least 1s.
	RefreshInterval Duration `yaml:"refresh_interval,omitempty"`
	// UnknownKIDInterval is the least time between refreshes triggered by
	// unknown key ids; at least 1s and at most RefreshInterval.
	UnknownKIDInterval Duration `yaml:"unknown_kid_interval,omitempty"`
	// Timeout bounds one refresh attempt; at least 1s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// UnknownKIDWait is how long a request with an unknown key id may wait
	// for the refresh it starts (shared by every request waiting on the
	// issuer), at most Timeout; nil means jwks' default (2s) and an
	// explicit 0s means never wait.
	UnknownKIDWait *Duration `yaml:"unknown_kid_wait,omitempty"`
	// MaxBytes caps a key set or metadata response, at most MaxJWKSBytes.
	MaxBytes int64 `yaml:"max_bytes,omitempty"`
}

// Credentials is the credentials section: client-credential
// authentication, which the credentials and dual modes need. Exactly one of
// ClientsFile and Exchange must be set. Zero values mean the defaults of
// clientauth.Config and the client fields of dualauth.Config.
//
// In mode jwt, where no client credentials are accepted, the section may
// hold only TrustedProxies, and Throttle, which then bounds the opaque
// tokens an introspection endpoint does not know (clientauth.Guard) and so
// needs an issuer with Introspection; Throttle.Redis alone may also serve
// as JWT.DPoP's replay store.
type Credentials struct {
	// ClientIDHeader and ClientSecretHeader name the request headers that
	// carry the client id and secret; "" means client_id and client_secret.
	// They must be valid, distinct header names (case-insensitively) other
	// than Authorization.
	ClientIDHeader     string `yaml:"client_id_header,omitempty"`
	ClientSecretHeader string `yaml:"client_secret_header,omitempty"`
	// Basic accepts the credentials in "Authorization: Basic" (RFC 6749
	// §2.3.1) too; nil means true.
	Basic *bool `yaml:"basic,omitempty"`
	// ClientsFile is a registry of hashed client secrets (package clients);
	// a relative path is relative to the configuration file's directory (to
	// the working directory for a File not read by Read).
	ClientsFile string `yaml:"clients_file,omitempty"`
	// Exchange, instead of ClientsFile, checks the credentials by trading
	// them for an access token at the authorization server's token
	// endpoint; the token is then verified through jwt.issuers.
	Exchange *Exchange `yaml:"exchange,omitempty"`
	// CacheTTL is how long a verified id and secret are remembered; at
	// least 1s.
	CacheTTL Duration `yaml:"cache_ttl,omitempty"`
	// ReloadInterval is how often ClientsFile is checked for changes; at
	// least 1s. Only with ClientsFile.
	ReloadInterval Duration `yaml:"reload_interval,omitempty"`
	// Throttle bounds failed checks: wrong client secrets and, when an
	// issuer introspects, opaque tokens its endpoint does not know, which
	// spend the same address budget (with Redis, in the same counters).
	Throttle Throttle `yaml:"throttle,omitempty"`
	// TrustedProxies are the proxies in front of the API, as addresses or
	// CIDR ranges: behind them failures count against the client address
	// they forward (dualauth.Config.TrustedProxies).
	TrustedProxies []string `yaml:"trusted_proxies,omitempty"`
}

// Exchange is the credentials.exchange section: the exchange.Client of
// the token endpoint.
type Exchange struct {
	// TokenURL is the token endpoint: https://, or http:// for loopback
	// hosts (127.0.0.0/8, ::1, localhost) only. Required.
	TokenURL string `yaml:"token_url"`
	// Style is how the credentials are sent: exchange.StyleBasic (the
	// default), exchange.StyleJSON or exchange.StyleForm.
	Style exchange.Style `yaml:"style,omitempty"`
	// Scope, if set, is requested with every exchange.
	Scope string `yaml:"scope,omitempty"`
	// Params are extra body parameters, such as response_type: token; the
	// names grant_type, client_id, client_secret and scope are set by the
	// client and refused here. Values are strings (quote numbers).
	Params map[string]string `yaml:"params,omitempty"`
	// Timeout bounds one exchange; at least 1s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// AllowInsecureHTTP is refused when true: package exchange sends
	// credentials over http:// to loopback hosts only, and has no option to
	// do otherwise. The key exists so that the refusal can say so.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http,omitempty"`
}

// Throttle is the credentials.throttle section.
type Throttle struct {
	// MaxClientFailures is the failed checks allowed per client id per
	// window before further checks are answered 429; 1 to
	// MaxThrottleFailures.
	MaxClientFailures int `yaml:"max_client_failures,omitempty"`
	// MaxAddressFailures is the same per remote address.
	MaxAddressFailures int `yaml:"max_address_failures,omitempty"`
	// Window is how long failures are counted; at least 1s.
	Window Duration `yaml:"window,omitempty"`
	// Redis, if set, shares the counts with the other replicas, and
	// holds jwt.dpop's replay records (see DPoP).
	Redis *Redis `yaml:"redis,omitempty"`
}

// Redis is the credentials.throttle.redis section
// (clientauth.RedisThrottle).
type Redis struct {
	// URL is redis://[user:password@]host[:port][/db] or rediss:// (TLS);
	// required. Its user information and query values are never shown in
	// errors or logs.
	URL string `yaml:"url"`
	// KeyPrefix starts every key; "" means "keyward:".
	KeyPrefix string `yaml:"key_prefix,omitempty"`
	// Timeout bounds each call to Redis; 0 means 100ms.
	Timeout Duration `yaml:"timeout,omitempty"`
	// PairKeyFile, if set, is a file of at least 32 bytes that every
	// replica shares (relative to the file's directory): with it, a pair
	// that verified on one replica is exempt from the gate on all of them.
	PairKeyFile string `yaml:"pair_key_file,omitempty"`
	// CAFile, if set, is a PEM file of the CA certificates a rediss://
	// server's certificate is checked against, instead of the system's.
	CAFile string `yaml:"ca_file,omitempty"`
	// MaxCounters bounds the failure counters kept in Redis (about 400
	// bytes each); 0 means 100,000.
	MaxCounters int `yaml:"max_counters,omitempty"`
	// Replicas, while Redis cannot count a check: 0 refuses it (503);
	// N lets each replica count in its own memory against 1/N of each
	// budget (clientauth.RedisThrottle.Replicas).
	Replicas int `yaml:"replicas,omitempty"`
}

// Duration is a time.Duration written in the file as a Go duration string
// such as "30s" or "1h"; bare numbers are refused, since their unit would be
// a guess.
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	notDuration := fmt.Errorf("%s is not a duration (use Go syntax such as 10s)", excerpt.Quote(n.Value))
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		if n.Kind != yaml.ScalarNode {
			return fmt.Errorf("must be a duration such as 10s, not a %s", strictyaml.KindName(n))
		}
		return notDuration
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return notDuration
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes d as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Parse decodes and checks a configuration file. It does no I/O: public
// key files and clients files are read, and key sets built, by File.Config.
// A relative public_key_file or clients_file is taken relative to the
// working directory; use Read to have it relative to the file.
func Parse(data []byte) (*File, error) {
	return parse(data, "")
}

// Read reads, decodes and checks the configuration file at path, and
// remembers its directory for relative public_key_file and clients_file
// paths. Errors name the file.
func Read(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := parse(data, path)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f.dir = dir
	return f, nil
}

// Options configure File.Config and Load.
type Options struct {
	// Logger receives the key sets' refreshes and the clients file's
	// reloads, and is the Config's Logger; nil discards. What it receives
	// shows the file's URLs without their user information and query
	// values.
	Logger *slog.Logger
	// ReloadOnSIGHUP reloads the clients file at once when the process
	// receives SIGHUP, besides polling it every reload_interval: the
	// watcher registers for the signal (signal.Notify) while it runs.
	// Without it, the loader leaves SIGHUP alone.
	ReloadOnSIGHUP bool
}

// Load reads the configuration file at path and builds its Config: Read
// followed by File.Config. Give the Config to dualauth.New, which takes
// over the key refreshes and the clients file watcher Load started; if the
// program stops before New, cfg.Close stops them.
func Load(ctx context.Context, path string, opts Options) (dualauth.Config, error) {
	f, err := Read(path)
	if err != nil {
		return dualauth.Config{}, err
	}
	return f.Config(ctx, opts)
}
