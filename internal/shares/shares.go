// Package shares lets several owners hold one resource that runs in the
// background (a key set's refreshes, a watched clients file) and closes it
// when the last of them lets it go. Resources are told apart by identity:
// a comparable value such as a pointer. One that is not comparable cannot
// be shared, and is closed by whichever holder lets it go first.
package shares

import (
	"errors"
	"reflect"
	"sync"
)

// List is a list of resources, each at most once.
type List []resource

type resource struct {
	id    any // the resource itself
	close func() error
}

// shared reports whether r can be told apart by identity.
func (r resource) shared() bool { return reflect.ValueOf(r.id).Comparable() }

// Add appends id, closed by close, unless it is a nil pointer or already
// in l.
func (l List) Add(id any, close func() error) List {
	if v := reflect.ValueOf(id); v.Kind() == reflect.Pointer && v.IsNil() {
		return l
	}
	for _, r := range l {
		if r.shared() && r.id == id {
			return l
		}
	}
	return append(l, resource{id: id, close: close})
}

// holders counts the holders of each shared resource, in this process.
var holders = struct {
	sync.Mutex
	n map[any]int
}{n: make(map[any]int)}

// Hold takes a share of each resource of l and returns the function that
// gives them back and closes each that no one else holds then, waiting for
// it to close.
func (l List) Hold() (release func() error) {
	holders.Lock()
	for _, r := range l {
		if r.shared() {
			holders.n[r.id]++
		}
	}
	holders.Unlock()
	return func() error {
		var last List
		holders.Lock()
		for _, r := range l {
			if !r.shared() {
				last = append(last, r)
				continue
			}
			if holders.n[r.id]--; holders.n[r.id] == 0 {
				delete(holders.n, r.id)
				last = append(last, r)
			}
		}
		holders.Unlock()
		return last.closeAll()
	}
}

// CloseUnheld closes the resources of l that no one holds, and waits.
func (l List) CloseUnheld() error {
	var free List
	holders.Lock()
	for _, r := range l {
		if !r.shared() || holders.n[r.id] == 0 {
			free = append(free, r)
		}
	}
	holders.Unlock()
	return free.closeAll()
}

// closeAll closes l's resources, outside the lock of holders, and joins
// their errors.
func (l List) closeAll() error {
	var errs []error
	for _, r := range l {
		errs = append(errs, r.close())
	}
	return errors.Join(errs...)
}
