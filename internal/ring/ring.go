// Package ring bounds a cache by the order its entries were stored in: a
// Ring remembers up to a number of items, and once it is full each new
// item pushes out the one added longest ago, which the cache then drops
// (unless it was dropped or replaced since). The caches of verified JWTs
// and of introspection answers use it.
package ring

// Ring holds up to its bound of items in the order they were added. It is
// not safe for concurrent use: its owner locks.
type Ring[T any] struct {
	items []T
	next  int // once items is full, the slot the next item takes
	max   int
}

// New returns an empty Ring for up to bound items (at least one), with
// room made for up to prealloc of them at once.
func New[T any](bound, prealloc int) Ring[T] {
	bound = max(bound, 1)
	return Ring[T]{items: make([]T, 0, min(bound, prealloc)), max: bound}
}

// Add adds item and, when the ring was full, returns the item it pushed
// out.
func (r *Ring[T]) Add(item T) (out T, pushed bool) {
	if len(r.items) < r.max {
		r.items = append(r.items, item)
		return out, false
	}
	out = r.items[r.next]
	r.items[r.next] = item
	r.next = (r.next + 1) % r.max
	return out, true
}
