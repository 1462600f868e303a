package clients

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Watch keeps the registry in step with its file until ctx is done: every
// ReloadInterval it reads the file and reloads if the content (by SHA-256)
// changed, which catches editors that replace the file and Kubernetes
// ConfigMap symlink swaps alike, and it reloads at once on SIGHUP. A broken
// or unreadable file is logged (once per distinct problem) and the registry
// keeps what it had. Watch registers for SIGHUP with signal.Notify only while
// it runs. For a registry from Parse it only waits for ctx.
func (r *Registry) Watch(ctx context.Context) {
	if r.path == "" {
		<-ctx.Done()
		return
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	var tick <-chan time.Time
	if interval := r.opts.ReloadInterval; interval >= 0 {
		if interval == 0 {
			interval = DefaultReloadInterval
		}
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	if r.watching != nil {
		r.watching()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			r.log.Info("clients: SIGHUP; reloading", "path", r.path)
			_ = r.Reload() // logged and reported
		case <-tick:
			r.poll()
		}
	}
}
