package jwtauth

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/introspect"
	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/internal/urlrule"
	"github.com/keyward/keyward/jwks"
)

// Client authentication methods of an Introspection (RFC 8414 names).
const (
	// ClientSecretBasic sends the client id and secret in HTTP Basic, each
	// form-encoded first (RFC 6749 §2.3.1).
	ClientSecretBasic = "client_secret_basic"
	// ClientSecretPost sends them as client_id and client_secret in the
	// form body.
	ClientSecretPost = "client_secret_post"
)

// Introspection is an issuer's token introspection endpoint (RFC 7662),
// which checks the issuer's opaque (reference) access tokens.
//
// A Bearer token is opaque unless it is shaped as a JOSE object: two dots
// (a JWS) or four (a JWE), with a first part that is entirely base64url,
// without padding, of a JSON object (the header every JWS and JWE starts
// with). Hydra's "ory_at_…", fosite's "random.signature" (whatever its
// random part decodes to), Keycloak's and random tokens are opaque. It
// goes to the endpoint of the one issuer that introspects or, when several
// do, of the one whose TokenPrefix it starts with: never to an endpoint it
// cannot belong to. An opaque token no endpoint takes, one with a byte
// outside RFC 6750's b64token syntax (dualauth answers it 400
// invalid_request), and every opaque token without an Introspection, is
// refused as before without a call and without a count.
//
// The token is posted as token=…&token_type_hint=access_token, with this
// API's client credentials. The answer decides:
//
//   - "active": true: the caller, read as a JWT's claims are (scopes from
//     "scope", sub, client_id, exp, and the whole answer as the claims),
//     with Principal.Introspected set; iss, when present, must be the
//     issuer and aud, when present, name one of its Audiences; exp past
//     the leeway, nbf in the future or a cnf member (a sender-constrained
//     token) are 401 invalid_token, as for JWTs;
//   - "active": false, no boolean "active", or an answer that names any
//     member more than once (its meaning depends on the parser): 401
//     invalid_token;
//   - an endpoint that cannot answer (unreachable, too slow, 5xx, a
//     redirect, 401 or 403 to this API's credentials, a body that is not a
//     JSON object or over 1 MiB, a signed answer that does not verify):
//     503 temporarily_unavailable with Retry-After, within Timeout, and an
//     error logged to Config.Logger naming the issuer and the endpoint
//     (without its query; never the token or the secret).
//
// Answers are remembered (see IntrospectionCache) and concurrent requests
// with one token make one call. A call whose answer refuses the token
// counts against the caller's address in Config.Throttle, as a wrong
// client secret does; a remembered refusal costs nothing (no call is made
// and nothing is learnt), nor does an endpoint failure, and a JWT that
// verified here (IntrospectJWTs) is no guess. With Config.Throttle, an
// address that has spent its budget is answered 429 without a call.
//
// RFC 9701: when the issuer has Keys, a signed answer
// (application/token-introspection+jwt) is asked for besides JSON and,
// when sent, verified with them: typ token-introspection+jwt, an allowed
// algorithm, iss the issuer, aud this API's ClientID; its
// "token_introspection" claim is the answer. Without Keys only JSON is
// asked for, and a signed answer is refused (503).
type Introspection struct {
	// Endpoint is the URL tokens are posted to (https, or http to a
	// loopback host). Empty means the "introspection_endpoint" of the
	// issuer's metadata (OpenID Connect Discovery or RFC 8414), read as
	// jwks.NewDiscovered reads its "jwks_uri".
	Endpoint string
	// ClientID and ClientSecret are this API's credentials at the
	// endpoint; both are required. The secret is never logged.
	ClientID     string
	ClientSecret string
	// AuthMethod is how they are sent: ClientSecretBasic (the default when
	// empty) or ClientSecretPost.
	AuthMethod string
	// TokenPrefix, if set, sends only the opaque tokens that start with it
	// to this endpoint. It is required when more than one issuer
	// introspects, and no issuer's prefix may start another's.
	TokenPrefix string
	// Timeout bounds one call to the endpoint (discovery included); 0
	// means 2 seconds. An endpoint that does not answer in time is
	// answered 503. At most 64 calls per endpoint are in progress at once;
	// a token that needs another waits for one to end, within Timeout (the
	// wait and the call together), and is answered 503 if none does; a
	// warning says so at most once a minute, with how many were refused.
	Timeout time.Duration
	// IntrospectJWTs sends the issuer's JWTs to the endpoint too, after
	// they verified here, so that a revoked JWT is refused as soon as the
	// cache lets go of it. False verifies them here alone.
	IntrospectJWTs bool
	// Cache configures the cache of the endpoint's answers, on by default.
	Cache IntrospectionCache
	// HTTPClient's Transport (and Jar) make the calls; nil means a
	// transport of the Verifier's own, like http.DefaultTransport.
	// Redirects are never followed (one is answered 503), and its
	// Timeout, if shorter, also applies.
	HTTPClient *http.Client
}

// IntrospectionCache configures the cache of an endpoint's answers, keyed
// by the SHA-256 hash of the token (never the token), one cache per
// endpoint, on Config.Now's clock. An accepted answer is reused until the
// token's exp or MaxTTL, whichever comes first, and its exp and nbf are
// checked again on every use; a refusal is reused for NegativeTTL; an
// endpoint failure is not remembered. Concurrent requests with one token
// the cache does not hold make one call, which goes on when the request
// that made it ends, for the others. The zero value turns the cache on
// with the defaults.
type IntrospectionCache struct {
	// Disabled turns the cache off: every request calls the endpoint.
	Disabled bool
	// MaxTTL bounds how long an active answer is reused; 0 means 5
	// minutes. It is never reused past the token's exp.
	MaxTTL time.Duration
	// NegativeTTL is how long an inactive answer is reused; 0 means 10
	// seconds.
	NegativeTTL time.Duration
	// MaxEntries bounds the answers remembered; 0 means 100,000. At the
	// bound the answer stored longest ago makes room (an eviction).
	MaxEntries int
}

// Throttle counts failed checks against the caller's address
// (Config.Throttle; a *clientauth.Guard is one). A Verifier asks it only
// when a token needs a call and the caller has an address: a request
// verified with no address (a zero dualauth.Origin) is not counted.
type Throttle interface {
	// Admit reserves one failure of addr's budget before a check runs,
	// and done ends the check: done(true) leaves the failure counted,
	// done(false) takes it back. When the budget is spent, or the failure
	// cannot be counted, Admit returns a *dualauth.Error (429
	// too_many_requests or 503 temporarily_unavailable, with RetryAfter)
	// and the check does not run.
	Admit(ctx context.Context, addr string) (done func(failed bool), err error)
}

// introspector is the introspection of one issuer.
type introspector struct {
	issuer string
	prefix string
	client *introspect.Client
}

// validateIntrospection checks every Issuers[i].Introspection, and that
// every opaque token can belong to one endpoint at most.
func (c Config) validateIntrospection() error {
	var prefixes []string // of the issuers that introspect, with their fields
	var fields []string
	for i, iss := range c.Issuers {
		in := iss.Introspection
		if in == nil {
			continue
		}
		at := fmt.Sprintf("Issuers[%d].Introspection.", i)
		fail := func(field, format string, args ...any) error {
			return &dualauth.ConfigError{Package: "jwtauth", Field: at + field, Reason: fmt.Sprintf(format, args...)}
		}
		if in.Endpoint != "" {
			if _, err := (urlrule.Rule{}).Check(in.Endpoint); err != nil {
				return fail("Endpoint", "%s", err)
			}
		}
		switch {
		case in.ClientID == "":
			return fail("ClientID", "is required: this API's client id at the endpoint")
		case in.ClientSecret == "":
			return fail("ClientSecret", "is required: this API's client secret at the endpoint")
		case in.AuthMethod != "" && in.AuthMethod != ClientSecretBasic && in.AuthMethod != ClientSecretPost:
			return fail("AuthMethod", "%s is neither %s nor %s", excerpt.Quote(in.AuthMethod), ClientSecretBasic, ClientSecretPost)
		case in.Timeout < 0:
			return fail("Timeout", "may not be negative")
		case in.Cache.MaxTTL < 0:
			return fail("Cache.MaxTTL", "may not be negative")
		case in.Cache.NegativeTTL < 0:
			return fail("Cache.NegativeTTL", "may not be negative")
		case in.Cache.MaxEntries < 0:
			return fail("Cache.MaxEntries", "may not be negative")
		}
		prefixes, fields = append(prefixes, in.TokenPrefix), append(fields, at+"TokenPrefix")
	}
	if len(prefixes) < 2 {
		return nil
	}
	for i, p := range prefixes {
		if p == "" {
			return &dualauth.ConfigError{Package: "jwtauth", Field: fields[i],
				Reason: "is required when several issuers introspect: it tells their opaque tokens apart"}
		}
	}
	for i, p := range prefixes {
		for j, q := range prefixes {
			if i != j && strings.HasPrefix(p, q) {
				return &dualauth.ConfigError{Package: "jwtauth", Field: fields[i],
					Reason: fmt.Sprintf("starts with %s (%s): a token could belong to both", excerpt.Quote(q), fields[j])}
			}
		}
	}
	return nil
}

// buildIntrospection builds the introspection clients of cfg (checked).
func (v *Verifier) buildIntrospection(cfg Config) error {
	leeway := cmp.Or(cfg.Leeway, jwtverify.DefaultLeeway)
	if cfg.Leeway < 0 {
		leeway = 0
	}
	for _, iss := range cfg.Issuers {
		in := iss.Introspection
		if in == nil {
			continue
		}
		timeout := cmp.Or(in.Timeout, introspect.DefaultTimeout)
		ic := introspect.Config{
			Issuer:       iss.Issuer,
			Endpoint:     in.Endpoint,
			ClientID:     in.ClientID,
			ClientSecret: in.ClientSecret,
			Post:         in.AuthMethod == ClientSecretPost,
			Timeout:      timeout,
			Cache:        introspect.CacheConfig(in.Cache),
			HTTPClient:   in.HTTPClient,
			Answers: jwtverify.NewAnswerChecker(jwtverify.AnswerRules{
				Issuer: iss.Issuer, Audiences: slices.Clone(iss.Audiences), Leeway: leeway, AcceptJKT: cfg.DPoP != nil, AcceptX5T: true, Now: cfg.Now,
			}),
			Leeway: leeway,
			Now:    cfg.Now,
			Logger: cfg.Logger,
		}
		if in.Endpoint == "" {
			issuer, client, logger := iss.Issuer, in.HTTPClient, cfg.Logger
			ic.Discover = func(ctx context.Context) (string, error) {
				return jwks.DiscoverEndpoint(ctx, issuer, "introspection_endpoint",
					jwks.Options{Timeout: timeout, Client: client, Logger: logger})
			}
		}
		if iss.Keys != nil {
			// RFC 9701: a signed answer is a JWT of the issuer for this
			// API's client id, of its own type.
			sc := cfg.verifierOf([]jwtverify.Issuer{{Issuer: iss.Issuer, Audiences: []string{in.ClientID}, Keys: iss.Keys}})
			sc.RequireType, sc.ExpOptional = "token-introspection+jwt", true
			sc.AcceptJKT, sc.AcceptX5T = false, false // its answer's cnf is the token's
			sc.MaxTokenBytes, sc.Cache = introspect.MaxAnswerBytes, jwtverify.CacheConfig{Disabled: true}
			signed, err := jwtverify.New(sc)
			if err != nil {
				return configError(err) // cannot happen: the keys are set
			}
			ic.Signed = func(ctx context.Context, jws string) (string, error) {
				c, _, err := signed.Verify(ctx, jws)
				return c.JSON, err
			}
		}
		it := &introspector{issuer: iss.Issuer, prefix: in.TokenPrefix, client: introspect.New(ic)}
		v.opaque = append(v.opaque, it)
		if in.IntrospectJWTs {
			if v.jwtIntrospect == nil {
				v.jwtIntrospect = map[string]*introspector{}
			}
			v.jwtIntrospect[iss.Issuer] = it
		}
	}
	return nil
}

// route returns the introspector an opaque token belongs to, or nil: the
// one that introspects when only one does (and its prefix, if set,
// matches), else the one whose prefix it starts with.
func (v *Verifier) route(raw string) *introspector {
	for _, in := range v.opaque {
		if strings.HasPrefix(raw, in.prefix) {
			return in
		}
	}
	return nil
}

// verifyOpaque checks an opaque token at in's endpoint, or in its cache.
// Only a call counts against the caller's address (a remembered refusal
// costs nothing and teaches nothing).
func (v *Verifier) verifyOpaque(ctx context.Context, in *introspector, raw string, from dualauth.Origin) (_ *dualauth.Principal, _ binding, cached bool, _ error) {
	c, found, err := in.client.Cached(raw)
	if !found {
		var admit introspect.Admit
		if v.throttle != nil {
			admit = func(ctx context.Context) (func(bool), error) {
				addr := from.Addr()
				if addr == "" {
					// No caller's address (a zero Origin, as a token
					// exchanged for client credentials has): nothing to
					// count against, and one shared key would let one
					// guesser lock out every such check.
					return func(bool) {}, nil
				}
				return v.throttle.Admit(ctx, addr)
			}
		}
		c, err = in.client.Introspect(ctx, raw, admit)
	}
	if err != nil {
		return nil, binding{}, found, refusal(err)
	}
	p := principal(c)
	// The answer is shared with the cache and concurrent requests: the
	// caller's scopes are its own, as a JWT's are.
	p.Scopes, p.Introspected = slices.Clone(c.Scopes), true
	return p, binding{c.JKT, c.X5T}, found, nil
}

// introspectJWT checks at in's endpoint (or in its cache) that a JWT
// which verified here is still active, and returns the answer; found
// reports whether the cache answered. A JWT that verified is no guess: it
// is not counted.
func (v *Verifier) introspectJWT(ctx context.Context, in *introspector, raw string) (answer jwtverify.Claims, found bool, err error) {
	answer, found, err = in.client.Cached(raw)
	if !found {
		answer, err = in.client.Introspect(ctx, raw, nil)
	}
	return answer, found, err
}

// IntrospectionStatus reports the calls to every introspection endpoint,
// summed over issuers, by outcome: "active", "inactive" (the token was
// refused: inactive, or active but not for this API), "error" (the
// endpoint could not answer: 503) and "throttled" (no call: the caller's
// address had spent its budget); and their caches together. Both are
// nil and zero when no issuer introspects.
func (v *Verifier) IntrospectionStatus() (requests map[string]uint64, cache dualauth.CacheStatus) {
	if len(v.opaque) == 0 {
		return nil, cache
	}
	requests = map[string]uint64{"active": 0, "inactive": 0, "error": 0, "throttled": 0}
	for _, in := range v.opaque {
		n := in.client.Counts()
		requests["active"] += n.Active
		requests["inactive"] += n.Inactive
		requests["error"] += n.Error
		requests["throttled"] += n.Throttled
		entries, hits, misses, evictions := in.client.CacheStatus()
		cache.Entries += entries
		cache.Hits += hits
		cache.Misses += misses
		cache.Evictions += evictions
	}
	return requests, cache
}
