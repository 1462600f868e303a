package dualauth

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/internal/urlrule"
	"github.com/keyward/keyward/jwks"
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
//	    max_client_failures: 10            # per client id per window, then 429
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
	// then 1ns, since a zero Config.Leeway means the default).
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

// Config checks f and builds the Config it describes, with a key set per
// issuer: jwks.NewRemote for jwks_url, jwks.NewDiscovered for discovery and
// jwks.LoadPEMFile for public_key_file. Remote sets use the jwt.jwks options
// and the issuer's allow_insecure_http, log to logger (which is also the
// Config's Logger; nil discards) and refresh in the background until ctx
// ends. An unreachable key server does not fail Config; an unreadable public
// key file does.
//
// With credentials.clients_file, Config opens the registry with clients.Open
// (an unreadable or broken file fails Config) and keeps it in step with the
// file, polling every reload_interval and on SIGHUP, until ctx ends; client
// credentials are then checked by RegistryVerifier. With
// credentials.exchange it builds the exchange.Client instead.
func (f *ConfigFile) Config(ctx context.Context, logger *slog.Logger) (Config, error) {
	if err := f.validate(); err != nil {
		return Config{}, err
	}
	// The registry is a file too: read before any refresh starts.
	reg, err := f.openClients(logger)
	if err != nil {
		return Config{}, err
	}
	cfg, err := f.config(ctx, logger, reg)
	if err != nil {
		return Config{}, err
	}
	watchClients(ctx, reg)
	return cfg, nil
}

// config builds the Config of a checked f, with reg from openClients.
func (f *ConfigFile) config(ctx context.Context, logger *slog.Logger, reg *clients.Registry) (Config, error) {
	cred, err := f.credentials(reg)
	if err != nil {
		return Config{}, err
	}
	j := f.JWT
	cfg := Config{
		Mode:          f.Mode,
		Realm:         f.Realm,
		Algorithms:    slices.Clone(j.Algorithms),
		ScopeClaims:   slices.Clone(j.ScopeClaims),
		RequireType:   j.RequireType,
		MaxTokenBytes: j.MaxTokenBytes,
		Logger:        logger,
		Credentials:   cred,
	}
	if j.Leeway != nil {
		cfg.Leeway = time.Duration(*j.Leeway)
		if cfg.Leeway == 0 {
			cfg.Leeway = time.Nanosecond // Config reads 0 as DefaultLeeway
		}
	}
	keys := make([]jwks.Set, len(j.Issuers))
	// Files first, so a missing one fails before any refresh starts.
	for i, iss := range j.Issuers {
		if iss.PublicKeyFile == "" {
			continue
		}
		set, err := jwks.LoadPEMFile(f.resolve(iss.PublicKeyFile))
		if err != nil {
			return Config{}, f.wrap(issuerPath(i)+".public_key_file", err)
		}
		keys[i] = set
	}
	// Each NewRemote fetches its set once before it returns (failures are
	// retried in the background); fetching in parallel bounds the start to
	// one timeout however many issuers there are.
	ctx, cancel := context.WithCancel(ctx)
	built := false
	defer func() {
		if !built {
			cancel() // stop the sets started before the failure
		}
	}()
	errs := make([]error, len(j.Issuers))
	var wg sync.WaitGroup
	for i, iss := range j.Issuers {
		if iss.PublicKeyFile != "" {
			continue
		}
		opts := jwks.Options{
			RefreshInterval:    time.Duration(j.JWKS.RefreshInterval),
			UnknownKIDInterval: time.Duration(j.JWKS.UnknownKIDInterval),
			Timeout:            time.Duration(j.JWKS.Timeout),
			MaxBytes:           j.JWKS.MaxBytes,
			AllowInsecureHTTP:  iss.AllowInsecureHTTP,
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
		for _, set := range keys {
			if r, ok := set.(*jwks.Remote); ok {
				r.Close()
			}
		}
		key := issuerPath(i) + ".jwks_url"
		if j.Issuers[i].Discovery {
			key = issuerPath(i) + ".discovery"
		}
		return Config{}, f.wrap(key, err)
	}
	for i, iss := range j.Issuers {
		cfg.Issuers = append(cfg.Issuers, Issuer{
			Issuer:    iss.Issuer,
			Audiences: slices.Clone(iss.Audiences),
			Keys:      keys[i],
		})
	}
	built = true
	return cfg, nil
}

// parseConfigFile decodes data; file, if not empty, is named in errors.
func parseConfigFile(data []byte, file string) (*ConfigFile, error) {
	f := &ConfigFile{file: file, lines: map[string]int{}}
	if len(data) > MaxConfigFileBytes {
		return nil, f.errorf("", "the file is larger than %d bytes", MaxConfigFileBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, f.errorf("", "the file is empty; it needs at least a jwt section with issuers, or mode: credentials with a credentials section")
		}
		return nil, f.yamlError(err)
	}
	var next yaml.Node
	if err := dec.Decode(&next); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, f.yamlError(err)
		}
		return nil, f.errorAt(next.Line, "", "the file holds more than one YAML document (remove the second \"---\")")
	}
	top := &doc
	if top.Kind == yaml.DocumentNode && len(top.Content) == 1 {
		top = top.Content[0]
	}
	if top.Kind == yaml.ScalarNode && top.ShortTag() == "!!null" {
		return nil, f.errorf("", "the file is empty; it needs at least a jwt section with issuers, or mode: credentials with a credentials section")
	}
	if top.Kind != yaml.MappingNode {
		return nil, f.errorAt(top.Line, "", "the top level must be a mapping of keys such as mode, realm and jwt, not a %s", kindName(top))
	}
	w := walker{f: f}
	if err := w.walk(top, reflect.TypeFor[ConfigFile](), ""); err != nil {
		return nil, err
	}
	// The walk has checked keys and types with better messages; KnownFields
	// stays on as a second guard.
	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(f); err != nil {
		return nil, f.yamlError(err)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return f, nil
}

// validate checks the rules that span keys or bound values.
func (f *ConfigFile) validate() error {
	switch f.Mode {
	case "", ModeJWT, ModeCredentials, ModeDual:
	default:
		return f.errorf("mode", "unknown mode %s (use jwt, credentials or dual)", quoteValue(string(f.Mode)))
	}
	if strings.ContainsAny(f.Realm, "\"\\\r\n") {
		return f.errorf("realm", "may not contain quotes, backslashes or line breaks")
	}
	if err := f.validateCredentials(); err != nil {
		return err
	}
	j := &f.JWT
	if len(j.Issuers) == 0 && f.needsIssuers() {
		switch {
		case f.Credentials != nil && f.Credentials.Exchange != nil:
			return f.errorAt(cmp.Or(f.lineOf("jwt.issuers"), f.lineOf("credentials.exchange")), "jwt.issuers",
				"at least one issuer is required: the token credentials.exchange obtains is verified through them")
		case f.effectiveMode() == ModeDual:
			return f.errorAt(cmp.Or(f.lineOf("jwt.issuers"), f.lineOf("mode")), "jwt.issuers", "at least one issuer is required: mode dual accepts Bearer tokens too")
		}
		return f.errorf("jwt.issuers", "at least one issuer is required")
	}
	first := map[string]int{}
	for i := range j.Issuers {
		if err := f.validateIssuer(i, first); err != nil {
			return err
		}
	}
	for i, alg := range j.Algorithms {
		key := fmt.Sprintf("jwt.algorithms[%d]", i)
		switch {
		case slices.Contains(DefaultAlgorithms, alg):
		case strings.EqualFold(alg, "none"):
			return f.errorf(key, "%q is never accepted: an unsigned token can be forged by anyone", alg)
		case slices.ContainsFunc([]string{"HS256", "HS384", "HS512"}, func(hs string) bool { return strings.EqualFold(alg, hs) }):
			return f.errorf(key, "%s is not accepted: HMAC needs the issuer's shared secret on every API, and whoever holds it can mint tokens; use an asymmetric algorithm such as RS256 or ES256", quoteValue(alg))
		default:
			return f.errorf(key, "unknown algorithm %s (allowed, case-sensitive: %s)", quoteValue(alg), strings.Join(DefaultAlgorithms, ", "))
		}
	}
	if j.Leeway != nil && (*j.Leeway < 0 || time.Duration(*j.Leeway) > maxLeeway) {
		return f.errorf("jwt.leeway", "%s is outside 0s to %s", j.Leeway, maxLeeway)
	}
	for i, c := range j.ScopeClaims {
		if c == "" {
			return f.errorf(fmt.Sprintf("jwt.scope_claims[%d]", i), "a claim name may not be empty")
		}
	}
	if err := f.checkSize("jwt.max_token_bytes", int64(j.MaxTokenBytes), MaxConfigTokenBytes, "64 KiB"); err != nil {
		return err
	}
	k := j.JWKS
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"jwt.jwks.refresh_interval", k.RefreshInterval},
		{"jwt.jwks.unknown_kid_interval", k.UnknownKIDInterval},
		{"jwt.jwks.timeout", k.Timeout},
	} {
		if (d.v != 0 || f.has(d.key)) && d.v < Duration(time.Second) {
			return f.errorf(d.key, "%s is too short; the least is 1s", d.v)
		}
	}
	refresh, unknown := effective(k.RefreshInterval, jwks.DefaultRefreshInterval), effective(k.UnknownKIDInterval, jwks.DefaultUnknownKIDInterval)
	if unknown > refresh {
		if k.UnknownKIDInterval == 0 {
			return f.errorf("jwt.jwks.refresh_interval", "%s is shorter than unknown_kid_interval (%s by default); set unknown_kid_interval to at most %s", refresh, unknown, refresh)
		}
		refreshText := refresh.String()
		if k.RefreshInterval == 0 {
			refreshText += " by default"
		}
		return f.errorf("jwt.jwks.unknown_kid_interval", "%s is longer than refresh_interval (%s); it may be at most that", unknown, refreshText)
	}
	return f.checkSize("jwt.jwks.max_bytes", k.MaxBytes, MaxConfigJWKSBytes, "64 MiB")
}

func (f *ConfigFile) validateIssuer(i int, first map[string]int) error {
	iss := f.JWT.Issuers[i]
	at := issuerPath(i)
	if iss.Issuer == "" {
		return f.errorf(at+".issuer", "is required: the exact \"iss\" value of the issuer's tokens")
	}
	if j, dup := first[iss.Issuer]; dup {
		return f.errorf(at+".issuer", "%s is already configured in %s", quoteValue(iss.Issuer), issuerPath(j))
	}
	first[iss.Issuer] = i
	var sources []string
	if iss.JWKSURL != "" {
		sources = append(sources, "jwks_url")
	}
	if iss.Discovery {
		sources = append(sources, "discovery")
	}
	if iss.PublicKeyFile != "" {
		sources = append(sources, "public_key_file")
	}
	switch len(sources) {
	case 0:
		return f.errorf(at, "needs a key source: exactly one of jwks_url, discovery: true or public_key_file")
	case 1:
	default:
		return f.errorf(at, "sets %s; use exactly one of jwks_url, discovery: true or public_key_file", strings.Join(sources, " and "))
	}
	if iss.JWKSURL != "" {
		if msg := checkKeyURL(iss.JWKSURL, iss.AllowInsecureHTTP); msg != "" {
			return f.errorf(at+".jwks_url", "%s", msg)
		}
	}
	if iss.Discovery {
		if msg := checkKeyURL(iss.Issuer, iss.AllowInsecureHTTP); msg != "" {
			return f.errorf(at+".issuer", "with discovery: true, the issuer %s", msg)
		}
		if u, _ := url.Parse(iss.Issuer); u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			return f.errorf(at+".issuer", "with discovery: true, the issuer may not have a query or fragment (RFC 8414 §2)")
		}
	}
	if len(iss.Audiences) == 0 {
		return f.errorf(at+".audiences", "at least one audience is required, such as [my-api]")
	}
	for k, aud := range iss.Audiences {
		if aud == "" {
			return f.errorf(fmt.Sprintf("%s.audiences[%d]", at, k), "an audience may not be empty")
		}
	}
	return nil
}

// checkSize checks a byte count that is 0 when omitted.
func (f *ConfigFile) checkSize(key string, v, maximum int64, human string) error {
	if v < 0 || (v == 0 && f.has(key)) {
		return f.errorf(key, "must be a positive number of bytes; omit it for the default")
	}
	if v > maximum {
		return f.errorf(key, "%d is too large; the most is %d (%s)", v, maximum, human)
	}
	return nil
}

// checkKeyURL returns what is wrong with a URL keys or metadata are fetched
// from, or "".
func checkKeyURL(raw string, allowInsecure bool) string {
	return urlProblem(raw, urlrule.Rule{AllowInsecureHTTP: allowInsecure}, "use https://, or set allow_insecure_http: true")
}

// urlProblem applies rule to raw and returns what is wrong, in the words of
// the file, or "". hint ends the message for an http:// URL to a host that
// is not loopback.
func urlProblem(raw string, rule urlrule.Rule, hint string) string {
	u, err := rule.Check(raw)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, urlrule.ErrInsecureHTTP):
		return fmt.Sprintf("uses http:// for %s, which is allowed only for loopback hosts (127.0.0.1, ::1, localhost); %s", quoteValue(u.Hostname()), hint)
	default:
		return err.Error()
	}
}

func effective(d Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

func issuerPath(i int) string { return fmt.Sprintf("jwt.issuers[%d]", i) }

// has reports whether key was set in the file.
func (f *ConfigFile) has(key string) bool {
	_, ok := f.lines[key]
	return ok
}

// configError is every error of this file: it names the file, line and key.
type configError struct {
	file string
	line int
	key  string
	msg  string
	err  error
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("config: ")
	if e.file != "" {
		b.WriteString(e.file + ": ")
	}
	if e.line > 0 {
		b.WriteString("line " + strconv.Itoa(e.line) + ": ")
	}
	if e.key != "" {
		b.WriteString(e.key + ": ")
	}
	b.WriteString(e.msg)
	return b.String()
}

func (e *configError) Unwrap() error { return e.err }

// errorf reports a problem with key, at its line if the file set it, else at
// the line of its nearest enclosing key that the file set.
func (f *ConfigFile) errorf(key, format string, args ...any) error {
	return f.errorAt(f.lineOf(key), key, format, args...)
}

// lineOf returns the line of key or of its nearest enclosing key in the
// file, or 0.
func (f *ConfigFile) lineOf(key string) int {
	for key != "" {
		if line, ok := f.lines[key]; ok {
			return line
		}
		key = key[:max(strings.LastIndexAny(key, ".["), 0)]
	}
	return 0
}

func (f *ConfigFile) errorAt(line int, key, format string, args ...any) error {
	return &configError{file: f.file, line: line, key: key, msg: fmt.Sprintf(format, args...)}
}

// wrap reports err, from building key's key set.
func (f *ConfigFile) wrap(key string, err error) error {
	return &configError{file: f.file, line: f.lineOf(key), key: key, msg: err.Error(), err: err}
}

// yamlError rewords an error of the YAML library: "yaml: line 3: did not
// find expected key" becomes line 3, "invalid YAML: did not find expected
// key". Of a list of errors only the first is kept.
func (f *ConfigFile) yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	msg = strings.TrimSpace(strings.TrimPrefix(msg, "unmarshal errors:"))
	msg, _, _ = strings.Cut(msg, "\n")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, after
			}
		}
	}
	return &configError{file: f.file, line: line, msg: "invalid YAML: " + msg, err: err}
}

// quoteValue quotes a value from the file for an error message, shortened
// so that errors never carry much of the file.
func quoteValue(s string) string {
	const maxRunes = 40
	if r := []rune(s); len(r) > maxRunes {
		s = string(r[:maxRunes]) + "…"
	}
	return strconv.Quote(s)
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.ScalarNode:
		return "single value"
	case yaml.AliasNode:
		return "alias"
	default:
		return "document"
	}
}
