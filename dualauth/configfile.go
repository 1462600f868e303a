package dualauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"
)

// Limits of the configuration file.
const (
	// MaxConfigFileBytes caps the size of a configuration file.
	MaxConfigFileBytes = 1 << 20
	// MaxConfigTokenBytes is the largest jwt.max_token_bytes a file may set.
	MaxConfigTokenBytes = 64 << 10
	// MaxConfigJWKSBytes is the largest jwt.jwks.max_bytes a file may set.
	MaxConfigJWKSBytes = 64 << 20
)

// maxConfigNodes bounds the YAML nodes a configuration file may expand to,
// aliases included; real files have a few hundred.
const maxConfigNodes = 10000

// ConfigFile is the YAML configuration file. It mirrors this shape, where an
// omitted key means the default of Config, Credentials or jwks.Options:
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
//	  algorithms: [RS256, ES256]
//	  leeway: 30s
//	  scope_claims: [scope, scp, scopes]
//	  require_type: at+jwt
//	  max_token_bytes: 8192
//	  jwks:
//	    refresh_interval: 1h
//	    unknown_kid_interval: 5m
//	    timeout: 10s
//	    max_bytes: 1048576
//	credentials:              # required by mode credentials and dual, refused by jwt
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
//	  reload_interval: 5s                  # clients_file only; SIGHUP reloads too
//	  throttle:
//	    max_client_failures: 10            # per client id from one address per window, then 429
//	    max_address_failures: 50           # per remote address per window
//	    window: 1m
//
// Exactly one of clients_file and exchange is set. With exchange, the token
// the endpoint issues is verified through jwt.issuers, which every mode then
// needs; with mode credentials and clients_file the jwt section may be
// omitted. exchange has an allow_insecure_http key, but it may not be true:
// the token endpoint is http:// only on loopback hosts.
//
// Build one with ParseConfigFile or ReadConfigFile, which check it, and turn
// it into a Config with its Config method. A ConfigFile built in code is
// checked by Config; there zero values mean the defaults.
type ConfigFile struct {
	// Mode is the authentication method accepted: ModeJWT (the default),
	// ModeCredentials or ModeDual. The latter two need Credentials, which
	// ModeJWT refuses.
	Mode Mode `yaml:"mode,omitempty"`
	// Realm is the realm named in WWW-Authenticate challenges; "" means
	// DefaultRealm.
	Realm string `yaml:"realm,omitempty"`
	// JWT configures the verification of Bearer JWTs, and of the tokens
	// credentials.exchange obtains.
	JWT FileJWT `yaml:"jwt,omitempty"`
	// Credentials configures client credentials (client id and secret in
	// two headers or HTTP Basic); nil means none.
	Credentials *FileCredentials `yaml:"credentials,omitempty"`

	file  string         // the path the file was read from; "" if parsed from bytes
	dir   string         // the directory relative public_key_file and clients_file paths start from
	lines map[string]int // the line of every key present in the file, by dotted path
}

// FileJWT is the jwt section of a ConfigFile.
type FileJWT struct {
	// Issuers are the trusted token issuers; at least one is required
	// unless Mode is ModeCredentials with a clients_file.
	Issuers []FileIssuer `yaml:"issuers"`
	// Algorithms is the JWS "alg" allowlist, a subset of DefaultAlgorithms;
	// empty means DefaultAlgorithms.
	Algorithms []string `yaml:"algorithms,omitempty"`
	// Leeway is the clock skew allowed on exp, nbf and iat, from 0s to 5m; nil
	// means DefaultLeeway. An explicit 0s means no leeway (Config.Leeway is
	// then NoLeeway, since a zero Config.Leeway means the default).
	Leeway *Duration `yaml:"leeway,omitempty"`
	// ScopeClaims are the claims scopes are read from; empty means the
	// Config default.
	ScopeClaims []string `yaml:"scope_claims,omitempty"`
	// RequireType, if set, is the "typ" the token header must name, such as
	// "at+jwt".
	RequireType string `yaml:"require_type,omitempty"`
	// MaxTokenBytes caps a token's size, at most MaxConfigTokenBytes; 0 means
	// DefaultMaxTokenBytes (an explicit 0 in a file is an error).
	MaxTokenBytes int `yaml:"max_token_bytes,omitempty"`
	// JWKS tunes the remote key sets of all issuers.
	JWKS FileJWKS `yaml:"jwks,omitempty"`
}

// FileIssuer is one entry of jwt.issuers in a ConfigFile. Exactly one of
// JWKSURL, Discovery and PublicKeyFile must be set.
type FileIssuer struct {
	// Issuer is the exact "iss" value the issuer's tokens carry.
	Issuer string `yaml:"issuer"`
	// JWKSURL is where the issuer publishes its JWK Set.
	JWKSURL string `yaml:"jwks_url,omitempty"`
	// Discovery finds the JWK Set through the issuer's metadata (OpenID
	// Connect Discovery or RFC 8414); Issuer must then be an https URL.
	Discovery bool `yaml:"discovery,omitempty"`
	// PublicKeyFile is a PEM file of the issuer's public keys; a relative
	// path is relative to the configuration file's directory (to the working
	// directory for a ConfigFile not read by ReadConfigFile).
	PublicKeyFile string `yaml:"public_key_file,omitempty"`
	// Audiences are the "aud" values accepted from this issuer; at least one,
	// none empty.
	Audiences []string `yaml:"audiences"`
	// AllowInsecureHTTP permits http:// key and discovery URLs for hosts
	// other than loopback (127.0.0.0/8, ::1, localhost).
	AllowInsecureHTTP bool `yaml:"allow_insecure_http,omitempty"`
}

// FileJWKS is the jwt.jwks section of a ConfigFile: the jwks.Options of
// remote key sets. Zero values mean the jwks defaults.
type FileJWKS struct {
	// RefreshInterval is the time between scheduled refreshes; at least 1s.
	RefreshInterval Duration `yaml:"refresh_interval,omitempty"`
	// UnknownKIDInterval is the least time between refreshes triggered by
	// unknown key ids; at least 1s and at most RefreshInterval.
	UnknownKIDInterval Duration `yaml:"unknown_kid_interval,omitempty"`
	// Timeout bounds one refresh attempt; at least 1s.
	Timeout Duration `yaml:"timeout,omitempty"`
	// MaxBytes caps a key set or metadata response, at most
	// MaxConfigJWKSBytes.
	MaxBytes int64 `yaml:"max_bytes,omitempty"`
}

// Duration is a time.Duration written in a ConfigFile as a Go duration
// string such as "30s" or "1h"; bare numbers are refused, since their unit
// would be a guess.
type Duration time.Duration

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// UnmarshalYAML reads a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	notDuration := fmt.Errorf("%s is not a duration (use Go syntax such as 10s)", quoteValue(n.Value))
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		if n.Kind != yaml.ScalarNode {
			return errors.New("must be a duration such as 10s, not a " + kindName(n))
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

// ParseConfigFile decodes and checks a configuration file. It does no I/O:
// public key files and clients files are read, and key sets built, by
// ConfigFile.Config. A relative public_key_file or clients_file is taken
// relative to the working directory; use ReadConfigFile to have it relative
// to the file.
func ParseConfigFile(data []byte) (*ConfigFile, error) {
	return parseConfigFile(data, "")
}

// ReadConfigFile reads, decodes and checks the configuration file at path,
// and remembers its directory for relative public_key_file and
// clients_file paths. Errors name the file.
func ReadConfigFile(path string) (*ConfigFile, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, MaxConfigFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	f, err := parseConfigFile(data, path)
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

// LoadConfig reads the configuration file at path and builds its Config:
// ReadConfigFile followed by ConfigFile.Config.
func LoadConfig(ctx context.Context, path string, logger *slog.Logger) (Config, error) {
	f, err := ReadConfigFile(path)
	if err != nil {
		return Config{}, err
	}
	return f.Config(ctx, logger)
}
