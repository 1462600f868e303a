package keywardtest

import (
	"context"
	"errors"
	"testing"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/shares"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
)

// Config is what an Authenticator is built from, one configuration per
// package: the core's (embedded: Mode, Realm, MeterProvider…), the JWT
// method's and the client-credentials method's. Build builds them in that
// order.
type Config struct {
	dualauth.Config
	// JWT configures the Bearer JWT method (Config.Tokens).
	JWT jwtauth.Config
	// Clients configures the client-credentials method (Config.Clients),
	// built when it sets a Verifier or an Exchange. Its Tokens, if nil,
	// is the JWT method.
	Clients clientauth.Config
}

// Validate checks the method configurations c would build (the core's
// is checked by Build, once the methods it names exist). It shadows the
// embedded dualauth.Config's, which would ask for Tokens and Clients that
// only Build makes.
func (c Config) Validate() error {
	if len(c.JWT.Issuers) > 0 {
		if err := c.JWT.Validate(); err != nil {
			return err
		}
	}
	if c.Clients.Verifier != nil || c.Clients.Exchange != nil {
		cc := c.Clients
		if cc.Tokens == nil && len(c.JWT.Issuers) > 0 {
			cc.Tokens = stand{} // Build sets the JWT method here
		}
		return cc.Validate()
	}
	return nil
}

// stand stands for the JWT method Build will make, for Validate.
type stand struct{}

func (stand) VerifyToken(context.Context, string, dualauth.Origin) (*dualauth.Principal, bool, error) {
	return nil, false, errors.New("keywardtest: not built")
}

// Close closes the key sets of c.JWT that have a Close method and that no
// Authenticator built from c holds, as dualauth.Config.Close does for
// built methods; it shadows the embedded Config's, which holds none. (The
// key sets Issuer.Config makes also stop when the test ends.)
func (c Config) Close() error {
	var l shares.List
	for _, iss := range c.JWT.Issuers {
		if k, ok := iss.Keys.(interface{ Close() }); ok {
			l = l.Add(k, func() error { k.Close(); return nil })
		}
	}
	return l.CloseUnheld()
}

// Build builds the methods c configures (the JWT method when JWT has
// issuers, the client-credentials one when Clients has a Verifier or an
// Exchange), sets them as Tokens and Clients, and returns the
// Authenticator. If it fails, it closes what it built.
func (c Config) Build() (*dualauth.Authenticator, error) {
	cfg := c.Config
	var built []interface{ Close() error }
	fail := func(err error) (*dualauth.Authenticator, error) {
		for _, m := range built {
			err = errors.Join(err, m.Close())
		}
		return nil, err
	}
	if len(c.JWT.Issuers) > 0 {
		tokens, err := jwtauth.New(c.JWT)
		if err != nil {
			return fail(err)
		}
		cfg.Tokens = tokens
		built = append(built, tokens)
	}
	if c.Clients.Verifier != nil || c.Clients.Exchange != nil {
		cc := c.Clients
		if cc.Tokens == nil && cfg.Tokens != nil {
			cc.Tokens = cfg.Tokens
		}
		clients, err := clientauth.New(cc)
		if err != nil {
			return fail(err)
		}
		cfg.Clients = clients
		built = append(built, clients)
	}
	return dualauth.New(cfg) // which closes the methods if it fails
}

// Config returns the configuration of an Authenticator that trusts the
// issuer: its URL as iss, its Audience, and a jwks.Remote fetching its key
// set, stopped when the test ends and refreshed by Rotate. Change what you
// need before Build.
func (iss *Issuer) Config(tb testing.TB) Config {
	tb.Helper()
	keys, err := jwks.NewRemote(tb.Context(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(keys.Close)
	iss.mu.Lock()
	iss.remotes = append(iss.remotes, keys)
	iss.mu.Unlock()
	return Config{
		Config: dualauth.Config{Realm: "keyward-test"},
		JWT:    jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: keys}}},
	}
}

// Authenticator returns an authenticator for Config(tb), after edit (if not
// nil) has changed the config, closed when the test ends.
func (iss *Issuer) Authenticator(tb testing.TB, edit func(*Config)) *dualauth.Authenticator {
	tb.Helper()
	cfg := iss.Config(tb)
	if edit != nil {
		edit(&cfg)
	}
	a, err := cfg.Build()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = a.Close() })
	return a
}
