package clients

import (
	"crypto/sha256"
	"errors"
	"fmt"
)

// Reload reads and checks the file again now and swaps the new registry in.
// If the file cannot be read or is broken, the registry keeps what it had and
// Reload returns (and logs) why. A registry from Parse has no file to reload.
func (r *Registry) Reload() error {
	if r.path == "" {
		return errors.New("clients: the registry was parsed from bytes; there is no file to reload")
	}
	r.mu.Lock()
	err := r.reloadLocked(false)
	r.mu.Unlock()
	r.reported(err)
	return err
}

// poll reloads if the file's content changed since it was last read, or
// reports a read error not reported yet.
func (r *Registry) poll() {
	r.mu.Lock()
	err := r.reloadLocked(true)
	r.mu.Unlock()
	if !errors.Is(err, errNoChange) {
		r.reported(err)
	}
}

// errNoChange tells poll there was nothing to report.
var errNoChange = errors.New("no change")

// reloadLocked reads the file and, unless onlyIfChanged and its content is
// what was last read, rebuilds the registry. It holds r.mu.
func (r *Registry) reloadLocked(onlyIfChanged bool) error {
	data, err := readFile(r.path)
	if err != nil {
		err = fmt.Errorf("clients: %w", err)
		if onlyIfChanged {
			if err.Error() == r.lastPollErr {
				return errNoChange
			}
			r.lastPollErr = err.Error()
		}
		return r.failed(err)
	}
	recovered := r.lastPollErr != "" // a poll reported the file unreadable
	r.lastPollErr = ""
	sum := sha256.Sum256(data)
	if onlyIfChanged && sum == r.lastSum && !recovered {
		return errNoChange
	}
	r.lastSum = sum
	next, err := build(data)
	if err != nil {
		return r.failed(fmt.Errorf("clients: %s: %w", r.path, err))
	}
	cur := r.snap.Load()
	added, removed, changed := diff(cur, next)
	if added+removed+changed == 0 {
		r.log.Debug("clients: reloaded; nothing changed", "path", r.path, "generation", cur.gen)
		return nil
	}
	next.gen = cur.gen + 1
	r.install(next)
	_, slots := r.slots.counts()
	r.log.Info("clients: reloaded", "path", r.path, "clients", len(next.clients), "added", added,
		"removed", removed, "changed", changed, "generation", next.gen,
		"failure_floor", next.floor.get(), "hash_slots", slots)
	r.warnMixed(next)
	return nil
}

func (r *Registry) failed(err error) error {
	cur := r.snap.Load()
	r.log.Error("clients: reload failed; keeping the loaded clients", "path", r.path, "error", err,
		"clients", len(cur.clients), "generation", cur.gen)
	return err
}

func (r *Registry) reported(err error) {
	if r.opts.OnReload != nil {
		r.opts.OnReload(err)
	}
}

// diff counts the clients added, removed and changed (secret hash, scopes
// as a set, disabled) from a to b.
func diff(a, b *snapshot) (added, removed, changed int) {
	for id, eb := range b.clients {
		ea := a.clients[id]
		switch {
		case ea == nil:
			added++
		case ea.hashText != eb.hashText || ea.client.Disabled != eb.client.Disabled || !sameSet(ea.client.Scopes, eb.client.Scopes):
			changed++
		}
	}
	for id := range a.clients {
		if b.clients[id] == nil {
			removed++
		}
	}
	return added, removed, changed
}

// sameSet compares two lists without duplicates as sets, in linear time.
func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	in := make(map[string]struct{}, len(b))
	for _, s := range b {
		in[s] = struct{}{}
	}
	for _, s := range a {
		if _, ok := in[s]; !ok {
			return false
		}
	}
	return true
}
