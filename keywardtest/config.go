package keywardtest

import (
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
)

// Config returns a dualauth.Config that trusts the issuer: its URL as iss,
// its Audience, and a jwks.Remote fetching its key set, stopped when the
// test ends and refreshed by Rotate. Change what you need before
// dualauth.New.
func (iss *Issuer) Config(tb testing.TB) dualauth.Config {
	tb.Helper()
	keys, err := jwks.NewRemote(tb.Context(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(keys.Close)
	iss.mu.Lock()
	iss.remotes = append(iss.remotes, keys)
	iss.mu.Unlock()
	return dualauth.Config{
		Realm:   "keyward-test",
		Issuers: []dualauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys}},
	}
}

// Authenticator returns an authenticator for Config(tb), after edit (if not
// nil) has changed the config, closed when the test ends.
func (iss *Issuer) Authenticator(tb testing.TB, edit func(*dualauth.Config)) *dualauth.Authenticator {
	tb.Helper()
	cfg := iss.Config(tb)
	if edit != nil {
		edit(&cfg)
	}
	a, err := dualauth.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}
