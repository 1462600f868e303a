package dualauth

import (
	"context"
	"errors"
	"fmt"
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

// scopeName is the instrumentation scope of the meter and the tracer an
// Authenticator gets from Config.MeterProvider and Config.TracerProvider.
const scopeName = "github.com/keyward/keyward/dualauth"

// The instruments an Authenticator reports through Config.MeterProvider.
// The Prometheus exporter names them with underscores and unit and _total
// suffixes: keyward_requests_total, keyward_verify_duration_seconds and so
// on.
const (
	// metricRequests counts requests, each once (see Config.MeterProvider):
	// attributes keyward.auth_method (jwt, credentials or none), outcome
	// (allowed or refused) and, when refused, code (the *Error's Code,
	// "unauthorized" for a request without credentials).
	metricRequests = "keyward.requests"
	// metricVerifyDuration is the time to verify a Bearer token or a client
	// id and secret, in seconds: attributes keyward.auth_method (jwt or
	// credentials) and cached (true when answered from a cache of verified
	// tokens or credentials).
	metricVerifyDuration = "keyward.verify.duration"
	// metricJWKSRefreshes counts each issuer's key set loads, the first
	// included (jwks.Status Refreshes and RefreshErrors): attributes issuer
	// and result (ok or error). A jwks.Static set, which never loads again,
	// has none.
	metricJWKSRefreshes = "keyward.jwks.refreshes"
	// metricJWKSKeys is the number of keys each issuer's set holds:
	// attribute issuer.
	metricJWKSKeys = "keyward.jwks.keys"
	// metricTokenCacheEntries is the number of verified tokens cached.
	metricTokenCacheEntries = "keyward.token_cache.entries"
	// metricTokenCacheLookups counts the verified-token cache's lookups:
	// attribute result (hit or miss).
	metricTokenCacheLookups = "keyward.token_cache.lookups"
	// metricCredentialsChecks counts client id and secret checks: attribute
	// result, one of ok, refused (invalid_client), throttled (429), busy
	// (no check slot free in time, or the verifier said it was busy) and
	// error (the check could not be made: the verifier or the token
	// endpoint failed, or the caller went away).
	metricCredentialsChecks = "keyward.credentials.checks"
	// metricThrottleStoreErrors counts the errors of the store the failure
	// throttle counts in (a store shared by replicas; while it fails each
	// replica counts in its own memory).
	metricThrottleStoreErrors = "keyward.throttle.store_errors"
)

// attrAuthMethod is the attribute of the kind of credentials a request
// presented (methodNames), on keyward.requests, keyward.verify.duration and
// the keyward.authenticate span. It is not "method", which reads as the HTTP
// method, nor in a namespace of the OpenTelemetry semantic conventions
// ("auth" is none yet, and one may come with another meaning): it is
// Keyward's own, under Keyward's name, as the conventions ask of
// application-specific attributes.
const attrAuthMethod = "keyward.auth_method"

// spanAuthenticate is the name of the span an Authenticator starts for each
// request it decides on (see Config.TracerProvider).
const spanAuthenticate = "keyward.authenticate"

// codeUnauthorized is the code attribute of a request refused for carrying
// no credentials, whose *Error has no Code (RFC 6750 §3.1): the "error" the
// middleware's JSON body gives it.
const codeUnauthorized = "unauthorized"

// verifyBuckets are keyward.verify.duration's bucket bounds, in seconds: a
// cached answer takes about a microsecond, a signature check tens to
// hundreds of microseconds, a registry hash (bcrypt, argon2id) and a token
// exchange milliseconds to a second.
var verifyBuckets = []float64{
	0.000002, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005,
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// authMethod indexes the keyward.auth_method attribute.
type authMethod uint8

const (
	methodNone authMethod = iota
	methodJWT
	methodCredentials
	numMethods
)

var methodNames = [numMethods]string{"none", "jwt", "credentials"}

// knownCodes are the code attributes counted in arrays, by codeIndex.
var knownCodes = [...]string{
	codeUnauthorized, CodeInvalidRequest, CodeInvalidToken, CodeInsufficientScope,
	CodeInvalidClient, CodeTooManyRequests, CodeTemporarilyUnavailable,
}

const numCodes = len(knownCodes)

// codeIndex is code's index in knownCodes, or -1.
func codeIndex(code string) int {
	switch code {
	case codeUnauthorized:
		return 0
	case CodeInvalidRequest:
		return 1
	case CodeInvalidToken:
		return 2
	case CodeInsufficientScope:
		return 3
	case CodeInvalidClient:
		return 4
	case CodeTooManyRequests:
		return 5
	case CodeTemporarilyUnavailable:
		return 6
	}
	return -1
}

// checkResult indexes keyward.credentials.checks' result attribute.
type checkResult uint8

const (
	checkOK checkResult = iota
	checkRefused
	checkThrottled
	checkBusy
	checkError
	numCheckResults
)

var checkResultNames = [numCheckResults]string{"ok", "refused", "throttled", "busy", "error"}

// telemetry is an Authenticator's instruments and tracer. The request and
// check counts are atomic counters that observable instruments report when
// metrics are collected, and every attribute set is built once: a request
// costs its counters an atomic add and allocates nothing for its metrics.
type telemetry struct {
	duration metric.Float64Histogram
	reg      metric.Registration // of the observable instruments' callback

	tracer trace.Tracer // nil: no spans
	// globalTP is the global TracerProvider's stand-in when tracer came from
	// it before the application set one: spans start once it has.
	globalTP trace.TracerProvider

	allowed [numMethods]counter
	refused [numMethods][numCodes]counter
	checks  [numCheckResults]counter

	mu    sync.Mutex
	other map[otherCode]uint64 // refusals with a code of the application's own

	timed [numMethods][2][]metric.RecordOption // by cached
}

// counter is a count on a cache line of its own, so that requests counted
// under other attributes on other cores do not contend for it.
type counter struct {
	atomic.Uint64
	_ [56]byte
}

// maxOtherCodes bounds the refusal codes of the application's own that
// are counted under their name; the others are counted as code "other".
const maxOtherCodes = 16

// otherCode is a refusal code that is none of this package's.
type otherCode struct {
	method authMethod
	code   string
}

// newTelemetry creates c's instruments on mp and its tracer on tp (nil:
// the global providers) and registers the callback of the observable ones.
func newTelemetry(c *core, mp metric.MeterProvider, tp trace.TracerProvider) (*telemetry, error) {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	t := &telemetry{}
	if tp == nil {
		tp = otel.GetTracerProvider()
		if isGlobalDefault(tp) {
			t.globalTP = tp
		}
	}
	if _, noop := tp.(tracenoop.TracerProvider); !noop {
		t.tracer = tp.Tracer(scopeName)
	}

	m := mp.Meter(scopeName)
	var errs []error
	check := func(err error) { errs = append(errs, err) }
	var err error
	requests, err := m.Int64ObservableCounter(metricRequests, metric.WithUnit("{request}"),
		metric.WithDescription("Requests authenticated, each counted once, by the kind of credentials presented (keyward.auth_method), outcome and refusal code."))
	check(err)
	t.duration, err = m.Float64Histogram(metricVerifyDuration, metric.WithUnit("s"),
		metric.WithDescription("Time to verify a Bearer token or client credentials, by kind (keyward.auth_method) and whether a cache answered."),
		metric.WithExplicitBucketBoundaries(verifyBuckets...))
	check(err)
	checks, err := m.Int64ObservableCounter(metricCredentialsChecks, metric.WithUnit("{check}"),
		metric.WithDescription("Client credential checks by result."))
	check(err)
	refreshes, err := m.Int64ObservableCounter(metricJWKSRefreshes, metric.WithUnit("{refresh}"),
		metric.WithDescription("Key set load attempts by issuer and result."))
	check(err)
	keys, err := m.Int64ObservableGauge(metricJWKSKeys, metric.WithUnit("{key}"),
		metric.WithDescription("Signature keys held by issuer."))
	check(err)
	entries, err := m.Int64ObservableGauge(metricTokenCacheEntries, metric.WithUnit("{entry}"),
		metric.WithDescription("Verified tokens cached."))
	check(err)
	lookups, err := m.Int64ObservableCounter(metricTokenCacheLookups, metric.WithUnit("{lookup}"),
		metric.WithDescription("Verified-token cache lookups by result."))
	check(err)
	storeErrors, err := m.Int64ObservableCounter(metricThrottleStoreErrors, metric.WithUnit("{error}"),
		metric.WithDescription("Errors of the store the credential failure throttle counts in."))
	check(err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	obs := func(kv ...attribute.KeyValue) []metric.ObserveOption {
		return []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(kv...))}
	}
	method := func(m authMethod) attribute.KeyValue { return attribute.String(attrAuthMethod, methodNames[m]) }
	var allowed [numMethods][]metric.ObserveOption
	var refused [numMethods][numCodes][]metric.ObserveOption
	for m := range numMethods {
		allowed[m] = obs(method(m), attribute.String("outcome", "allowed"))
		for i, code := range knownCodes {
			refused[m][i] = obs(method(m), attribute.String("outcome", "refused"), attribute.String("code", code))
		}
		for i, cached := range []bool{false, true} {
			set := attribute.NewSet(method(m), attribute.Bool("cached", cached))
			t.timed[m][i] = []metric.RecordOption{metric.WithAttributeSet(set)}
		}
	}
	var checked [numCheckResults][]metric.ObserveOption
	for r := range numCheckResults {
		checked[r] = obs(attribute.String("result", checkResultNames[r]))
	}
	type issuerAttrs struct {
		iss               *Issuer
		loads             bool // the set loads keys again: not a jwks.Static
		all, ok, failures []metric.ObserveOption
	}
	var issuers []issuerAttrs
	for name, iss := range c.issuers {
		is := attribute.String("issuer", name)
		_, static := iss.Keys.(*jwks.Static)
		issuers = append(issuers, issuerAttrs{iss, !static, obs(is), obs(is, attribute.String("result", "ok")), obs(is, attribute.String("result", "error"))})
	}
	hit, miss := obs(attribute.String("result", "hit")), obs(attribute.String("result", "miss"))

	// Observable instruments read what the telemetry, the key sets, the
	// token cache and the throttle count. Like the counters of synchronous
	// instruments, a count is reported from its first increment on.
	observed := []metric.Observable{requests, refreshes, keys}
	if c.tokens != nil {
		observed = append(observed, entries, lookups)
	}
	if c.clients != nil {
		observed = append(observed, checks, storeErrors)
	}
	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		observe := func(inst metric.Int64Observable, n uint64, opts []metric.ObserveOption) {
			if n > 0 {
				o.ObserveInt64(inst, int64(n), opts...)
			}
		}
		for m := range numMethods {
			observe(requests, t.allowed[m].Load(), allowed[m])
			for i := range numCodes {
				observe(requests, t.refused[m][i].Load(), refused[m][i])
			}
		}
		t.mu.Lock()
		for k, n := range t.other {
			observe(requests, n, obs(method(k.method), attribute.String("outcome", "refused"), attribute.String("code", k.code)))
		}
		t.mu.Unlock()
		for _, is := range issuers {
			st := is.iss.Keys.Status()
			o.ObserveInt64(keys, int64(st.Keys), is.all...)
			if is.loads {
				o.ObserveInt64(refreshes, int64(st.Refreshes), is.ok...)
				o.ObserveInt64(refreshes, int64(st.RefreshErrors), is.failures...)
			}
		}
		if tc := c.tokens; tc != nil {
			o.ObserveInt64(entries, int64(tc.c.ItemCount()))
			o.ObserveInt64(lookups, int64(tc.hits.Load()), hit...)
			o.ObserveInt64(lookups, int64(tc.misses.Load()), miss...)
		}
		if c.clients != nil {
			for r := range numCheckResults {
				observe(checks, t.checks[r].Load(), checked[r])
			}
			var n uint64
			if f := c.storeErrors; f != nil {
				n = f()
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

// isGlobalDefault reports whether tp, the global TracerProvider, is still
// the stand-in the otel package hands out until the application sets one
// (a type of its internal global package): its spans record nothing and
// cost allocations. A probe span would tell too, but would reach the
// application's exporter once one is set.
func isGlobalDefault(tp trace.TracerProvider) bool {
	return strings.HasPrefix(fmt.Sprintf("%T", tp), "*global.")
}

// close unregisters the observable instruments' callback.
func (t *telemetry) close() error {
	return t.reg.Unregister()
}

// start starts the request's span if spans are on; span is nil if not.
func (t *telemetry) start(ctx context.Context) (context.Context, trace.Span) {
	if t.tracer == nil || t.globalTP != nil && otel.GetTracerProvider() == t.globalTP {
		return ctx, nil
	}
	return t.tracer.Start(ctx, spanAuthenticate)
}

// request counts a request decided with err (nil: allowed) and ends its
// span. p is the verified caller, if any, even when err refuses it for its
// scopes.
func (t *telemetry) request(span trace.Span, method authMethod, p *Principal, err error) {
	var code string
	if err == nil {
		t.allowed[method].Add(1)
	} else {
		code = errorCode(err)
		if i := codeIndex(code); i >= 0 {
			t.refused[method][i].Add(1)
		} else {
			// A code of the application's own, from its ClientVerifier.
			t.mu.Lock()
			if t.other == nil {
				t.other = map[otherCode]uint64{}
			}
			k := otherCode{method, code}
			if _, ok := t.other[k]; !ok && len(t.other) >= maxOtherCodes {
				k.code = "other"
			}
			t.other[k]++
			t.mu.Unlock()
		}
	}
	if span == nil {
		return
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, attribute.String(attrAuthMethod, methodNames[method]))
	if err == nil {
		attrs = append(attrs, attribute.String("keyward.outcome", "allowed"))
	} else {
		attrs = append(attrs, attribute.String("keyward.outcome", "refused"), attribute.String("keyward.code", code))
	}
	// Only what was verified: an unverified token's issuer or a refused
	// client id is whatever the caller sent.
	if p != nil {
		if p.Issuer != "" {
			attrs = append(attrs, attribute.String("keyward.issuer", p.Issuer))
		}
		if p.ClientID != "" {
			attrs = append(attrs, attribute.String("keyward.client_id", p.ClientID))
		}
	}
	span.SetAttributes(attrs...)
	if code == CodeTemporarilyUnavailable {
		span.SetStatus(codes.Error, code) // the server's trouble, not the caller's
	}
	span.End()
}

// errorCode is the code attribute of a refusal: the *Error's Code,
// codeUnauthorized for no credentials, and invalid_token for an error that
// is no *Error (as Refusal answers it).
func errorCode(err error) string {
	e, ok := err.(*Error)
	if !ok && !errors.As(err, &e) || e == nil {
		return CodeInvalidToken
	}
	if e.Code == "" {
		return codeUnauthorized
	}
	return e.Code
}

// timing reports whether verification times are recorded, so that the
// clock is read only then.
func (t *telemetry) timing(ctx context.Context) bool { return t.duration.Enabled(ctx) }

// epoch is the origin of monotonic: reading the time since it costs one
// clock read where time.Now costs two.
var epoch = time.Now()

// monotonic is the time since epoch, on the monotonic clock.
func monotonic() time.Duration { return time.Since(epoch) }

// verified records a verification's duration since start (a monotonic
// reading).
func (t *telemetry) verified(ctx context.Context, method authMethod, cached bool, start time.Duration) {
	i := 0
	if cached {
		i = 1
	}
	t.duration.Record(ctx, (monotonic() - start).Seconds(), t.timed[method][i]...)
}

// checkedClient counts a credentials check that ended with err.
func (t *telemetry) checkedClient(err error) {
	r := checkOK
	if err != nil {
		switch errorCode(err) {
		case CodeInvalidClient:
			r = checkRefused
		case CodeTooManyRequests:
			r = checkThrottled
		default:
			r = checkError
			if errors.Is(err, ErrVerifierBusy) {
				r = checkBusy
			}
		}
	}
	t.checks[r].Add(1)
}
