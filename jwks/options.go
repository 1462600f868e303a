package jwks

import (
	"errors"
	"log/slog"
	"net/http"
	"time"
)

// Defaults applied to zero fields of [Options].
const (
	// DefaultRefreshInterval is how often a Remote refetches its JWK Set.
	DefaultRefreshInterval = time.Hour
	// DefaultUnknownKIDInterval is the time in which tokens with unknown key
	// ids or an empty set may start one refresh, after a burst of 3.
	DefaultUnknownKIDInterval = 5 * time.Minute
	// DefaultTimeout bounds one refresh attempt.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxBytes caps the size of a JWK Set or metadata response body.
	DefaultMaxBytes int64 = 1 << 20
)

// initialBackoff is the first retry delay after a failed attempt; it doubles
// after each further failure, capped at the refresh interval.
const initialBackoff = time.Second

// Options for remote sets. Zero values mean the defaults.
type Options struct {
	// RefreshInterval is the time between two scheduled refreshes after a
	// successful one (default DefaultRefreshInterval). It also caps the retry
	// backoff after failures.
	RefreshInterval time.Duration
	// UnknownKIDInterval limits the refreshes started by tokens with unknown
	// key ids or by an empty set: at most 3 back to back, then one per
	// interval. A kid still unknown after a refresh it started (or one started
	// after it was seen) starts no other refresh for one interval. Default
	// DefaultUnknownKIDInterval.
	UnknownKIDInterval time.Duration
	// Timeout bounds one refresh attempt, discovery included (default
	// DefaultTimeout).
	Timeout time.Duration
	// MaxBytes caps a JWK Set or discovery response body (default
	// DefaultMaxBytes).
	MaxBytes int64
	// Client is the HTTP client to use. A copy is made whose transport is
	// wrapped with the body cap and whose redirect policy allows at most 3
	// redirects and never from https to http. Default: a client of the set's
	// own, not http.DefaultClient.
	Client *http.Client
	// AllowInsecureHTTP permits http:// URLs for hosts other than loopback
	// (127.0.0.0/8, ::1, localhost), which are always permitted.
	AllowInsecureHTTP bool
	// Logger receives refresh outcomes; nil discards. Tokens are never logged.
	Logger *slog.Logger
	// Now is the clock of the unknown-kid limits; nil means time.Now.
	Now func() time.Time
}

// withDefaults checks o and fills in its zero fields.
func (o Options) withDefaults() (Options, error) {
	if o.RefreshInterval < 0 || o.UnknownKIDInterval < 0 || o.Timeout < 0 || o.MaxBytes < 0 {
		return o, errors.New("jwks: negative duration or size in options")
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.UnknownKIDInterval == 0 {
		o.UnknownKIDInterval = DefaultUnknownKIDInterval
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}
