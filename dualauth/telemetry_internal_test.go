package dualauth

// SetStoreErrors lets the tests of package dualauth_test stand in for the
// Redis throttle store's error count (keyward.throttle.store_errors).
func SetStoreErrors(a *Authenticator, f func() uint64) { a.storeErrors = f }
