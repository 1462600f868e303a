package config

import (
	"github.com/keyward/keyward/internal/excerpt"

	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/clientaddr"
	"github.com/keyward/keyward/internal/urlrule"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
)

// parts is what a File describes, one Config per package: the core's,
// and the JWT and client-credentials methods' that Tokens and Clients are
// built from.
type parts struct {
	core    dualauth.Config
	jwt     jwtauth.Config     // no Issuers: no JWT method
	clients *clientauth.Config // nil: no client credentials
	// throttle is credentials.throttle (the defaults without it): the
	// Checker's, and the Guard's that counts guessed opaque tokens when an
	// issuer introspects. Its Redis is the Checker's too.
	throttle clientauth.Throttle
}

// checked checks f, by the rules of the file's own keys and then by the
// Validate methods of the Configs it describes, and returns them without
// key sets, and with a stand-in for the registry of clients_file: the part
// that takes no I/O to build.
func (f *File) checked() (parts, error) {
	if err := f.checkFile(); err != nil {
		return parts{}, err
	}
	p := f.parts()
	if err := p.validate(f.Mode); err != nil {
		return parts{}, f.validateError(err)
	}
	return p, nil
}

// validate checks p: the core (mode, realm, client headers), the client
// credentials, then the issuers, which every mode that takes Bearer tokens
// and an exchange need.
func (p parts) validate(mode dualauth.Mode) error {
	core := p.core
	core.Tokens = unbuiltTokens{} // checked below, with the words of the file
	if p.clients != nil {
		core.Clients = unbuiltClients{}
	}
	if err := core.Validate(); err != nil {
		return err
	}
	exchanges := p.clients != nil && p.clients.Exchange != nil
	if p.clients != nil {
		c := *p.clients
		c.Tokens = unbuiltTokens{}
		if err := c.Validate(); err != nil {
			return err
		}
	} else if p.throttle != (clientauth.Throttle{}) {
		// Mode jwt: the Guard's throttle, by the Checker's rules (the
		// errors name Throttle fields as the Checker's do).
		if err := (clientauth.Config{Verifier: unopened{}, Throttle: p.throttle}).Validate(); err != nil {
			return err
		}
	}
	if len(p.jwt.Issuers) > 0 {
		return p.jwt.Validate()
	}
	missing := func(why string) error {
		return &dualauth.ConfigError{Package: "jwtauth", Field: "Issuers", Reason: "at least one issuer is required" + why}
	}
	switch m := cmp.Or(mode, dualauth.ModeJWT); {
	case exchanges:
		return missing(": the token credentials.exchange obtains is verified through them")
	case m == dualauth.ModeDual:
		return missing(": mode dual accepts Bearer tokens too")
	case m == dualauth.ModeJWT:
		return missing("")
	}
	return nil
}

// parts returns the Configs f describes, without I/O: see checked.
func (f *File) parts() parts {
	j := f.JWT
	p := parts{
		core: dualauth.Config{
			Mode:                  f.Mode,
			Realm:                 f.Realm,
			AuthenticatePreflight: f.CORSPreflight == "authenticate",
		},
		jwt: jwtauth.Config{
			Algorithms:    slices.Clone(j.Algorithms),
			ScopeClaims:   slices.Clone(j.ScopeClaims),
			RequireType:   j.RequireType,
			MaxTokenBytes: j.MaxTokenBytes,
			TokenCache: jwtauth.TokenCache{
				Disabled:   j.Cache.Enabled != nil && !*j.Cache.Enabled,
				MaxEntries: j.Cache.MaxEntries,
				MaxTTL:     time.Duration(j.Cache.MaxTTL),
			},
		},
	}
	p.jwt.DPoP = f.dpopConfig()
	p.jwt.CertificateBound = f.certificateBoundConfig()
	if j.Leeway != nil {
		p.jwt.Leeway = time.Duration(*j.Leeway)
		if p.jwt.Leeway == 0 {
			p.jwt.Leeway = jwtauth.NoLeeway // Config reads 0 as the default
		}
	}
	for _, iss := range j.Issuers {
		p.jwt.Issuers = append(p.jwt.Issuers, jwtauth.Issuer{
			Issuer: iss.Issuer, Audiences: slices.Clone(iss.Audiences), Introspection: introspection(iss.Introspection),
		})
	}
	c := f.Credentials
	if c == nil {
		return p
	}
	p.core.TrustedProxies = proxyPrefixes(c.TrustedProxies) // in every mode: the Guard counts by the forwarded address too
	p.throttle = clientauth.Throttle{
		MaxClientFailures: c.Throttle.MaxClientFailures,
		MaxAddrFailures:   c.Throttle.MaxAddressFailures,
		Window:            time.Duration(c.Throttle.Window),
	}
	if r := c.Throttle.Redis; r != nil {
		// The pair key and CA files are read by Config, into this one
		// RedisThrottle that the Checker and the Guard share.
		p.throttle.Redis = &clientauth.RedisThrottle{
			URL: r.URL, KeyPrefix: r.KeyPrefix, Timeout: time.Duration(r.Timeout),
			MaxCounters: r.MaxCounters, Replicas: r.Replicas,
		}
	}
	if m := cmp.Or(f.Mode, dualauth.ModeJWT); m == dualauth.ModeJWT {
		return p // no client credentials: the section only tunes the Guard
	}
	p.core.ClientIDHeader = c.ClientIDHeader
	p.core.ClientSecretHeader = c.ClientSecretHeader
	p.core.DisableBasic = c.Basic != nil && !*c.Basic
	p.clients = &clientauth.Config{CacheTTL: time.Duration(c.CacheTTL), Throttle: p.throttle}
	if c.ClientsFile != "" {
		p.clients.Verifier = unopened{}
	}
	if e := c.Exchange; e != nil {
		client := &exchange.Client{
			TokenURL: e.TokenURL,
			Style:    e.Style,
			Scope:    e.Scope,
			Timeout:  time.Duration(e.Timeout),
		}
		if len(e.Params) > 0 {
			client.Params = make(url.Values, len(e.Params))
			for k, v := range e.Params {
				client.Params.Set(k, v)
			}
		}
		p.clients.Exchange = client
	}
	return p
}

// unopened stands for the registry of clients_file until it is opened.
type unopened struct{}

func (unopened) VerifyClient(context.Context, string, string) (*dualauth.Principal, error) {
	return nil, errors.New("config: the clients file is not open")
}

// unbuiltTokens and unbuiltClients stand for the methods while the Configs
// are checked, before any is built.
type (
	unbuiltTokens  struct{}
	unbuiltClients struct{}
)

func (unbuiltTokens) VerifyToken(context.Context, string, dualauth.Origin) (*dualauth.Principal, bool, error) {
	return nil, false, errors.New("config: the token verifier is not built")
}

func (unbuiltClients) CheckClient(context.Context, string, string, string) (*dualauth.Principal, bool, error) {
	return nil, false, errors.New("config: the client checker is not built")
}

// fieldKeys are the keys of the file that Config fields come from, by
// field path without indices: the fields of jwtauth.Config as they are,
// those of clientauth.Config and the client header fields of
// dualauth.Config under "Credentials." (see fieldPath).
var fieldKeys = map[string]string{
	"Mode":                                    "mode",
	"Realm":                                   "realm",
	"Issuers":                                 "jwt.issuers",
	"Issuers.Issuer":                          "jwt.issuers.issuer",
	"Issuers.Audiences":                       "jwt.issuers.audiences",
	"Issuers.Introspection":                   "jwt.issuers.introspection",
	"Issuers.Introspection.Endpoint":          "jwt.issuers.introspection.endpoint",
	"Issuers.Introspection.ClientID":          "jwt.issuers.introspection.client_id",
	"Issuers.Introspection.ClientSecret":      "jwt.issuers.introspection.client_secret_file",
	"Issuers.Introspection.AuthMethod":        "jwt.issuers.introspection.auth_method",
	"Issuers.Introspection.TokenPrefix":       "jwt.issuers.introspection.token_prefix",
	"Issuers.Introspection.Timeout":           "jwt.issuers.introspection.timeout",
	"Issuers.Introspection.IntrospectJWTs":    "jwt.issuers.introspection.introspect_jwts",
	"Issuers.Introspection.Cache":             "jwt.issuers.introspection.cache",
	"Issuers.Introspection.Cache.Disabled":    "jwt.issuers.introspection.cache.enabled",
	"Issuers.Introspection.Cache.MaxTTL":      "jwt.issuers.introspection.cache.max_ttl",
	"Issuers.Introspection.Cache.NegativeTTL": "jwt.issuers.introspection.cache.negative_ttl",
	"Issuers.Introspection.Cache.MaxEntries":  "jwt.issuers.introspection.cache.max_entries",
	"Throttle":                                "credentials.throttle",
	"Algorithms":                              "jwt.algorithms",
	"Leeway":                                  "jwt.leeway",
	"ScopeClaims":                             "jwt.scope_claims",
	"RequireType":                             "jwt.require_type",
	"MaxTokenBytes":                           "jwt.max_token_bytes",
	"TokenCache.MaxEntries":                   "jwt.cache.max_entries",
	"TokenCache.MaxTTL":                       "jwt.cache.max_ttl",
	"DPoP":                                    "jwt.dpop",
	"DPoP.Required":                           "jwt.dpop.mode",
	"DPoP.MaxAge":                             "jwt.dpop.max_age",
	"DPoP.Nonces":                             "jwt.dpop.nonce",
	"DPoP.NonceSecret":                        "jwt.dpop.nonce_secret_file",
	"DPoP.MaxReplayEntries":                   "jwt.dpop.max_replay_entries",
	"DPoP.MaxReplayEntriesPerKey":             "jwt.dpop.max_replay_entries_per_key",
	"CertificateBound":                        "jwt.certificate_bound",
	"CertificateBound.Header":                 "jwt.certificate_bound.header",
	"Credentials":                             "credentials",
	"Credentials.ClientIDHeader":              "credentials.client_id_header",
	"Credentials.ClientSecretHeader":          "credentials.client_secret_header",
	"Credentials.DisableBasic":                "credentials.basic",
	"Credentials.TrustedProxies":              "credentials.trusted_proxies",
	"Credentials.Verifier":                    "credentials.clients_file",
	"Credentials.Exchange":                    "credentials.exchange",
	"Credentials.Exchange.TokenURL":           "credentials.exchange.token_url",
	"Credentials.Exchange.Style":              "credentials.exchange.style",
	"Credentials.Exchange.Scope":              "credentials.exchange.scope",
	"Credentials.Exchange.Timeout":            "credentials.exchange.timeout",
	"Credentials.Exchange.Params":             "credentials.exchange.params",
	"Credentials.CacheTTL":                    "credentials.cache_ttl",
	"Credentials.Throttle":                    "credentials.throttle",
	"Credentials.Throttle.MaxClientFailures":  "credentials.throttle.max_client_failures",
	"Credentials.Throttle.MaxAddrFailures":    "credentials.throttle.max_address_failures",
	"Credentials.Throttle.Window":             "credentials.throttle.window",
	"Credentials.Throttle.Redis":              "credentials.throttle.redis",
	"Credentials.Throttle.Redis.URL":          "credentials.throttle.redis.url",
	"Credentials.Throttle.Redis.Timeout":      "credentials.throttle.redis.timeout",
	"Credentials.Throttle.Redis.PairKey":      "credentials.throttle.redis.pair_key_file",
	"Credentials.Throttle.Redis.MaxCounters":  "credentials.throttle.redis.max_counters",
	"Credentials.Throttle.Redis.Replicas":     "credentials.throttle.redis.replicas",
}

// index matches the indices of a field path, [0].
var index = regexp.MustCompile(`\[\d+\]`)

// fileKey returns the key of the file a dualauth.Config field path comes
// from: Issuers[0].Audiences[1] is jwt.issuers[0].audiences[1]. Of a path
// the file has no key for, it maps the longest prefix that has one.
func fileKey(field string) string {
	parts := strings.Split(field, ".")
	for n := len(parts); n > 0; n-- {
		prefix := strings.Join(parts[:n], ".")
		key, ok := fieldKeys[index.ReplaceAllString(prefix, "")]
		if !ok {
			continue
		}
		// Put the indices back, in order, after the names they follow.
		keyParts := strings.Split(key, ".")
		jwtPrefix := len(keyParts) - n // "jwt." before the fields of the jwt section
		for i, p := range parts[:n] {
			keyParts[jwtPrefix+i] += strings.Join(index.FindAllString(p, -1), "")
		}
		key = strings.Join(keyParts, ".")
		if strings.HasSuffix(key, ".params") && n < len(parts) {
			key += "." + strings.Join(parts[n:], ".") // a parameter's name, as written
		}
		return key
	}
	return ""
}

// fieldPath is the path of fieldKeys that the field of ce is found under.
func fieldPath(ce *dualauth.ConfigError) string {
	switch ce.Package {
	case "clientauth":
		return "Credentials." + ce.Field
	case "":
		switch ce.Field {
		case "ClientIDHeader", "ClientSecretHeader", "DisableBasic", "TrustedProxies":
			return "Credentials." + ce.Field
		}
	}
	return ce.Field
}

// validateError reports an error of the Configs' Validate methods at the
// key and line of the file it comes from.
func (f *File) validateError(err error) error {
	var ce *dualauth.ConfigError
	if !errors.As(err, &ce) {
		msg, err := f.redactError(err.Error(), err)
		return &fileError{file: f.file, msg: msg, err: err}
	}
	field := fieldPath(ce)
	key := cmp.Or(fileKey(field), field)
	line := f.lineOf(key)
	if ce.Field == "Issuers" {
		// Issuers are missing: point at what needs them.
		switch {
		case f.Credentials != nil && f.Credentials.Exchange != nil:
			line = cmp.Or(line, f.lineOf("credentials.exchange"))
		case f.Mode == dualauth.ModeDual:
			line = cmp.Or(line, f.lineOf("mode"))
		}
	}
	// Redacted before fileReason shortens quoted values: a URL cut short
	// would no longer be recognized, and what is left of it shown.
	reason, err := f.redactError(ce.Reason, err)
	return &fileError{file: f.file, line: line, key: key, msg: fileReason(reason), err: err}
}

// fieldRef matches a reference to another field in a reason, such as
// Issuers[0].
var fieldRef = regexp.MustCompile(`\bIssuers\[\d+\](?:\.[A-Z][A-Za-z]*(?:\[\d+\])?)*`)

// quoted matches a Go-quoted string in a reason.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// fileReason words a reason of dualauth.Config.Validate for the file: the
// fields it names become the keys they come from, and the values it quotes
// are shortened as the file's own messages shorten them, so that errors
// never carry much of the file.
func fileReason(reason string) string {
	reason = fieldRef.ReplaceAllStringFunc(reason, func(ref string) string {
		return cmp.Or(fileKey(ref), ref)
	})
	return quoted.ReplaceAllStringFunc(reason, func(q string) string {
		if s, err := strconv.Unquote(q); err == nil {
			return excerpt.Quote(s)
		}
		return q
	})
}

// checkFile checks the rules of the file's own keys: key sources, URLs,
// durations, sizes, and the credentials section against the mode. The rules
// of the Config they make are dualauth's.
func (f *File) checkFile() error {
	switch f.CORSPreflight {
	case "", "pass", "authenticate":
	default:
		return f.errorf("cors_preflight", "%s is neither pass nor authenticate", excerpt.Quote(f.CORSPreflight))
	}
	if err := f.checkCredentials(); err != nil {
		return err
	}
	if f.ForwardAuth != nil {
		// Read by keyward serve; a middleware user gets its errors too.
		if err := f.checkForwardAuth(); err != nil {
			return err
		}
	}
	if f.GRPC != nil {
		if err := f.checkGRPC(); err != nil {
			return err
		}
	}
	j := &f.JWT
	for i := range j.Issuers {
		if err := f.checkIssuer(i); err != nil {
			return err
		}
	}
	if j.Leeway != nil && *j.Leeway < 0 {
		return f.errorf("jwt.leeway", "%s is outside 0s to %s", j.Leeway, jwtauth.MaxLeeway)
	}
	if err := f.checkSize("jwt.max_token_bytes", int64(j.MaxTokenBytes), MaxTokenBytes, "64 KiB"); err != nil {
		return err
	}
	k := j.JWKS
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"jwt.cache.max_ttl", j.Cache.MaxTTL},
		{"jwt.jwks.refresh_interval", k.RefreshInterval},
		{"jwt.jwks.unknown_kid_interval", k.UnknownKIDInterval},
		{"jwt.jwks.timeout", k.Timeout},
	} {
		if err := f.checkDuration(d.key, d.v); err != nil {
			return err
		}
	}
	if w := k.UnknownKIDWait; w != nil {
		if timeout := effective(k.Timeout, jwks.DefaultTimeout); *w < 0 || time.Duration(*w) > timeout {
			return f.errorf("jwt.jwks.unknown_kid_wait", "%s is outside 0s to the timeout (%s); 0s means never wait", *w, timeout)
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
	if err := f.checkEntries("jwt.cache.max_entries", j.Cache.MaxEntries); err != nil {
		return err
	}
	if err := f.checkTokenPrefixes(); err != nil {
		return err
	}
	if err := f.checkDPoP(); err != nil {
		return err
	}
	if err := f.checkCertificateBound(); err != nil {
		return err
	}
	return f.checkSize("jwt.jwks.max_bytes", k.MaxBytes, MaxJWKSBytes, "64 MiB")
}

// checkEntries checks the bound of a cache, 0 when omitted.
func (f *File) checkEntries(key string, n int) error {
	if n < 0 || (n == 0 && f.has(key)) || n > MaxCachedTokens {
		return f.errorf(key, "%d is outside 1 to %d; omit it for the default", n, MaxCachedTokens)
	}
	return nil
}

// checkIssuer checks the key source of the i-th issuer.
func (f *File) checkIssuer(i int) error {
	iss := f.JWT.Issuers[i]
	at := fmt.Sprintf("jwt.issuers[%d]", i)
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
		if iss.Introspection == nil {
			return f.errorf(at, "needs a key source: exactly one of jwks_url, discovery: true or public_key_file (or, for an issuer whose tokens are all opaque, an introspection section)")
		}
	case 1:
	default:
		return f.errorf(at, "sets %s; use exactly one of jwks_url, discovery: true or public_key_file", strings.Join(sources, " and "))
	}
	if iss.JWKSURL != "" {
		if msg := checkKeyURL(iss.JWKSURL, iss.AllowInsecureHTTP); msg != "" {
			return f.errorf(at+".jwks_url", "%s", msg)
		}
	}
	if iss.Discovery && iss.Issuer != "" { // an empty issuer is dualauth's to refuse
		if msg := checkKeyURL(iss.Issuer, iss.AllowInsecureHTTP); msg != "" {
			return f.errorf(at+".issuer", "with discovery: true, the issuer %s", msg)
		}
		if u, _ := url.Parse(iss.Issuer); u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
			return f.errorf(at+".issuer", "with discovery: true, the issuer may not have a query or fragment (RFC 8414 §2)")
		}
	}
	if iss.Introspection != nil {
		return f.checkIntrospection(i)
	}
	return nil
}

// checkCredentials checks the credentials section against the mode and on
// its own.
func (f *File) checkCredentials() error {
	c := f.Credentials
	switch f.Mode {
	case "", dualauth.ModeJWT:
		if c == nil {
			return nil
		}
		if err := f.checkJWTModeCredentials(); err != nil {
			return err
		}
	case dualauth.ModeCredentials, dualauth.ModeDual:
		if c == nil {
			return f.errorAt(f.lineOf("mode"), "credentials", "is required with mode %s: add a credentials section with clients_file or exchange", f.Mode)
		}
		if err := f.checkSecretSource(); err != nil {
			return err
		}
	default: // an unknown mode is dualauth's to refuse
		if c == nil {
			return nil
		}
		if err := f.checkSecretSource(); err != nil {
			return err
		}
	}
	for _, h := range []struct{ key, name, def string }{
		{"credentials.client_id_header", c.ClientIDHeader, dualauth.DefaultClientIDHeader},
		{"credentials.client_secret_header", c.ClientSecretHeader, dualauth.DefaultClientSecretHeader},
	} {
		if h.name == "" && f.has(h.key) {
			return f.errorf(h.key, "may not be empty; omit it for the default, %s", h.def)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := clientaddr.Parse([]string{p}); err != nil {
			return f.errorf(fmt.Sprintf("credentials.trusted_proxies[%d]", i), "%s is not an IP address or a CIDR range such as 10.0.0.0/8", excerpt.Quote(p))
		}
	}
	if r := c.Throttle.Redis; r != nil {
		if r.URL == "" {
			return f.errorf("credentials.throttle.redis.url", "is required, such as redis://127.0.0.1:6379/0")
		}
		if r.Timeout != 0 || f.has("credentials.throttle.redis.timeout") {
			if r.Timeout <= 0 {
				return f.errorf("credentials.throttle.redis.timeout", "must be positive; omit it for the default, 100ms")
			}
		}
		if r.CAFile != "" && !strings.HasPrefix(r.URL, "rediss://") {
			return f.errorf("credentials.throttle.redis.ca_file", "applies to rediss:// URLs only")
		}
	}
	if c.Exchange != nil && (c.ReloadInterval != 0 || f.has("credentials.reload_interval")) {
		return f.errorf("credentials.reload_interval", "applies to clients_file only; remove it when using exchange")
	}
	for _, d := range []struct {
		key string
		v   Duration
	}{
		{"credentials.cache_ttl", c.CacheTTL},
		{"credentials.reload_interval", c.ReloadInterval},
		{"credentials.throttle.window", c.Throttle.Window},
	} {
		if err := f.checkDuration(d.key, d.v); err != nil {
			return err
		}
	}
	for _, n := range []struct {
		key string
		v   int
	}{
		{"credentials.throttle.max_client_failures", c.Throttle.MaxClientFailures},
		{"credentials.throttle.max_address_failures", c.Throttle.MaxAddressFailures},
	} {
		if (n.v != 0 || f.has(n.key)) && (n.v < 1 || n.v > MaxThrottleFailures) {
			return f.errorf(n.key, "%d is outside 1 to %d; omit it for the default", n.v, MaxThrottleFailures)
		}
	}
	if c.Exchange != nil {
		return f.checkExchange()
	}
	return nil
}

// checkSecretSource checks that the credentials section has exactly one
// way to check client secrets.
func (f *File) checkSecretSource() error {
	c := f.Credentials
	switch {
	case c.ClientsFile == "" && c.Exchange == nil:
		if f.has("credentials.clients_file") {
			return f.errorf("credentials.clients_file", "may not be empty")
		}
		return f.errorf("credentials", "needs a way to check secrets: exactly one of clients_file (a registry of hashed secrets) or exchange (the token endpoint)")
	case c.ClientsFile != "" && c.Exchange != nil:
		return f.errorf("credentials", "sets clients_file and exchange; use exactly one of them")
	}
	return nil
}

// checkJWTModeCredentials checks the credentials section of mode jwt,
// where client credentials are not accepted: it may hold trusted_proxies,
// and throttle, whose budgets need an issuer with introspection (they
// count its guessed opaque tokens) and whose redis needs one or jwt.dpop
// (whose replay records it then holds).
func (f *File) checkJWTModeCredentials() error {
	c := f.Credentials
	mode := "jwt"
	if f.Mode == "" {
		mode += " (the default)"
	}
	// The first key the file sets that only client credentials use.
	var first string
	for _, k := range []struct {
		key string
		set bool
	}{
		{"credentials.client_id_header", c.ClientIDHeader != ""},
		{"credentials.client_secret_header", c.ClientSecretHeader != ""},
		{"credentials.basic", c.Basic != nil},
		{"credentials.clients_file", c.ClientsFile != ""},
		{"credentials.exchange", c.Exchange != nil},
		{"credentials.cache_ttl", c.CacheTTL != 0},
		{"credentials.reload_interval", c.ReloadInterval != 0},
	} {
		if (k.set || f.has(k.key)) && (first == "" || f.lineOf(k.key) < f.lineOf(first)) {
			first = k.key
		}
	}
	if first != "" {
		return f.errorf(first, "needs mode credentials or dual, but mode is %s; set mode: credentials or mode: dual (in mode jwt, credentials may hold only trusted_proxies and throttle)", mode)
	}
	if len(c.TrustedProxies) == 0 && c.Throttle == (Throttle{}) && !f.has("credentials.throttle") {
		return f.errorAt(f.lineOf("credentials"), "", "credentials is set but mode is %s and it holds neither trusted_proxies nor throttle, all that mode jwt reads of it: set mode: credentials or mode: dual, or remove the credentials section", mode)
	}
	if f.introspecting() {
		return nil
	}
	// trusted_proxies counts in every mode: whose forwarded address, and
	// DPoP htu, is believed. The throttle's budgets count only guessed
	// opaque tokens here; its redis may hold DPoP's replay records.
	for _, b := range []struct {
		key string
		set bool
	}{
		{"credentials.throttle.max_client_failures", c.Throttle.MaxClientFailures != 0},
		{"credentials.throttle.max_address_failures", c.Throttle.MaxAddressFailures != 0},
		{"credentials.throttle.window", c.Throttle.Window != 0},
	} {
		if b.set || f.has(b.key) {
			return f.errorf(b.key, "counts only guessed opaque tokens in mode %s, and no issuer has introspection: remove it, or add introspection to an issuer", mode)
		}
	}
	if c.Throttle.Redis != nil && f.JWT.DPoP == nil {
		return f.errorf("credentials.throttle.redis", "has nothing to hold in mode %s without introspection or jwt.dpop (it holds guessed opaque tokens' counts and DPoP proofs' replay records): remove it, or add introspection to an issuer or a jwt.dpop section", mode)
	}
	return nil
}

// checkExchange checks what only the file has of credentials.exchange;
// exchange.Client.Validate checks the rest (see fileKey).
func (f *File) checkExchange() error {
	e := f.Credentials.Exchange
	const at = "credentials.exchange"
	if e.AllowInsecureHTTP {
		return f.errorf(at+".allow_insecure_http", "is not supported for the token endpoint: client secrets are sent over http:// only to loopback hosts (127.0.0.1, ::1, localhost); use an https:// token_url")
	}
	return f.checkDuration(at+".timeout", e.Timeout)
}

// proxyPrefixes reads a checked credentials.trusted_proxies.
func proxyPrefixes(entries []string) []netip.Prefix {
	ps, _ := clientaddr.Parse(entries)
	return ps
}

// checkDuration checks a duration that is 0 when omitted and otherwise at
// least 1s.
func (f *File) checkDuration(key string, v Duration) error {
	if (v != 0 || f.has(key)) && v < Duration(time.Second) {
		return f.errorf(key, "%s is too short; the least is 1s", v)
	}
	return nil
}

// checkSize checks a byte count that is 0 when omitted.
func (f *File) checkSize(key string, v, maximum int64, human string) error {
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
		return fmt.Sprintf("uses http:// for %s, which is allowed only for loopback hosts (127.0.0.1, ::1, localhost); %s", excerpt.Quote(u.Hostname()), hint)
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
