package clients

// Test hooks into the registry's internals, for package clients_test.

// HashChecks returns how many secrets Verify checked against a real entry.
func HashChecks(r *Registry) uint64 { return r.hashChecks.Load() }

// DummyChecks returns how many secrets Verify checked against the dummy hash.
func DummyChecks(r *Registry) uint64 { return r.dummyChecks.Load() }

// DummyParams describes the dummy hash's algorithm and parameters.
func DummyParams(r *Registry) string { return r.snap.Load().dummy.params() }

// DummyHash returns the dummy hash in its text form.
func DummyHash(r *Registry) string {
	d := r.snap.Load().dummy
	if d.alg == AlgBcrypt {
		return string(d.bcrypt)
	}
	return d.encode()
}

// OnWatching makes Watch call f once it has registered for SIGHUP. Call it
// before Watch starts.
func OnWatching(r *Registry, f func()) { r.watching = f }

// FillHashSlots takes every one of Verify's hash slots and returns a function
// that gives them back.
func FillHashSlots(r *Registry) (release func()) {
	n := cap(r.sem)
	for range n {
		r.sem <- struct{}{}
	}
	return func() {
		for range n {
			<-r.sem
		}
	}
}
