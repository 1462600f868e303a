package dualauth

import (
	"errors"

	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/internal/telemetry"
)

// recorder is the core's hook into its telemetry (package
// internal/telemetry, see Config.MeterProvider).
type recorder struct{ *telemetry.Recorder }

// newRecorder records c, and what its methods report, to cfg's providers.
func newRecorder(c *core, cfg Config) (recorder, error) {
	tc := telemetry.Config{
		MeterProvider: cfg.MeterProvider, TracerProvider: cfg.TracerProvider,
		Codes: []string{CodeUnauthorized, CodeInvalidRequest, CodeInvalidToken, CodeInsufficientScope,
			CodeInvalidClient, CodeTooManyRequests, CodeTemporarilyUnavailable},
		Clients: c.clients != nil,
	}
	if s, ok := c.clients.(interface{ StoreErrors() uint64 }); ok {
		tc.StoreErrors = s.StoreErrors
	}
	if k, ok := c.tokens.(keyReporter); ok {
		tc.KeyStatus = k.KeyStatus
	}
	if cs, ok := c.tokens.(cacheReporter); ok {
		tc.TokenCache = func() (int, uint64, uint64) { s := cs.CacheStatus(); return s.Entries, s.Hits, s.Misses }
	}
	if in, ok := c.tokens.(interface {
		IntrospectionStatus() (map[string]uint64, CacheStatus)
	}); ok {
		if n, _ := in.IntrospectionStatus(); n != nil {
			tc.Introspection = func() (map[string]uint64, uint64, uint64) {
				n, s := in.IntrospectionStatus()
				return n, s.Hits, s.Misses
			}
		}
	}
	r, err := telemetry.New(tc)
	return recorder{r}, err
}

// request counts a request decided with err (nil: allowed) and ends its span;
// p is the verified caller, if any, even one refused for its scopes.
func (t recorder) request(span trace.Span, method telemetry.Method, p *Principal, err error) {
	o := telemetry.Outcome{Method: method, Code: errorCode(err)}
	o.ServerFault = o.Code == CodeTemporarilyUnavailable
	if p != nil {
		o.Issuer, o.ClientID = p.Issuer, p.ClientID
	}
	t.Request(span, o)
}

// checkedClient counts a credentials check that ended with err.
func (t recorder) checkedClient(err error) {
	t.Checked(telemetry.CheckOf(errorCode(err), errors.Is(err, ErrVerifierBusy)))
}

// errorCode is the code recorded for err: "" for none (checked first, so that
// no e escapes for errors.As), the *Error's Code, CodeUnauthorized for no
// credentials, invalid_token for any other error (as Refusal answers it).
func errorCode(err error) string {
	if err == nil {
		return ""
	}
	e, ok := err.(*Error)
	switch {
	case !ok && !errors.As(err, &e) || e == nil:
		return CodeInvalidToken
	case e.Code == "":
		return CodeUnauthorized
	}
	return e.Code
}
