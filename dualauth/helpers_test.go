package dualauth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
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
func newAuthenticator(t testing.TB, edit func(*testConfig), issuers ...*keywardtest.Issuer) *dualauth.Authenticator {
	t.Helper()
	cfg := testConfig{Realm: "test"}
	for _, iss := range issuers {
		cfg.Issuers = append(cfg.Issuers, jwtauth.Issuer{
			Issuer:    iss.URL,
			Audiences: []string{iss.Audience},
			Keys:      remoteSet(t, iss),
		})
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := build(cfg)
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

// testConfig is the configuration of an Authenticator and of its two methods
// in one, as these tests write it; build splits it into the three
// packages' Configs.
type testConfig struct {
	Mode                  dualauth.Mode
	Realm                 string
	Issuers               []jwtauth.Issuer
	Algorithms            []string
	Leeway                time.Duration
	ScopeClaims           []string
	RequireType           string
	MaxTokenBytes         int
	TokenCache            jwtauth.TokenCache
	AuthenticatePreflight bool
	Now                   func() time.Time
	Logger                *slog.Logger
	Credentials           credentials
	MeterProvider         metric.MeterProvider
	TracerProvider        trace.TracerProvider
}

// credentials is the client-credentials part of a testConfig.
type credentials struct {
	ClientIDHeader, ClientSecretHeader string
	DisableBasic                       bool
	Verifier                           clientauth.Verifier
	Exchange                           *exchange.Client
	CacheTTL                           time.Duration
	Throttle                           clientauth.Throttle
	TrustedProxies                     []netip.Prefix
	ClientAddr                         func(r *http.Request) string
}

// split is c as the Configs of dualauth, jwtauth and clientauth.
func (c testConfig) split() keywardtest.Config {
	cr := c.Credentials
	return keywardtest.Config{
		Config: dualauth.Config{
			Mode: c.Mode, Realm: c.Realm, AuthenticatePreflight: c.AuthenticatePreflight,
			MeterProvider: c.MeterProvider, TracerProvider: c.TracerProvider,
			ClientIDHeader: cr.ClientIDHeader, ClientSecretHeader: cr.ClientSecretHeader, DisableBasic: cr.DisableBasic,
			TrustedProxies: cr.TrustedProxies, ClientAddr: cr.ClientAddr,
		},
		JWT: jwtauth.Config{
			Issuers: c.Issuers, Algorithms: c.Algorithms, Leeway: c.Leeway, ScopeClaims: c.ScopeClaims,
			RequireType: c.RequireType, MaxTokenBytes: c.MaxTokenBytes, TokenCache: c.TokenCache, Now: c.Now, Logger: c.Logger,
		},
		Clients: clientauth.Config{
			Verifier: cr.Verifier, Exchange: cr.Exchange, CacheTTL: cr.CacheTTL, Throttle: cr.Throttle, Now: c.Now, Logger: c.Logger,
		},
	}
}

// build builds the Authenticator c describes, with its methods.
func build(c testConfig) (*dualauth.Authenticator, error) { return c.split().Build() }

// authenticatorFor is keywardtest's Issuer.Authenticator for a config.
func authenticatorFor(tb testing.TB, iss *keywardtest.Issuer, edit func(*testConfig)) *dualauth.Authenticator {
	tb.Helper()
	kc := iss.Config(tb)
	c := testConfig{Realm: kc.Realm, Issuers: kc.JWT.Issuers}
	if edit != nil {
		edit(&c)
	}
	a, err := build(c)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}
