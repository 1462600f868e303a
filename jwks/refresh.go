package jwks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
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
		case <-r.kids.trigger:
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
		r.kids.started()
		err := r.attempt()
		r.kids.done(err == nil, r.store.keys().hasKID)
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
	skipped, err := r.fetch(ctx)
	r.mu.Lock()
	r.lastAttempt = time.Now()
	prevSkipped := r.skipped
	if err != nil {
		r.lastErr = err.Error()
	} else {
		r.lastErr = ""
		r.skipped = skipped
	}
	r.mu.Unlock()
	if err == nil {
		n := r.store.keys().len()
		r.opts.Logger.Debug("jwks: keys loaded", "source", r.source, "keys", n, "skipped", skipped)
		if skipped > 0 && skipped != prevSkipped {
			r.opts.Logger.Warn("jwks: keys skipped as unreadable or unsafe", "source", r.source, "skipped", skipped)
		}
		if n == 0 {
			r.opts.Logger.Warn("jwks: key set holds no usable signature key", "source", r.source)
		}
	}
	return err
}

// fetch resolves the JWK Set URL, fetches and decodes the set and loads its
// keys into the store. skipped counts the keys that were unreadable or unsafe
// (see parseKeys and store.filter). The store is left as it is on any error.
func (r *Remote) fetch(ctx context.Context) (skipped int, err error) {
	u, err := r.url.resolve(ctx, r.client)
	if err != nil {
		return 0, err
	}
	body, err := get(ctx, r.client, u, "JWK Set", r.opts)
	if err != nil {
		return 0, err
	}
	members, err := decodeKeySet(body)
	if err != nil {
		return 0, err
	}
	keys, skipped := parseKeys(ctx, members, r.opts.Logger, r.source)
	unsafe, err := r.store.load(ctx, keys)
	skipped += unsafe
	switch {
	case errors.Is(err, errNoUsableKeys):
		msg := err.Error() + "; keeping the previous keys"
		if skipped > 0 {
			msg += fmt.Sprintf(" (%d of %d skipped as unreadable or unsafe)", skipped, len(members))
		}
		return skipped, &fetchError{msg: msg, err: err}
	case err != nil:
		return skipped, fmt.Errorf("jwks: storing the keys: %w", err)
	}
	return skipped, nil
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

// requestRefresh asks the goroutine for a fetch because kid is unknown ("" if
// the set is empty), if kidGate allows one now. It never blocks.
func (r *Remote) requestRefresh(kid string) {
	if r.kids.request(kid) {
		r.opts.Logger.Debug("jwks: refresh requested", "source", r.source, "kid", logText(kid))
	}
}
