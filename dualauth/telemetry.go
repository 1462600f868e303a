package dualauth

import (
	"errors"

	"go.opentelemetry.io/otel/trace"

	"github.com/keyward/keyward/internal/telemetry"
)

// recorder is the core's hook into its telemetry (package
// internal/telemetry, see Config.MeterProvider): it turns the core's errors
// and callers into what is recorded.
type recorder struct{ *telemetry.Recorder }

// authMethod is the kind of credentials a request presented.
type authMethod = telemetry.Method

const (
	methodNone        = telemetry.None
	methodJWT         = telemetry.JWT
	methodCredentials = telemetry.Credentials
)

// newRecorder records a's core to the providers of cfg.
func newRecorder(a *Authenticator, cfg Config) (recorder, error) {
	c := a.core
	tc := telemetry.Config{
		MeterProvider: cfg.MeterProvider, TracerProvider: cfg.TracerProvider,
		Codes: []string{CodeUnauthorized, CodeInvalidRequest, CodeInvalidToken, CodeInsufficientScope,
			CodeInvalidClient, CodeTooManyRequests, CodeTemporarilyUnavailable},
		Clients: c.clients != nil,
		StoreErrors: func() uint64 {
			if f := c.storeErrors; f != nil {
				return f()
			}
			return 0
		},
	}
	if k, ok := c.tokens.(keyReporter); ok {
		tc.KeyStatus = k.KeyStatus
	}
	if cs, ok := c.tokens.(cacheReporter); ok {
		tc.TokenCache = func() (int, uint64, uint64) {
			s := cs.CacheStatus()
			return s.Entries, s.Hits, s.Misses
		}
	}
	r, err := telemetry.New(tc)
	return recorder{r}, err
}

// request counts a request decided with err (nil: allowed) and ends its
// span. p is the verified caller, if any, even when err refuses it for its
// scopes: only what was verified is recorded.
func (t recorder) request(span trace.Span, method authMethod, p *Principal, err error) {
	o := telemetry.Outcome{Method: method}
	if err != nil {
		o.Code = errorCode(err)
		o.ServerFault = o.Code == CodeTemporarilyUnavailable
	}
	if p != nil {
		o.Issuer, o.ClientID = p.Issuer, p.ClientID
	}
	t.Request(span, o)
}

// checkedClient counts a credentials check that ended with err.
func (t recorder) checkedClient(err error) {
	r := telemetry.CheckOK
	if err != nil {
		switch errorCode(err) {
		case CodeInvalidClient:
			r = telemetry.CheckRefused
		case CodeTooManyRequests:
			r = telemetry.CheckThrottled
		default:
			r = telemetry.CheckError
			if errors.Is(err, ErrVerifierBusy) {
				r = telemetry.CheckBusy
			}
		}
	}
	t.Checked(r)
}

// errorCode is the code recorded for a refusal: the *Error's Code,
// CodeUnauthorized for no credentials, and invalid_token for an error that
// is no *Error (as Refusal answers it).
func errorCode(err error) string {
	e, ok := err.(*Error)
	if !ok && !errors.As(err, &e) || e == nil {
		return CodeInvalidToken
	}
	if e.Code == "" {
		return CodeUnauthorized
	}
	return e.Code
}
