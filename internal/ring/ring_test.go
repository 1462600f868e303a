package ring

import "testing"

// TestRing: a ring fills up to its bound, then each Add pushes out the
// oldest item, in the order they were added.
func TestRing(t *testing.T) {
	r := New[int](3, 1)
	var pushed []int
	for i := range 7 {
		if out, ok := r.Add(i); ok {
			pushed = append(pushed, out)
		}
	}
	if len(pushed) != 4 || pushed[0] != 0 || pushed[3] != 3 {
		t.Fatalf("pushed out %v, want 0 1 2 3", pushed)
	}
	one := New[string](0, 0) // a bound below one is one
	one.Add("a")
	if out, ok := one.Add("b"); !ok || out != "a" {
		t.Fatalf("a ring of one: pushed %q %v", out, ok)
	}
}
