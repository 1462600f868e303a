package jwks

import (
	"context"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
)

// resolver yields the JWK Set URL to fetch; discovery implements it lazily.
type resolver interface {
	resolve(ctx context.Context, client *http.Client) (string, error)
}

// fixedURL is the resolver of a configured JWK Set URL.
type fixedURL string

func (u fixedURL) resolve(context.Context, *http.Client) (string, error) { return string(u), nil }

// run is the set's only goroutine: it performs every fetch after the first,
// on the refresh timer, on a trigger from Keyfunc and on Refresh.
func (r *Remote) run(firstErr error) {
	defer close(r.done)
	if r.owned != nil {
		defer r.owned.CloseIdleConnections()
	}
	interval := r.opts.RefreshInterval
	backoff := min(initialBackoff, interval)
	next := func(err error) time.Duration {
		if err == nil {
			backoff = min(initialBackoff, interval)
			return interval
		}
		d := backoff
		backoff = min(2*backoff, interval)
		return d
	}
	d := next(firstErr)
	r.logFailure(firstErr, d)
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		var waiters []chan error
		select {
		case <-r.ctx.Done():
			return
		case <-timer.C:
		case <-r.trigger:
		case w := <-r.refreshReq:
			waiters = append(waiters, w)
		drain: // join every Refresh already waiting to this one fetch
			for {
				select {
				case w := <-r.refreshReq:
					waiters = append(waiters, w)
				default:
					break drain
				}
			}
		}
		err := r.attempt()
		for _, w := range waiters {
			w <- err
		}
		d := next(err)
		r.logFailure(err, d)
		timer.Reset(d)
	}
}

func (r *Remote) logFailure(err error, retryIn time.Duration) {
	if err != nil && r.ctx.Err() == nil {
		r.opts.Logger.Warn("jwks: refresh failed", "source", r.source, "error", err.Error(), "retry_in", retryIn)
	}
}

// attempt performs one fetch bounded by Options.Timeout and records its
// outcome for Status.
func (r *Remote) attempt() error {
	ctx, cancel := context.WithTimeout(r.ctx, r.opts.Timeout)
	defer cancel()
	err := r.fetch(ctx)
	r.mu.Lock()
	r.lastAttempt = time.Now()
	if err != nil {
		r.lastErr = err.Error()
	} else {
		r.lastErr = ""
	}
	r.mu.Unlock()
	if err == nil {
		n := r.store.keys().len()
		r.opts.Logger.Debug("jwks: keys loaded", "source", r.source, "keys", n)
		if n == 0 {
			r.opts.Logger.Warn("jwks: key set holds no usable signature key", "source", r.source)
		}
	}
	return err
}

// fetch resolves the JWK Set URL and lets jwkset fetch and parse it; jwkset
// writes the keys into the store only when the whole fetch succeeded.
func (r *Remote) fetch(ctx context.Context) error {
	u, err := r.url.resolve(ctx, r.client)
	if err != nil {
		return err
	}
	_, err = jwkset.NewStorageFromHTTP(u, jwkset.HTTPClientStorageOptions{
		Client:                    r.client,
		Ctx:                       ctx,
		HTTPTimeout:               r.opts.Timeout,
		Storage:                   r.store,
		NoErrorReturnFirstHTTPReq: false,
		RefreshInterval:           0, // our goroutine schedules refreshes
	})
	if err != nil {
		return safeError("JWK Set", err, r.opts)
	}
	return nil
}

// Refresh fetches the set now and returns the fetch's error. It shares the
// background goroutine, so it never runs beside another fetch: it waits for a
// fetch that starts after the call, which concurrent Refresh calls share. If
// ctx ends first, Refresh returns ctx's error and the fetch goes on.
func (r *Remote) Refresh(ctx context.Context) error {
	if r.ctx.Err() != nil {
		return errClosed
	}
	w := make(chan error, 1)
	select {
	case r.refreshReq <- w:
	case <-r.done:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-w:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestRefresh asks the goroutine for a fetch if the unknown-kid limiter
// allows one now. It never blocks.
func (r *Remote) requestRefresh() {
	if !r.limiter.AllowN(r.opts.Now(), 1) {
		return
	}
	select {
	case r.trigger <- struct{}{}:
	default: // a fetch is already pending
	}
}
