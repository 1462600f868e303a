package exchange

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// HeaderForwardedFor is the request header in which [Client.Exchange] sends
// the caller's address given to [WithCallerAddr].
const HeaderForwardedFor = "X-Forwarded-For"

// MaxRetryAfter bounds [RetryError.RetryAfter]: a longer Retry-After from
// the endpoint is cut to it.
const MaxRetryAfter = time.Hour

// callerAddrKey is the context key of WithCallerAddr.
type callerAddrKey struct{}

// WithCallerAddr returns a copy of ctx with which [Client.Exchange] tells
// the token endpoint, in an X-Forwarded-For header, the address of the
// caller whose credentials it exchanges, so that an authorization server
// that trusts this resource server as a proxy counts failed
// authentications against each caller rather than against the resource
// server (one guesser then cannot lock every caller out).
//
// addr is an IP address, with or without a port and an IPv6 zone, as in
// http.Request.RemoteAddr ("192.0.2.7:51234", "[2001:db8::7]:443",
// "2001:db8::7"), or an IP prefix ("2001:db8:1:2::/64"), whose first
// address is sent. It is normalised: an IPv4-mapped IPv6 address is sent as
// IPv4, a zone is dropped. Anything else ("", a host name) means no header,
// even if an outer context had an address.
func WithCallerAddr(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, callerAddrKey{}, parseCallerAddr(addr))
}

// callerAddr returns the address WithCallerAddr put in ctx, if any.
func callerAddr(ctx context.Context) (netip.Addr, bool) {
	a, ok := ctx.Value(callerAddrKey{}).(netip.Addr)
	return a, ok && a.IsValid()
}

// parseCallerAddr reads WithCallerAddr's addr; the zero Addr if it is none.
func parseCallerAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	var a netip.Addr
	if p, err := netip.ParsePrefix(s); err == nil {
		a = p.Masked().Addr()
	} else if a, err = netip.ParseAddr(s); err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone("")
}

// RetryError is the cause, wrapped in the [*Error] (which matches
// [ErrUnavailable]), of an answer of 429 Too Many Requests or 503 Service
// Unavailable from the token endpoint, with the wait the endpoint asked for:
// find it with errors.As. A resource server answers its caller with the same
// status and Retry-After, since the endpoint refused this caller's exchange
// for now (a 429 from an authorization server that throttles per caller
// address, see [WithCallerAddr]) or is overloaded.
type RetryError struct {
	// Status is http.StatusTooManyRequests or http.StatusServiceUnavailable.
	Status int
	// RetryAfter is the wait of the response's Retry-After header, in
	// delta-seconds or as an HTTP date, at most MaxRetryAfter; 0 if the
	// header is missing, malformed or in the past.
	RetryAfter time.Duration
}

// Error says the status and the wait.
func (e *RetryError) Error() string {
	if e.RetryAfter <= 0 {
		return fmt.Sprintf("exchange: HTTP %d, no Retry-After", e.Status)
	}
	return fmt.Sprintf("exchange: HTTP %d, retry after %s", e.Status, e.RetryAfter)
}

// retryError returns the RetryError of a response, or nil if its status
// is neither 429 nor 503.
func retryError(status int, header http.Header, now time.Time) *RetryError {
	if status != http.StatusTooManyRequests && status != http.StatusServiceUnavailable {
		return nil
	}
	return &RetryError{Status: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
}

// withRetry adds retry, if not nil, to err, an *Error, as a cause.
func withRetry(err error, retry *RetryError) error {
	e, ok := err.(*Error)
	if retry == nil || !ok {
		return err
	}
	e.Err = fmt.Errorf("%w: %w", e.Err, retry)
	note := "the endpoint gave no Retry-After"
	if retry.RetryAfter > 0 {
		note = "the endpoint asks to retry after " + retry.RetryAfter.String()
	}
	if e.detail != "" {
		note = e.detail + "; " + note
	}
	e.detail = note
	return e
}

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3): delta-seconds
// or an HTTP date. It returns 0 for a malformed or past value and cuts long
// ones to MaxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 64)
		switch {
		case err != nil && strings.Trim(v, "0123456789") == "":
			return MaxRetryAfter // all digits, beyond uint64
		case err != nil:
			return 0 // neither delta-seconds nor a date, which starts with a day name
		case n >= uint64(MaxRetryAfter/time.Second):
			return MaxRetryAfter
		}
		return time.Duration(n) * time.Second
	}
	t, err := http.ParseTime(v)
	if err != nil || !t.After(now) {
		return 0
	}
	return min(t.Sub(now).Round(time.Second), MaxRetryAfter)
}
