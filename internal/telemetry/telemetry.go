// Package telemetry records what an Authenticator of package dualauth
// decides through the OpenTelemetry API (never an SDK: the application
// chooses one): the keyward.* metrics and the keyward.authenticate span.
//
// The core calls a Recorder at a few points: Start and Request around each
// request it decides (once per request), Verified after each token or
// client verification it times, Checked after each client credentials
// check. Counts are atomic counters that observable instruments report
// when metrics are collected and every attribute set is built once, so a
// request allocates nothing for its metrics, and no span is started while
// no TracerProvider is set. A request with a route (WithRoute: a gRPC
// call) is counted under a lock, by route, and allocates what carries its
// route from Start to Request.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keyward/keyward/jwks"
)

// ScopeName is the instrumentation scope of the meter and the tracer a
// Recorder gets from its providers: the package users configure.
const ScopeName = "github.com/keyward/keyward/dualauth"

// The instruments a Recorder reports. The Prometheus exporter names them
// with underscores and unit and _total suffixes: keyward_requests_total,
// keyward_verify_duration_seconds and so on.
const (
	// MetricRequests counts requests, each once: attributes
	// keyward.auth_method (jwt, credentials or none), outcome (allowed or
	// refused), when refused, code (Outcome.Code), and keyward.route when
	// the request's context has one (WithRoute).
	MetricRequests = "keyward.requests"
	// MetricVerifyDuration is the time to verify a Bearer token or a client
	// id and secret, in seconds: attributes keyward.auth_method (jwt or
	// credentials) and cached (true when answered from a cache of verified
	// tokens or credentials).
	MetricVerifyDuration = "keyward.verify.duration"
	// MetricJWKSRefreshes counts each issuer's key set loads, the first
	// included (jwks.Status Refreshes and RefreshErrors): attributes issuer
	// and result (ok or error). A jwks.Static set, which never loads again,
	// has none.
	MetricJWKSRefreshes = "keyward.jwks.refreshes"
	// MetricJWKSKeys is the number of keys each issuer's set holds:
	// attribute issuer.
	MetricJWKSKeys = "keyward.jwks.keys"
	// MetricTokenCacheEntries is the number of verified tokens cached.
	MetricTokenCacheEntries = "keyward.token_cache.entries"
	// MetricTokenCacheLookups counts the verified-token cache's lookups:
	// attribute result (hit or miss).
	MetricTokenCacheLookups = "keyward.token_cache.lookups"
	// MetricCredentialsChecks counts client id and secret checks: attribute
	// result, one of ok, refused (invalid_client), throttled (429), busy
	// (no check slot free in time, or the verifier said it was busy) and
	// error (the check could not be made: the verifier or the token
	// endpoint failed, or the caller went away).
	MetricCredentialsChecks = "keyward.credentials.checks"
	// MetricThrottleStoreErrors counts the errors of the store the failure
	// throttle counts in (a store shared by replicas; while it fails each
	// replica counts in its own memory).
	MetricThrottleStoreErrors = "keyward.throttle.store_errors"
	// MetricIntrospectionRequests counts opaque tokens checked at an
	// introspection endpoint (RFC 7662): attribute outcome, one of active,
	// inactive (refused: inactive, or not for this API), error (the endpoint
	// could not answer: 503) and throttled (no call: the caller's address
	// had spent its budget).
	MetricIntrospectionRequests = "keyward.introspection.requests"
	// MetricIntrospectionCacheLookups counts the lookups of the cache of
	// introspection answers: attribute result (hit or miss).
	MetricIntrospectionCacheLookups = "keyward.introspection.cache.lookups"
)

// AttrAuthMethod is the attribute of the kind of credentials a request
// presented (a Method's name), on keyward.requests, keyward.verify.duration
// and the keyward.authenticate span. It is not "method", which reads as the
// HTTP method, nor in a namespace of the OpenTelemetry semantic conventions
// ("auth" is none yet, and one may come with another meaning): it is
// Keyward's own, under Keyward's name, as the conventions ask of
// application-specific attributes.
const AttrAuthMethod = "keyward.auth_method"

// AttrRoute is the attribute of the route a request was served under, on
// keyward.requests and the keyward.authenticate span: for a gRPC call its
// full method, "/pkg.Service/Method" (package grpcauth sets it). One name
// for every transport, Keyward's own: http.route is HTTP's and rpc.method
// gRPC's in the OpenTelemetry conventions, and neither fits the other.
const AttrRoute = "keyward.route"

// maxRoutedCounts bounds the distinct (route, method, outcome) counts of
// requests with a route; past it, further routes are counted as route
// "other". Routes are a server's own (gRPC methods it registered), so the
// bound is only a guard, below the OpenTelemetry SDK's default limit of
// 2,000 attribute sets per instrument, past which it merges them all.
const maxRoutedCounts = 1000

// routeKey is the context key of a request's route.
type routeKey struct{}

// WithRoute returns ctx with route as the route of the request it is the
// context of, for Start; ctx itself when route is "".
func WithRoute(ctx context.Context, route string) context.Context {
	if route == "" {
		return ctx
	}
	return context.WithValue(ctx, routeKey{}, route)
}

// routedSpan is what Start returns for a request with a route: its span,
// or a no-op one when spans are off, and the route, for Request to count.
type routedSpan struct {
	trace.Span
	route string
	off   bool // Span is a stand-in: no span was started
}

// routedCount is the key of a count of requests with a route.
type routedCount struct {
	route  string
	method Method
	code   string // "" for allowed
}

// routed is a count of requests with a route, and its attributes.
type routed struct {
	n    uint64
	opts []metric.ObserveOption
}

// spanAuthenticate is the name of the span started for each request.
const spanAuthenticate = "keyward.authenticate"

// verifyBuckets are keyward.verify.duration's bucket bounds, in seconds: a
// cached answer takes about a microsecond, a signature check tens to
// hundreds of microseconds, a registry hash (bcrypt, argon2id) and a token
// exchange milliseconds to a second.
var verifyBuckets = []float64{
	0.000002, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// Method is the kind of credentials a request presented: the
// keyward.auth_method attribute.
type Method uint8

// The kinds of credentials.
const (
	None        Method = iota // none, several kinds at once, or unreadable
	JWT                       // a Bearer token
	Credentials               // a client id and secret
	numMethods
)

var methodNames = [numMethods]string{"none", "jwt", "credentials"}

// Check is the result of a client credentials check: the result attribute
// of keyward.credentials.checks.
type Check uint8

// The results of a client credentials check (see MetricCredentialsChecks).
const (
	CheckOK Check = iota
	CheckRefused
	CheckThrottled
	CheckBusy
	CheckError
	numChecks
)

var checkNames = [numChecks]string{"ok", "refused", "throttled", "busy", "error"}

// CheckOf is the result of a client credentials check refused with the
// error code code ("" when it passed); busy reports a refusal for want of
// the verifier's capacity.
func CheckOf(code string, busy bool) Check {
	switch {
	case code == "":
		return CheckOK
	case code == "invalid_client":
		return CheckRefused
	case code == "too_many_requests":
		return CheckThrottled
	case busy:
		return CheckBusy
	}
	return CheckError
}

// Config is what a Recorder records to and what its observable instruments
// read.
type Config struct {
	// MeterProvider and TracerProvider receive the metrics and the spans;
	// nil means the global ones (otel.GetMeterProvider and
	// otel.GetTracerProvider).
	MeterProvider  metric.MeterProvider
	TracerProvider trace.TracerProvider
	// Codes are the refusal codes counted without a lock; others are
	// counted under their own name too, up to maxOtherCodes of them.
	Codes []string
	// KeyStatus, if set, reports the trusted issuers' key sets, by issuer.
	// A set that has loaded keys (jwks.Status.Refreshes or RefreshErrors
	// not zero) has its loads reported too.
	KeyStatus func() map[string]jwks.Status
	// TokenCache reports the verified-token cache; nil when it is off.
	TokenCache func() (entries int, hits, misses uint64)
	// Introspection reports the introspection calls by outcome and the
	// cache of their answers; nil when no issuer introspects.
	Introspection func() (requests map[string]uint64, hits, misses uint64)
	// Clients is set when client credentials are configured: checks and
	// the throttle store's errors are reported then.
	Clients bool
	// StoreErrors, if set, returns the errors the throttle's store has
	// returned so far (keyward.throttle.store_errors, 0 while nil).
	StoreErrors func() uint64
}

// Recorder is an Authenticator's instruments and tracer.
type Recorder struct {
	duration metric.Float64Histogram
	reg      metric.Registration // of the observable instruments' callback

	tracer trace.Tracer // nil: no spans
	// globalTP is the global TracerProvider's stand-in when tracer came from
	// it before the application set one: spans start once it has.
	globalTP trace.TracerProvider

	codes   []string
	allowed [numMethods]counter
	refused [numMethods][]counter // by index in codes
	checks  [numChecks]counter

	mu     sync.Mutex
	other  map[otherCode]uint64    // refusals with a code not in codes
	routed map[routedCount]*routed // requests with a route, not counted above

	timed [numMethods][2][]metric.RecordOption // by cached
}

// counter is a count on a cache line of its own, so that requests counted
// under other attributes on other cores do not contend for it.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// maxOtherCodes bounds the refusal codes not in Config.Codes that are
// counted under their name; the others are counted as code "other".
const maxOtherCodes = 16

// otherCode is a refusal code that is not in Config.Codes.
type otherCode struct {
	method Method
	code   string
}

// New creates the instruments and the tracer c names and registers the
// callback of the observable instruments; Close unregisters it.
func New(c Config) (*Recorder, error) {
	mp, tp := c.MeterProvider, c.TracerProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &Recorder{codes: c.Codes}
	if tp == nil {
		tp = otel.GetTracerProvider()
		if isGlobalDefault(tp) {
			t.globalTP = tp
		}
	}
	if _, noop := tp.(tracenoop.TracerProvider); !noop {
		t.tracer = tp.Tracer(ScopeName)
	}

	m := mp.Meter(ScopeName)
	var errs []error
	check := func(err error) { errs = append(errs, err) }
	var err error
	requests, err := m.Int64ObservableCounter(MetricRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Requests authenticated, each counted once, by the kind of credentials presented (keyward.auth_method), outcome and refusal code."))
	check(err)
	t.duration, err = m.Float64Histogram(MetricVerifyDuration, metric.WithUnit("s"),
		metric.WithDescription("Time to verify a Bearer token or client credentials, by kind (keyward.auth_method) and whether a cache answered."),
		metric.WithExplicitBucketBoundaries(verifyBuckets...))
	check(err)
	checks, err := m.Int64ObservableCounter(MetricCredentialsChecks, metric.WithUnit("{check}"),
		metric.WithDescription("Client credential checks by result."))
	check(err)
	refreshes, err := m.Int64ObservableCounter(MetricJWKSRefreshes, metric.WithUnit("{refresh}"),
		metric.WithDescription("Key set load attempts by issuer and result."))
	check(err)
	keys, err := m.Int64ObservableGauge(MetricJWKSKeys, metric.WithUnit("{key}"),
		metric.WithDescription("Signature keys held by issuer."))
	check(err)
	entries, err := m.Int64ObservableGauge(MetricTokenCacheEntries, metric.WithUnit("{entry}"),
		metric.WithDescription("Verified tokens cached."))
	check(err)
	lookups, err := m.Int64ObservableCounter(MetricTokenCacheLookups, metric.WithUnit("{lookup}"),
		metric.WithDescription("Verified-token cache lookups by result."))
	check(err)
	introspections, err := m.Int64ObservableCounter(MetricIntrospectionRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Opaque tokens checked at an introspection endpoint, by outcome."))
	check(err)
	introspectionLookups, err := m.Int64ObservableCounter(MetricIntrospectionCacheLookups, metric.WithUnit("{lookup}"),
		metric.WithDescription("Introspection answer cache lookups by result."))
	check(err)
	storeErrors, err := m.Int64ObservableCounter(MetricThrottleStoreErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Errors of the store the credential failure throttle counts in."))
	check(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	obs := func(kv ...attribute.KeyValue) []metric.ObserveOption {
		return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	}
	method := func(m Method) attribute.KeyValue { return attribute.String(AttrAuthMethod, methodNames[m]) }
	var allowed [numMethods][]metric.ObserveOption
	var refused [numMethods][][]metric.ObserveOption
	for m := range numMethods {
		allowed[m] = obs(method(m), attribute.String("outcome", "allowed"))
		t.refused[m] = make([]counter, len(c.Codes))
		for _, code := range c.Codes {
			refused[m] = append(refused[m], obs(method(m), attribute.String("outcome", "refused"), attribute.String("code", code)))
		}
		for i, cached := range []bool{false, true} {
			set := attribute.NewSet(method(m), attribute.Bool("cached", cached))
			t.timed[m][i] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
	var checked [numChecks][]metric.ObserveOption
	for r := range numChecks {
		checked[r] = obs(attribute.String("result", checkNames[r]))
	}
	type issuerAttrs struct{ all, ok, failures []metric.ObserveOption }
	issuers := map[string]issuerAttrs{}
	if c.KeyStatus != nil {
		for name := range c.KeyStatus() {
			is := attribute.String("issuer", name)
			issuers[name] = issuerAttrs{obs(is), obs(is, attribute.String("result", "ok")), obs(is, attribute.String("result", "error"))}
		}
	}
	hit, miss := obs(attribute.String("result", "hit")), obs(attribute.String("result", "miss"))

	// Observable instruments read what the Recorder, the key sets, the
	// token cache and the throttle count. Like the counters of synchronous
	// instruments, a count is reported from its first increment on.
	observed := []metric.Observable{requests, refreshes, keys}
	if c.TokenCache != nil {
		observed = append(observed, entries, lookups)
	}
	if c.Clients {
		observed = append(observed, checks, storeErrors)
	}
	outcomes := map[string][]metric.ObserveOption{}
	if c.Introspection != nil {
		observed = append(observed, introspections, introspectionLookups)
		requests, _, _ := c.Introspection()
		for outcome := range requests {
			outcomes[outcome] = obs(attribute.String("outcome", outcome))
		}
	}
	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		observe := func(inst metric.Int64Observable, n uint64, opts []metric.ObserveOption) {
			if n > 0 {
				o.ObserveInt64(inst, int64(n), opts...)
			}
		}
		for m := range numMethods {
			observe(requests, t.allowed[m].Load(), allowed[m])
			for i := range t.refused[m] {
				observe(requests, t.refused[m][i].Load(), refused[m][i])
			}
		}
		t.mu.Lock()
		for k, n := range t.other {
			observe(requests, n, obs(method(k.method), attribute.String("outcome", "refused"), attribute.String("code", k.code)))
		}
		for _, r := range t.routed {
			observe(requests, r.n, r.opts)
		}
		t.mu.Unlock()
		for name, st := range keyStatus(c.KeyStatus) {
			is, ok := issuers[name]
			if !ok {
				continue
			}
			o.ObserveInt64(keys, int64(st.Keys), is.all...)
			if st.Refreshes+st.RefreshErrors > 0 { // not a static set
				o.ObserveInt64(refreshes, int64(st.Refreshes), is.ok...)
				o.ObserveInt64(refreshes, int64(st.RefreshErrors), is.failures...)
			}
		}
		if c.TokenCache != nil {
			n, hits, misses := c.TokenCache()
			o.ObserveInt64(entries, int64(n))
			o.ObserveInt64(lookups, int64(hits), hit...)
			o.ObserveInt64(lookups, int64(misses), miss...)
		}
		if c.Introspection != nil {
			requests, hits, misses := c.Introspection()
			for outcome, n := range requests {
				if opts, ok := outcomes[outcome]; ok {
					o.ObserveInt64(introspections, int64(n), opts...)
				}
			}
			o.ObserveInt64(introspectionLookups, int64(hits), hit...)
			o.ObserveInt64(introspectionLookups, int64(misses), miss...)
		}
		if c.Clients {
			for r := range numChecks {
				observe(checks, t.checks[r].Load(), checked[r])
			}
			var n uint64
			if c.StoreErrors != nil {
				n = c.StoreErrors()
			}
			o.ObserveInt64(storeErrors, int64(n))
		}
		return nil
	}, observed...)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// keyStatus is f's answer, or none when f is nil.
func keyStatus(f func() map[string]jwks.Status) map[string]jwks.Status {
	if f == nil {
		return nil
	}
	return f()
}

// isGlobalDefault reports whether tp, the global TracerProvider, is still
// the stand-in the otel package hands out until the application sets one
// (a type of its internal global package): its spans record nothing and
// cost allocations. A probe span would tell too, but would reach the
// application's exporter once one is set.
func isGlobalDefault(tp trace.TracerProvider) bool {
	return strings.HasPrefix(fmt.Sprintf("%T", tp), "*global.")
}

// Close unregisters the observable instruments' callback.
func (t *Recorder) Close() error {
	return t.reg.Unregister()
}

// Start starts the request's span if spans are on, with the route of ctx
// (WithRoute) as attribute keyward.route; span is nil if spans are off and
// ctx has no route. Give span to Request, and use it for nothing else.
func (t *Recorder) Start(ctx context.Context) (context.Context, trace.Span) {
	route, _ := ctx.Value(routeKey{}).(string)
	return t.StartRoute(ctx, route)
}

// StartRoute is Start for a request whose route is route ("" for none),
// such as an HTTP request's Pattern, whatever ctx holds.
func (t *Recorder) StartRoute(ctx context.Context, route string) (context.Context, trace.Span) {
	if t.tracer == nil || t.globalTP != nil && otel.GetTracerProvider() == t.globalTP {
		if route == "" {
			return ctx, nil
		}
		return ctx, &routedSpan{Span: tracenoop.Span{}, route: route, off: true}
	}
	if route == "" {
		return t.tracer.Start(ctx, spanAuthenticate)
	}
	ctx, span := t.tracer.Start(ctx, spanAuthenticate, trace.WithAttributes(attribute.String(AttrRoute, route)))
	return ctx, &routedSpan{Span: span, route: route}
}

// Outcome is a request's decision, as Request records it.
type Outcome struct {
	Method Method
	// Code is the refusal's code; "" when the request was allowed.
	Code string
	// ServerFault marks a refusal for the server's trouble, not the
	// caller's: the span's status is Error.
	ServerFault bool
	// Issuer and ClientID are the verified caller's, "" when there is
	// none: never what an unverified request claimed.
	Issuer, ClientID string
}

// Request counts a request decided with outcome o and ends its span
// (nil: none).
func (t *Recorder) Request(span trace.Span, o Outcome) {
	if rs, ok := span.(*routedSpan); ok {
		span = rs.Span
		if rs.off {
			span = nil
		}
		t.countRouted(rs.route, o)
	} else if o.Code == "" {
		t.allowed[o.Method].Add(1)
	} else if i := slices.Index(t.codes, o.Code); i >= 0 {
		t.refused[o.Method][i].Add(1)
	} else {
		t.mu.Lock()
		if t.other == nil {
			t.other = map[otherCode]uint64{}
		}
		k := otherCode{o.Method, o.Code}
		if _, ok := t.other[k]; !ok && len(t.other) >= maxOtherCodes {
			k.code = "other"
		}
		t.other[k]++
		t.mu.Unlock()
	}
	if span == nil {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, attribute.String(AttrAuthMethod, methodNames[o.Method]))
	if o.Code == "" {
		attrs = append(attrs, attribute.String("keyward.outcome", "allowed"))
	} else {
		attrs = append(attrs, attribute.String("keyward.outcome", "refused"), attribute.String("keyward.code", o.Code))
	}
	if o.Issuer != "" {
		attrs = append(attrs, attribute.String("keyward.issuer", o.Issuer))
	}
	if o.ClientID != "" {
		attrs = append(attrs, attribute.String("keyward.client_id", o.ClientID))
	}
	span.SetAttributes(attrs...)
	if o.ServerFault {
		span.SetStatus(codes.Error, o.Code)
	}
	span.End()
}

// Begin is the start of a verification for Verified: a Monotonic reading
// when verification times are recorded, else -1, so that the clock is read
// only then.
func (t *Recorder) Begin(ctx context.Context) time.Duration {
	if !t.duration.Enabled(ctx) {
		return -1
	}
	return Monotonic()
}

// epoch is the origin of Monotonic: reading the time since it costs one
// clock read where time.Now costs two.
var epoch = time.Now()

// Monotonic is the time since an origin of the process's, on the monotonic
// clock: the start Verified takes.
func Monotonic() time.Duration { return time.Since(epoch) }

// Verified records the duration of a verification that began at start (a
// Begin reading), if it was timed.
func (t *Recorder) Verified(ctx context.Context, method Method, cached bool, start time.Duration) {
	if start < 0 {
		return
	}
	i := 0
	if cached {
		i = 1
	}
	t.duration.Record(ctx, (Monotonic() - start).Seconds(), t.timed[method][i]...)
}

// Checked counts a client credentials check.
func (t *Recorder) Checked(r Check) { t.checks[r].Add(1) }

// countRouted counts a request with route route decided with outcome o.
func (t *Recorder) countRouted(route string, o Outcome) {
	k := routedCount{route: route, method: o.Method, code: o.Code}
	t.mu.Lock()
	defer t.mu.Unlock()
	r, ok := t.routed[k]
	if !ok {
		if len(t.routed) >= maxRoutedCounts {
			k.route = "other"
			r, ok = t.routed[k]
		}
		if !ok {
			r = &routed{opts: routedAttributes(k)}
			if t.routed == nil {
				t.routed = map[routedCount]*routed{}
			}
			t.routed[k] = r
		}
	}
	r.n++
}

// routedAttributes are the attributes of the count k.
func routedAttributes(k routedCount) []metric.ObserveOption {
	kv := []attribute.KeyValue{attribute.String(AttrAuthMethod, methodNames[k.method]), attribute.String(AttrRoute, k.route), attribute.String("outcome", "allowed")}
	if k.code != "" {
		kv = append(kv[:2], attribute.String("outcome", "refused"), attribute.String("code", k.code))
	}
	return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
}
