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
// ConfigMap symlink swaps alike. A broken or unreadable file is logged (once
// per distinct problem) and the registry keeps what it had. For a registry
// from Parse it only waits for ctx.
//
// Watch also reloads at once when the process receives one of signals,
// typically syscall.SIGHUP; with none, it handles no signal. It registers for
// them with signal.Notify only while it runs, and only then: a signal that
// arrives before it has registered has its default effect (SIGHUP ends the
// process), so a program that must not miss one registers for it too.
func (r *Registry) Watch(ctx context.Context, signals ...os.Signal) {
	if r.path == "" {
		<-ctx.Done()
		return
	}
	var reload chan os.Signal
	if len(signals) > 0 {
		reload = make(chan os.Signal, 1)
		signal.Notify(reload, signals...)
		defer signal.Stop(reload)
	}

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
		case sig := <-reload:
			r.log.Info("clients: "+signalName(sig)+"; reloading", "path", r.path)
			_ = r.Reload() // logged and reported
		case <-tick:
			r.poll()
		}
	}
}

// signalName names sig for the log: SIGHUP as such, others as "signal
// <description>".
func signalName(sig os.Signal) string {
	if sig == syscall.SIGHUP {
		return "SIGHUP"
	}
	return "signal " + sig.String()
}
