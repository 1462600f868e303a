package dualauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/keywardtest"
)

// remoteSet returns a key set that fetches iss's JWKS over loopback.
func remoteSet(t testing.TB, iss *keywardtest.Issuer) *jwks.Remote {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	set, err := jwks.NewRemote(ctx, iss.JWKSURL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Close)
	return set
}

// newAuthenticator trusts the given issuers (each with its default audience)
// and applies edit to the config before building it.
func newAuthenticator(t testing.TB, edit func(*dualauth.Config), issuers ...*keywardtest.Issuer) *dualauth.Authenticator {
	t.Helper()
	cfg := dualauth.Config{Realm: "test"}
	for _, iss := range issuers {
		cfg.Issuers = append(cfg.Issuers, dualauth.Issuer{
			Issuer:    iss.URL,
			Audiences: []string{iss.Audience},
			Keys:      remoteSet(t, iss),
		})
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := dualauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// asError unwraps err as a *dualauth.Error or fails the test.
func asError(t *testing.T, err error) *dualauth.Error {
	t.Helper()
	var e *dualauth.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *dualauth.Error", err, err)
	}
	return e
}

// noCredentials reports whether err says the request carried no
// credentials the authenticator accepts.
func noCredentials(err error) bool {
	var e *dualauth.Error
	return errors.As(err, &e) && e.Code == "" && e.Status == 401
}
