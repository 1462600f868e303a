// Package introspect is the RFC 7662 client of package jwtauth: it asks an
// issuer's introspection endpoint about opaque access tokens, checks the
// answer with the claim rules of JWTs (package jwtverify), verifies signed
// answers (RFC 9701), remembers answers, and makes one call for concurrent
// requests with one token. It knows nothing of requests nor of dualauth's
// Principal: a token is answered with jwtverify.Claims or an error.
//
// A call that finds the token unknown or inactive is a failed guess: it is
// counted against the caller's address through an Admit function, which
// only the request that makes the call (the leader of concurrent ones)
// runs.
package introspect

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sync/singleflight"

	"github.com/keyward/keyward/internal/authheader"
	"github.com/keyward/keyward/internal/excerpt"
	"github.com/keyward/keyward/internal/jsonobject"
	"github.com/keyward/keyward/internal/jwtverify"
)

// Media types of introspection answers.
const (
	// SignedType is the Content-Type of an RFC 9701 signed answer, and
	// (without the prefix) the typ of its JWS.
	SignedType = "application/token-introspection+jwt"
	jsonType   = "application/json"
)

// Defaults of Config fields left zero.
const (
	DefaultTimeout     = 2 * time.Second
	DefaultMaxTTL      = 5 * time.Minute
	DefaultNegativeTTL = 10 * time.Second
	DefaultMaxEntries  = 100_000
	// DefaultMaxInFlight bounds the calls one endpoint has in progress.
	DefaultMaxInFlight = 64
	// MaxAnswerBytes caps an answer's body.
	MaxAnswerBytes = 1 << 20
	// retryAfter is the Retry-After of a token that cannot be checked now.
	retryAfter = 5 * time.Second
	// busyLogInterval is the least time between two log lines about
	// tokens answered unavailable for want of a slot.
	busyLogInterval = time.Minute
	// maxFollowerRetries bounds how often a request whose leader was
	// throttled tries again with its own address.
	maxFollowerRetries = 3
)

// Config configures a Client. jwtauth checks the values it is given
// (jwtauth.Introspection documents them); New fills in the defaults.
type Config struct {
	Issuer string
	// Endpoint is the introspection URL; "" means Discover finds it
	// (once it has succeeded, its answer is kept).
	Endpoint string
	Discover func(ctx context.Context) (string, error)
	// ClientID and ClientSecret authenticate this server at the endpoint,
	// in HTTP Basic, or in the form when Post is set.
	ClientID, ClientSecret string
	Post                   bool
	Timeout                time.Duration
	Cache                  CacheConfig
	// HTTPClient's transport makes the calls; nil: a transport of the
	// Client's own (Close lets go of its connections). Redirects are never
	// followed.
	HTTPClient *http.Client
	// Answers checks an active answer's members.
	Answers *jwtverify.AnswerChecker
	// Leeway is the clock skew allowed on a remembered answer's exp and nbf.
	Leeway time.Duration
	// Signed verifies an RFC 9701 answer (a JWS) and returns its claims
	// set; nil when the issuer has no keys: signed answers are then not
	// asked for, and refused if sent.
	Signed func(ctx context.Context, jws string) (claims string, err error)
	// MaxInFlight bounds the calls in progress; beyond it a call waits
	// for one to end, within Timeout, and the token is answered
	// unavailable if none does.
	MaxInFlight int
	Now         func() time.Time
	// Logger receives an error line for every call that fails (naming the
	// issuer and the endpoint without its query, never the token).
	Logger *slog.Logger
}

// CacheConfig configures the cache of answers (jwtauth.IntrospectionCache
// documents its fields).
type CacheConfig struct {
	Disabled    bool
	MaxTTL      time.Duration
	NegativeTTL time.Duration
	MaxEntries  int
}

// Admit reserves a failure of the caller's budget before a call; done
// ends it (failed: the token was refused). Its error is returned as it is.
type Admit func(ctx context.Context) (done func(failed bool), err error)

// Client asks one endpoint about tokens. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	now     func() time.Time
	logger  *slog.Logger
	accept  string
	basic   string // the Authorization value of client_secret_basic
	slots   chan struct{}
	cache   *cache // nil when off
	flights singleflight.Group

	mu       sync.Mutex // serialises discovery
	endpoint atomic.Pointer[string]

	active, inactive, failed, throttled atomic.Uint64

	busy       atomic.Uint64 // tokens refused for want of a slot since the last line about it
	busyLogged atomic.Int64  // when that line was logged, in Unix nanoseconds; 0: never
	onSlotWait func()        // tests: called when a call must wait for a slot
}

// New returns a Client for cfg.
func New(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	c := &Client{
		cfg:    cfg,
		http:   &http.Client{Timeout: cfg.Timeout, CheckRedirect: refuseRedirect},
		now:    cfg.Now,
		logger: cfg.Logger,
		accept: jsonType,
		slots:  make(chan struct{}, cfg.MaxInFlight),
	}
	if hc := cfg.HTTPClient; hc != nil {
		c.http.Transport, c.http.Jar = hc.Transport, hc.Jar
		if hc.Timeout > 0 {
			c.http.Timeout = min(hc.Timeout, cfg.Timeout)
		}
	}
	if c.http.Transport == nil {
		// Connections of its own, which Close lets go of.
		if t, ok := http.DefaultTransport.(*http.Transport); ok {
			c.http.Transport = t.Clone()
		}
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.Post {
		c.basic = authheader.Basic(cfg.ClientID, cfg.ClientSecret)
	}
	if cfg.Signed != nil {
		c.accept = SignedType + ", " + jsonType + ";q=0.5"
	}
	if cfg.Endpoint != "" {
		c.endpoint.Store(&cfg.Endpoint)
	}
	if !cfg.Cache.Disabled {
		c.cache = newCache(cfg.Cache, c.now)
	}
	return c
}

func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Close closes the idle connections of the Client's own transport; calls
// in progress end within the timeout. The Client still works afterwards.
func (c *Client) Close() {
	if c.cfg.HTTPClient == nil || c.cfg.HTTPClient.Transport == nil {
		c.http.CloseIdleConnections()
	}
}

// Counts are the calls a Client made, by outcome, and the tokens it did
// not call for because the caller's budget was spent.
type Counts struct {
	Active, Inactive, Error, Throttled uint64
}

// Counts reports c's calls so far.
func (c *Client) Counts() Counts {
	return Counts{Active: c.active.Load(), Inactive: c.inactive.Load(), Error: c.failed.Load(), Throttled: c.throttled.Load()}
}

// CacheStatus reports the cache: entries held, lookups answered and not,
// and live entries dropped at the bound; zero when it is off.
func (c *Client) CacheStatus() (entries int, hits, misses, evictions uint64) {
	if c.cache == nil {
		return 0, 0, 0, 0
	}
	return c.cache.status()
}

// Cached answers raw from the cache: found is false when the cache holds
// no answer for it (then call Introspect). A remembered refusal is an
// *jwtverify.Error; its hit is not counted against anyone: it costs no
// call and teaches a guesser nothing new.
func (c *Client) Cached(raw string) (_ jwtverify.Claims, found bool, _ error) {
	if c.cache == nil {
		return jwtverify.Claims{}, false, nil
	}
	e, ok := c.cache.get(hashToken(raw))
	if !ok {
		return jwtverify.Claims{}, false, nil
	}
	claims, err := c.answer(e)
	return claims, true, err
}

// Introspect asks the endpoint about raw, sharing the call with concurrent
// requests for the same token: only the request that makes it (the
// leader) runs admit (nil: nothing is counted). Every error is admit's
// own, or a *jwtverify.Error: Unavailable (503) when the endpoint could
// not answer, a refusal (401) otherwise. The call goes on, within the
// timeout, when the leader's request ends, so that the others get its
// answer.
func (c *Client) Introspect(ctx context.Context, raw string, admit Admit) (jwtverify.Claims, error) {
	key := hashToken(raw)
	for attempt := 0; ; attempt++ {
		leader := false
		ch := c.flights.DoChan(string(key[:]), func() (_ any, err error) {
			leader = true
			// The call runs in a goroutine of its own, where a panic
			// (admit's, the transport's, a bug) would end the process:
			// every request waiting for it is answered 503 instead.
			defer func() {
				if p := recover(); p != nil {
					err = c.panicked(ctx, raw, p)
				}
			}()
			return c.lookup(context.WithoutCancel(ctx), raw, key, admit)
		})
		select {
		case res := <-ch:
			var ae *admitError
			if errors.As(res.Err, &ae) {
				if !leader && attempt < maxFollowerRetries {
					continue // the leader's budget was spent, not necessarily this caller's
				}
				return jwtverify.Claims{}, ae.err
			}
			if res.Err != nil {
				return jwtverify.Claims{}, res.Err
			}
			return c.answer(res.Val.(*entry))
		case <-ctx.Done():
			return jwtverify.Claims{}, &jwtverify.Error{Description: "the request ended before the token was checked",
				Unavailable: true, RetryAfter: retryAfter, Err: ctx.Err()}
		}
	}
}

// panicked logs a panic of the shared call at error level (its value,
// unless it quotes the token, and the stack) and returns it as an
// Unavailable *jwtverify.Error.
func (c *Client) panicked(ctx context.Context, raw string, p any) error {
	c.failed.Add(1)
	value := fmt.Sprint(p)
	if raw != "" && strings.Contains(value, raw) {
		value = "(a value that quotes the token)"
	}
	c.logger.ErrorContext(ctx, "introspection: a check panicked; the token is answered unavailable",
		"issuer", c.cfg.Issuer, "panic", value, "stack", string(debug.Stack()))
	return unavailable("the check failed", errors.New("it panicked"))
}

// admitError is admit's refusal, passed through the shared call.
type admitError struct{ err error }

func (e *admitError) Error() string { return e.err.Error() }

// lookup is the leader's call: a slot, the caller's budget, the call, and
// the answer remembered.
func (c *Client) lookup(ctx context.Context, raw string, key tokenKey, admit Admit) (*entry, error) {
	if c.cache != nil {
		// A call for the token may have ended between the caller's look
		// into the cache and this one.
		if e, ok := c.cache.peek(key); ok {
			return e, nil
		}
	}
	// The wait for a slot and the call share the timeout, so that a token
	// is answered within it whatever the endpoint's load.
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	select {
	case c.slots <- struct{}{}:
	default:
		if c.onSlotWait != nil {
			c.onSlotWait()
		}
		select {
		case c.slots <- struct{}{}:
		case <-ctx.Done():
			c.failed.Add(1)
			c.logBusy(ctx)
			return nil, unavailable("too many introspection calls are in progress", nil)
		}
	}
	defer func() { <-c.slots }()
	var done func(bool)
	if admit != nil {
		d, err := admit(ctx)
		if err != nil {
			c.throttled.Add(1)
			return nil, &admitError{err}
		}
		done = d
	}
	e, err := c.call(ctx, raw, key)
	if done != nil {
		done(err == nil && e.refusal != nil)
	}
	switch {
	case err != nil:
		c.failed.Add(1)
		return nil, err
	case e.refusal != nil:
		c.inactive.Add(1)
	default:
		c.active.Add(1)
	}
	if c.cache != nil {
		c.cache.put(e)
	}
	return e, nil
}

// logBusy logs, at most once per busyLogInterval, that tokens were
// answered unavailable for want of a slot, and how many since the last
// line: a flood of slow guesses must not flood the log too.
func (c *Client) logBusy(ctx context.Context) {
	c.busy.Add(1)
	now := c.now().UnixNano()
	last := c.busyLogged.Load()
	if last != 0 && now-last < int64(busyLogInterval) || !c.busyLogged.CompareAndSwap(last, now) {
		return
	}
	c.logger.WarnContext(ctx, "introspection: too many calls in progress; tokens answered unavailable",
		"issuer", c.cfg.Issuer, "in_flight", cap(c.slots), "refused", c.busy.Swap(0))
}

// call posts raw to the endpoint, within the timeout lookup set on ctx,
// and reads the answer into an entry. Its errors are Unavailable
// *jwtverify.Errors, each logged.
func (c *Client) call(ctx context.Context, raw string, key tokenKey) (*entry, error) {
	endpoint, err := c.endpointURL(ctx)
	if err != nil {
		return nil, c.fail(ctx, "the introspection endpoint could not be discovered", "", err)
	}
	form := url.Values{"token": {raw}, "token_type_hint": {"access_token"}}
	if c.cfg.Post {
		form.Set("client_id", c.cfg.ClientID)
		form.Set("client_secret", c.cfg.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, c.fail(ctx, "the introspection request could not be built", endpoint, errors.New("bad endpoint URL"))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", c.accept)
	if !c.cfg.Post {
		req.Header.Set("Authorization", c.basic)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.fail(ctx, "the introspection endpoint did not answer", endpoint, transportError(err, c.cfg.Timeout))
	}
	defer func() { _ = resp.Body.Close() }()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, c.fail(ctx, "the introspection endpoint refused this server's client credentials", endpoint,
			fmt.Errorf("HTTP status %d", resp.StatusCode))
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return nil, c.fail(ctx, "the introspection endpoint redirected (redirects are not followed)", endpoint,
			fmt.Errorf("HTTP status %d", resp.StatusCode))
	case resp.StatusCode != http.StatusOK:
		return nil, c.fail(ctx, "the introspection endpoint failed", endpoint, fmt.Errorf("HTTP status %d", resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes+1))
	switch {
	case err != nil:
		return nil, c.fail(ctx, "the introspection answer could not be read", endpoint, transportError(err, c.cfg.Timeout))
	case len(body) > MaxAnswerBytes:
		return nil, c.fail(ctx, "the introspection answer is too large", endpoint, fmt.Errorf("more than %d bytes", MaxAnswerBytes))
	}
	answer := string(body)
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); strings.EqualFold(mt, SignedType) {
		if answer, err = c.unsign(ctx, answer); err != nil {
			return nil, c.fail(ctx, "the signed introspection answer was refused", endpoint, err)
		}
	}
	e, err := c.read(answer)
	if err != nil {
		return nil, c.fail(ctx, "the introspection answer is not a JSON object", endpoint, err)
	}
	e.key = key
	return e, nil
}

// unsign verifies a signed answer (RFC 9701) and returns its
// token_introspection member, the answer proper.
func (c *Client) unsign(ctx context.Context, jws string) (string, error) {
	if c.cfg.Signed == nil {
		return "", errors.New("the issuer has no keys to verify it with")
	}
	claims, err := c.cfg.Signed(ctx, strings.TrimSpace(jws))
	if err != nil {
		return "", err
	}
	var inner jsonobject.Value
	if err := jsonobject.Members(claims, func(name string, v jsonobject.Value) {
		if name == "token_introspection" {
			inner = v
		}
	}); err != nil || inner.Kind() != jsonobject.Object {
		return "", errors.New(`its claims have no "token_introspection" object`)
	}
	return inner.Raw(), nil
}

// read reads an answer: an entry for a refused or an accepted token, or
// an error if the answer is not a JSON object.
//
// An answer that names a member more than once refuses the token: RFC
// 8259 leaves such an object's meaning to each parser (this one keeps the
// last, others the first), so {"active":false,"active":true} or two exp
// could mean one thing here and another at the server or in the
// application reading Principal's claims. No serializer of a server's map
// writes one; failing closed costs a conforming server nothing.
func (c *Client) read(answer string) (*entry, error) {
	var active jsonobject.Value
	seen := make(map[string]struct{}, 16)
	duplicate := ""
	if err := jsonobject.Members(answer, func(name string, v jsonobject.Value) {
		if _, ok := seen[name]; ok && duplicate == "" {
			duplicate = name
		}
		seen[name] = struct{}{}
		if name == "active" {
			active = v
		}
	}); err != nil {
		return nil, errors.New("the body is not one JSON object")
	}
	if duplicate != "" {
		return &entry{refusal: &jwtverify.Error{Description: "the introspection answer is malformed",
			Err: fmt.Errorf("the introspection answer names %s more than once", excerpt.Quote(duplicate))}}, nil
	}
	if active.Kind() != jsonobject.Bool || active.Raw() != "true" {
		what := "false"
		if active.Kind() != jsonobject.Bool {
			what = "missing or not a boolean"
		}
		return &entry{refusal: &jwtverify.Error{Description: "the access token is not active",
			Err: fmt.Errorf("the introspection endpoint answered active %s", what)}}, nil
	}
	claims, nbf, e := c.cfg.Answers.Check(answer)
	if e != nil {
		return &entry{refusal: e}, nil
	}
	en := &entry{claims: claims}
	if !nbf.IsZero() {
		en.notBefore = nbf.Add(-c.cfg.Leeway)
	}
	if !claims.ExpiresAt.IsZero() {
		en.expiry = claims.ExpiresAt.Add(c.cfg.Leeway)
	}
	return en, nil
}

// answer is what an entry says now: its refusal, or its claims while its
// nbf and exp allow.
func (c *Client) answer(e *entry) (jwtverify.Claims, error) {
	if e.refusal != nil {
		return jwtverify.Claims{}, e.refusal
	}
	now := c.now()
	switch {
	case !e.notBefore.IsZero() && now.Before(e.notBefore):
		return jwtverify.Claims{}, &jwtverify.Error{Description: "the access token is not valid yet",
			Err: errors.New("the introspection answer's nbf is in the future")}
	case !e.expiry.IsZero() && !now.Before(e.expiry):
		return jwtverify.Claims{}, &jwtverify.Error{Description: "the access token expired",
			Err: errors.New("the introspection answer's exp has passed")}
	}
	return e.claims, nil
}

// endpointURL is the configured endpoint, or the one discovery finds.
func (c *Client) endpointURL(ctx context.Context) (string, error) {
	if p := c.endpoint.Load(); p != nil {
		return *p, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if p := c.endpoint.Load(); p != nil {
		return *p, nil
	}
	if c.cfg.Discover == nil {
		return "", errors.New("no endpoint and no discovery")
	}
	u, err := c.cfg.Discover(ctx)
	if err != nil {
		return "", err
	}
	c.endpoint.Store(&u)
	return u, nil
}

// fail logs a failed call at error level and returns it as an Unavailable
// *jwtverify.Error. The line names the issuer and the endpoint without
// user information or query; err never quotes the token nor the secret.
func (c *Client) fail(ctx context.Context, what, endpoint string, err error) *jwtverify.Error {
	attrs := []any{"issuer", c.cfg.Issuer, "error", err}
	if endpoint != "" {
		attrs = append(attrs, "endpoint", safeURL(endpoint))
	}
	c.logger.ErrorContext(ctx, "introspection: "+what+"; opaque tokens of this issuer are answered 503", attrs...)
	return unavailable(what, err)
}

func unavailable(what string, err error) *jwtverify.Error {
	return &jwtverify.Error{
		Description: "the access token cannot be checked right now; retry later",
		Unavailable: true,
		RetryAfter:  retryAfter,
		Err:         fmt.Errorf("%s: %w", what, err),
	}
}

// transportError is err, a failed request or body read, in words that
// quote no URL (its query could hold a secret) and no body.
func transportError(err error, timeout time.Duration) error {
	var t interface{ Timeout() bool }
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &t) && t.Timeout():
		return fmt.Errorf("timed out (limit %s)", timeout)
	case errors.Is(err, context.Canceled):
		return errors.New("canceled")
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// safeURL is raw for logs: scheme, host and path only.
func safeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(a URL that does not parse)"
	}
	return u.Scheme + "://" + u.Host + u.EscapedPath()
}

// tokenKey is the SHA-256 hash of a token: the cache never holds tokens.
type tokenKey [sha256.Size]byte

func hashToken(raw string) tokenKey {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(raw), len(raw))) // read only
}
