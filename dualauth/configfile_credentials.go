package dualauth

import (
	"cmp"
	"context"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/urlrule"
)

// MaxConfigThrottleFailures is the largest failure count
// credentials.throttle may set.
const MaxConfigThrottleFailures = 1_000_000

// FileCredentials is the credentials section of a ConfigFile: client-credential
// authentication, which the credentials and dual modes need. Exactly one of
// ClientsFile and Exchange must be set. Zero values mean the defaults of
// Credentials.
type FileCredentials struct {
	// ClientIDHeader and ClientSecretHeader name the request headers that
	// carry the client id and secret; "" means DefaultClientIDHeader and
	// DefaultClientSecretHeader. They must be valid, distinct header names
	// (case-insensitively) other than Authorization.
	ClientIDHeader     string `yaml:"client_id_header,omitempty"`
	ClientSecretHeader string `yaml:"client_secret_header,omitempty"`
	// Basic accepts the credentials in "Authorization: Basic" (RFC 6749
	// §2.3.1) too; nil means true.
	Basic *bool `yaml:"basic,omitempty"`
	// ClientsFile is a registry of hashed client secrets (package clients);
	// a relative path is relative to the configuration file's directory (to
	// the working directory for a ConfigFile not read by ReadConfigFile).
	ClientsFile string `yaml:"clients_file,omitempty"`
	// Exchange, instead of ClientsFile, checks the credentials by trading
	// them for an access token at the authorization server's token
	// endpoint; the token is then verified through jwt.issuers.
	Exchange *FileExchange `yaml:"exchange,omitempty"`
	// CacheTTL is how long a verified id and secret are remembered; at
	// least 1s.
	CacheTTL Duration `yaml:"cache_ttl,omitempty"`
	// ReloadInterval is how often ClientsFile is checked for changes (it is
	// also reloaded on SIGHUP); at least 1s. Only with ClientsFile.
	ReloadInterval Duration `yaml:"reload_interval,omitempty"`
	// Throttle bounds failed checks.
	Throttle FileThrottle `yaml:"throttle,omitempty"`
}

// FileExchange is the credentials.exchange section of a ConfigFile: the
// exchange.Client of the token endpoint.
type FileExchange struct {
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

// FileThrottle is the credentials.throttle section of a ConfigFile.
type FileThrottle struct {
	// MaxClientFailures is the failed checks allowed per client id per
	// window before further checks are answered 429; 1 to
	// MaxConfigThrottleFailures.
	MaxClientFailures int `yaml:"max_client_failures,omitempty"`
	// MaxAddressFailures is the same per remote address.
	MaxAddressFailures int `yaml:"max_address_failures,omitempty"`
	// Window is how long failures are counted; at least 1s.
	Window Duration `yaml:"window,omitempty"`
}

// reservedExchangeParams are the body parameters exchange.Client sets
// itself, with what to do instead.
var reservedExchangeParams = map[string]string{
	"grant_type":    "it is always client_credentials",
	"client_id":     "it is the caller's client id",
	"client_secret": "it is the caller's secret",
	"scope":         "use credentials.exchange.scope",
}

// effectiveMode is f.Mode with the default applied.
func (f *ConfigFile) effectiveMode() Mode { return cmp.Or(f.Mode, ModeJWT) }

// needsIssuers reports whether f's mode needs jwt.issuers: every mode but
// credentials with a clients_file, which verifies no token.
func (f *ConfigFile) needsIssuers() bool {
	if f.effectiveMode() != ModeCredentials {
		return true
	}
	return f.Credentials != nil && f.Credentials.Exchange != nil
}

// validateCredentials checks the credentials section against the mode and
// on its own.
func (f *ConfigFile) validateCredentials() error {
	c := f.Credentials
	mode := f.effectiveMode()
	if !mode.allowsCredentials() {
		if c == nil {
			return nil
		}
		deflt := ""
		if f.Mode == "" {
			deflt = " (the default)"
		}
		return f.errorAt(f.lineOf("credentials"), "", "credentials is set but mode is jwt%s; set mode: credentials or mode: dual, or remove the credentials section", deflt)
	}
	if c == nil {
		return f.errorAt(f.lineOf("mode"), "credentials", "is required with mode %s: add a credentials section with clients_file or exchange", mode)
	}
	switch {
	case c.ClientsFile == "" && c.Exchange == nil:
		if f.has("credentials.clients_file") {
			return f.errorf("credentials.clients_file", "may not be empty")
		}
		return f.errorf("credentials", "needs a way to check secrets: exactly one of clients_file (a registry of hashed secrets) or exchange (the token endpoint)")
	case c.ClientsFile != "" && c.Exchange != nil:
		return f.errorf("credentials", "sets clients_file and exchange; use exactly one of them")
	}
	if err := f.validateCredentialHeaders(); err != nil {
		return err
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
		if (n.v != 0 || f.has(n.key)) && (n.v < 1 || n.v > MaxConfigThrottleFailures) {
			return f.errorf(n.key, "%d is outside 1 to %d; omit it for the default", n.v, MaxConfigThrottleFailures)
		}
	}
	if c.Exchange != nil {
		return f.validateExchange()
	}
	return nil
}

// validateCredentialHeaders checks the names of the client id and secret
// headers, defaults included.
func (f *ConfigFile) validateCredentialHeaders() error {
	c := f.Credentials
	headers := []struct {
		key, name string
		def       string
	}{
		{"credentials.client_id_header", c.ClientIDHeader, DefaultClientIDHeader},
		{"credentials.client_secret_header", c.ClientSecretHeader, DefaultClientSecretHeader},
	}
	for _, h := range headers {
		switch {
		case h.name == "" && f.has(h.key):
			return f.errorf(h.key, "may not be empty; omit it for the default, %s", h.def)
		case h.name == "":
		case !httpguts.ValidHeaderFieldName(h.name):
			return f.errorf(h.key, "%s is not a valid HTTP header name (letters, digits and !#$%%&'*+-.^_`|~ only)", quoteValue(h.name))
		case strings.EqualFold(h.name, "Authorization"):
			return f.errorf(h.key, "may not be Authorization, which carries Bearer tokens and HTTP Basic")
		}
	}
	id := cmp.Or(c.ClientIDHeader, DefaultClientIDHeader)
	secret := cmp.Or(c.ClientSecretHeader, DefaultClientSecretHeader)
	if strings.EqualFold(id, secret) {
		key, other := headers[1].key, "client_id_header"
		if c.ClientSecretHeader == "" {
			key, other = headers[0].key, "client_secret_header"
		}
		deflt := ""
		if c.ClientIDHeader == "" || c.ClientSecretHeader == "" {
			deflt = " by default"
		}
		return f.errorf(key, "%s is also %s%s (header names ignore case); use two different headers", quoteValue(cmp.Or(c.ClientSecretHeader, c.ClientIDHeader)), other, deflt)
	}
	return nil
}

// validateExchange checks credentials.exchange.
func (f *ConfigFile) validateExchange() error {
	e := f.Credentials.Exchange
	const at = "credentials.exchange"
	if e.AllowInsecureHTTP {
		return f.errorf(at+".allow_insecure_http", "is not supported for the token endpoint: client secrets are sent over http:// only to loopback hosts (127.0.0.1, ::1, localhost); use an https:// token_url")
	}
	if e.TokenURL == "" {
		return f.errorf(at+".token_url", "is required: the URL of the authorization server's token endpoint")
	}
	if msg := checkTokenURL(e.TokenURL); msg != "" {
		return f.errorf(at+".token_url", "%s", msg)
	}
	switch e.Style {
	case "", exchange.StyleBasic, exchange.StyleJSON, exchange.StyleForm:
	default:
		return f.errorf(at+".style", "unknown style %s (use basic, json or form)", quoteValue(string(e.Style)))
	}
	for _, r := range e.Scope {
		// scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), joined by spaces.
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return f.errorf(at+".scope", "%s holds a character scopes may not contain (RFC 6749 §3.3: printable ASCII without quotes or backslashes, space-separated)", quoteValue(e.Scope))
		}
	}
	names := make([]string, 0, len(e.Params))
	for name := range e.Params {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if name == "" {
			return f.errorf(at+".params", "a parameter name may not be empty")
		}
		if why, reserved := reservedExchangeParams[name]; reserved {
			return f.errorf(at+".params."+name, "may not be set here: %s", why)
		}
	}
	return f.checkDuration(at+".timeout", e.Timeout)
}

// checkDuration checks a duration that is 0 when omitted and otherwise at
// least 1s.
func (f *ConfigFile) checkDuration(key string, v Duration) error {
	if (v != 0 || f.has(key)) && v < Duration(time.Second) {
		return f.errorf(key, "%s is too short; the least is 1s", v)
	}
	return nil
}

// checkTokenURL returns what is wrong with a token endpoint URL, or "". It
// asks what exchange.Client.Validate does, in the words of the file.
func checkTokenURL(raw string) string {
	return urlProblem(raw, urlrule.Rule{NoUserinfo: true}, "client secrets would cross the network in the clear; use https://")
}

// resolve returns path relative to the configuration file's directory.
func (f *ConfigFile) resolve(path string) string {
	if !filepath.IsAbs(path) && f.dir != "" {
		return filepath.Join(f.dir, path)
	}
	return path
}

// openClients opens the registry of credentials.clients_file, or returns
// nil if there is none.
func (f *ConfigFile) openClients(logger *slog.Logger) (*clients.Registry, error) {
	c := f.Credentials
	if c == nil || c.ClientsFile == "" {
		return nil, nil
	}
	path := f.resolve(c.ClientsFile)
	opts := clients.Options{ReloadInterval: time.Duration(c.ReloadInterval)}
	if logger != nil {
		opts.Logger = logger // the registry names its file in every line
	}
	reg, err := clients.Open(path, opts)
	if err != nil {
		return nil, f.wrap("credentials.clients_file", err)
	}
	return reg, nil
}

// credentials builds the Credentials of f, checking with reg (from
// openClients) or the token endpoint. The caller starts reg's Watch.
func (f *ConfigFile) credentials(reg *clients.Registry) (Credentials, error) {
	c := f.Credentials
	if c == nil {
		return Credentials{}, nil
	}
	cred := Credentials{
		ClientIDHeader:     c.ClientIDHeader,
		ClientSecretHeader: c.ClientSecretHeader,
		DisableBasic:       c.Basic != nil && !*c.Basic,
		CacheTTL:           time.Duration(c.CacheTTL),
		Throttle: Throttle{
			MaxClientFailures: c.Throttle.MaxClientFailures,
			MaxAddrFailures:   c.Throttle.MaxAddressFailures,
			Window:            time.Duration(c.Throttle.Window),
		},
	}
	if reg != nil {
		cred.Verifier = RegistryVerifier(reg)
		return cred, nil
	}
	e := c.Exchange
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
	// validate has checked all of this in the file's terms; this is a
	// guard against the two drifting apart.
	if err := client.Validate(); err != nil {
		return Credentials{}, f.wrap("credentials.exchange", err)
	}
	cred.Exchange = client
	return cred, nil
}

// watchClients keeps reg in step with its file until ctx ends.
func watchClients(ctx context.Context, reg *clients.Registry) {
	if reg != nil {
		go reg.Watch(ctx)
	}
}
