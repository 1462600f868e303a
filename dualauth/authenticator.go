package dualauth

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/net/http/httpguts"

	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/scopes"
)

// maxLeeway bounds Config.Leeway: a larger skew would keep expired tokens alive.
const maxLeeway = 5 * time.Minute

// Authenticator verifies the credentials of requests. It is safe for
// concurrent use; build it once with New.
type Authenticator struct {
	mode          Mode
	realm         string
	issuers       map[string]*Issuer
	algorithms    []string
	scopeClaims   []string
	requireType   string
	maxTokenBytes int
	parser        *jwt.Parser
	logger        *slog.Logger

	// Client credentials; clients is nil when none are configured.
	clients      *clientChecker
	exchange     *exchange.Client
	basic        bool
	idHeader     string
	secretHeader string
	addrFunc     func(r *http.Request) string
}

// New checks cfg and returns an Authenticator for it.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{
		mode:          cfg.Mode,
		realm:         cfg.Realm,
		issuers:       make(map[string]*Issuer, len(cfg.Issuers)),
		algorithms:    cfg.Algorithms,
		scopeClaims:   cfg.ScopeClaims,
		maxTokenBytes: cfg.MaxTokenBytes,
		logger:        cfg.Logger,
	}
	if a.mode == "" {
		a.mode = ModeJWT
	}
	if !a.mode.Valid() {
		return nil, fmt.Errorf("dualauth: unknown mode %q (want %q, %q or %q)", a.mode, ModeJWT, ModeCredentials, ModeDual)
	}
	if a.realm == "" {
		a.realm = DefaultRealm
	}
	if strings.ContainsAny(a.realm, "\"\\\r\n") {
		return nil, errors.New("dualauth: realm may not contain quotes, backslashes or line breaks")
	}
	if len(a.algorithms) == 0 {
		a.algorithms = DefaultAlgorithms
	}
	for _, alg := range a.algorithms {
		if !slices.Contains(DefaultAlgorithms, alg) {
			return nil, fmt.Errorf("dualauth: algorithm %q is not allowed (allowed: %s)", alg, strings.Join(DefaultAlgorithms, ", "))
		}
	}
	if len(a.scopeClaims) == 0 {
		a.scopeClaims = scopes.DefaultClaims
	}
	if cfg.RequireType != "" {
		a.requireType = canonicalType(cfg.RequireType)
	}
	if a.maxTokenBytes == 0 {
		a.maxTokenBytes = DefaultMaxTokenBytes
	}
	if a.maxTokenBytes < 0 {
		return nil, errors.New("dualauth: MaxTokenBytes may not be negative")
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	if leeway < 0 {
		leeway = 0 // NoLeeway
	}
	if leeway > maxLeeway {
		return nil, fmt.Errorf("dualauth: leeway %s is over %s", leeway, maxLeeway)
	}
	if a.logger == nil {
		a.logger = slog.New(slog.DiscardHandler)
	}
	cred := cfg.Credentials
	if len(cfg.Issuers) == 0 && (a.mode.allowsJWT() || cred.Exchange != nil) {
		return nil, errors.New("dualauth: no issuers configured")
	}
	for i := range cfg.Issuers {
		iss := cfg.Issuers[i]
		switch {
		case iss.Issuer == "":
			return nil, fmt.Errorf("dualauth: issuer %d has no issuer identifier", i)
		case a.issuers[iss.Issuer] != nil:
			return nil, fmt.Errorf("dualauth: issuer %q is configured twice", iss.Issuer)
		case len(iss.Audiences) == 0 || slices.Contains(iss.Audiences, ""):
			return nil, fmt.Errorf("dualauth: issuer %q needs at least one non-empty audience", iss.Issuer)
		case isNil(iss.Keys):
			return nil, fmt.Errorf("dualauth: issuer %q has no key set", iss.Issuer)
		}
		iss.Audiences = slices.Clone(iss.Audiences)
		a.issuers[iss.Issuer] = &iss
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if err := a.setCredentials(cred, now); err != nil {
		return nil, err
	}
	a.parser = jwt.NewParser(
		jwt.WithValidMethods(a.algorithms),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithJSONNumber(),
		jwt.WithStrictDecoding(),
	)
	return a, nil
}

// setCredentials configures client credentials, required by the credentials
// and dual modes and refused by the jwt mode when set.
func (a *Authenticator) setCredentials(cred Credentials, now func() time.Time) error {
	configured := cred.Verifier != nil || cred.Exchange != nil
	switch {
	case cred.Verifier != nil && cred.Exchange != nil:
		return errors.New("dualauth: set Credentials.Verifier or Credentials.Exchange, not both")
	case a.mode.allowsCredentials() && !configured:
		return fmt.Errorf("dualauth: mode %q needs Credentials.Verifier or Credentials.Exchange", a.mode)
	case !configured:
		return nil
	case cred.Throttle.Window < 0 || cred.Throttle.MaxClientFailures < 0 || cred.Throttle.MaxAddrFailures < 0:
		return errors.New("dualauth: credential throttle settings may not be negative")
	}
	a.basic = !cred.DisableBasic
	a.idHeader = cmp.Or(cred.ClientIDHeader, DefaultClientIDHeader)
	a.secretHeader = cmp.Or(cred.ClientSecretHeader, DefaultClientSecretHeader)
	if !httpguts.ValidHeaderFieldName(a.idHeader) || !httpguts.ValidHeaderFieldName(a.secretHeader) || strings.EqualFold(a.idHeader, a.secretHeader) ||
		strings.EqualFold(a.idHeader, "Authorization") || strings.EqualFold(a.secretHeader, "Authorization") {
		return fmt.Errorf("dualauth: client credential headers %q and %q must be two distinct header names other than Authorization", a.idHeader, a.secretHeader)
	}
	a.addrFunc = cred.ClientAddr
	verify, generation := a.exchangeVerify, func() uint64 { return 0 }
	if cred.Exchange != nil {
		if err := cred.Exchange.Validate(); err != nil {
			return fmt.Errorf("dualauth: credentials exchange: %w", err)
		}
		a.exchange = cred.Exchange
	} else {
		verify = cred.Verifier.VerifyClient
		if g, ok := cred.Verifier.(Generational); ok {
			generation = g.Generation
		}
	}
	a.clients = newClientChecker(a, verify, generation, cred, now)
	return nil
}

// isNil reports whether v is nil or holds a nil pointer, as a key set
// returned with an error would be.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	rv := reflect.ValueOf(v)
	return rv.Kind() == reflect.Pointer && rv.IsNil()
}

// Realm is the realm named in challenges.
func (a *Authenticator) Realm() string { return a.realm }

// Mode is the configured mode.
func (a *Authenticator) Mode() Mode { return a.mode }

// KeyStatus reports the state of every trusted issuer's key set, keyed by
// issuer, for health and readiness checks.
func (a *Authenticator) KeyStatus() map[string]jwks.Status {
	status := make(map[string]jwks.Status, len(a.issuers))
	for name, iss := range a.issuers {
		status[name] = iss.Keys.Status()
	}
	return status
}
