package jwtauth_test

import (
	"errors"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// TestValidate: every refusal is a *dualauth.ConfigError of package
// jwtauth naming the field at fault.
func TestValidate(t *testing.T) {
	iss := func(aud ...string) jwtauth.Issuer {
		return jwtauth.Issuer{Issuer: "https://auth.example.com", Audiences: aud}
	}
	for _, tt := range []struct {
		name  string
		cfg   jwtauth.Config
		field string
	}{
		{"no issuer", jwtauth.Config{}, "Issuers"},
		{"empty audience", jwtauth.Config{Issuers: []jwtauth.Issuer{iss("api", "")}}, "Issuers[0].Audiences[1]"},
		{"HMAC", jwtauth.Config{Issuers: []jwtauth.Issuer{iss("api")}, Algorithms: []string{"RS256", "ES256", "HS256"}}, "Algorithms[2]"},
		{"leeway", jwtauth.Config{Issuers: []jwtauth.Issuer{iss("api")}, Leeway: jwtauth.MaxLeeway + 1}, "Leeway"},
		{"cache bound", jwtauth.Config{Issuers: []jwtauth.Issuer{iss("api")}, TokenCache: jwtauth.TokenCache{MaxEntries: -1}}, "TokenCache.MaxEntries"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ce *dualauth.ConfigError
			err := tt.cfg.Validate()
			if !errors.As(err, &ce) || ce.Package != "jwtauth" || ce.Field != tt.field {
				t.Fatalf("Validate() = %v, want a jwtauth ConfigError for %s", err, tt.field)
			}
			if _, err := jwtauth.New(tt.cfg); !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("New: %v, want the error of Validate", err)
			}
		})
	}
	if err := (jwtauth.Config{Issuers: []jwtauth.Issuer{iss("api")}}).Validate(); err != nil {
		t.Fatalf("a good config: %v", err)
	}
}

// TestFailedNewClosesKeySets: a New that fails closes the key sets it took
// a share of (a second issuer has no key set here).
func TestFailedNewClosesKeySets(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	remote, err := jwks.NewRemote(t.Context(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remote.Close)
	_, err = jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{
		{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: remote},
		{Issuer: "https://other.example", Audiences: []string{"api"}},
	}})
	var ce *dualauth.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Issuers[1].Keys" {
		t.Fatalf("New: %v, want an error for Issuers[1].Keys", err)
	}
	if err := remote.Refresh(t.Context()); err == nil {
		t.Error("the key set still refreshes after New failed")
	}
}

// TestVerifierShares: two Verifiers over one key set share it: closing one
// leaves the other's refreshing; closing both stops it. Close is
// idempotent, and the Verifier answers with Principals of its own.
func TestVerifierShares(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	remote, err := jwks.NewRemote(t.Context(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remote.Close)
	cfg := jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: remote}}}
	first, err := jwtauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := jwtauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw := iss.Token(t, nil)
	p1, _, err := second.VerifyToken(t.Context(), raw, dualauth.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	p2, cached, err := second.VerifyToken(t.Context(), raw, dualauth.Origin{})
	if err != nil || !cached || p1 == p2 || p2.Method != dualauth.MethodJWT || p2.Issuer != iss.URL {
		t.Fatalf("second VerifyToken: %+v cached %v, %v; want a new Principal from the cache", p2, cached, err)
	}
	for range 2 {
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Refresh(t.Context()); err != nil {
		t.Fatalf("closing one Verifier stopped the other's key set: %v", err)
	}
	if set, ok := second.KeySet(iss.URL); !ok || set != jwks.Set(remote) {
		t.Errorf("KeySet = %v, %v", set, ok)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	if err := remote.Refresh(t.Context()); err == nil {
		t.Error("the key set refreshed after both Verifiers were closed")
	}
	_, _, err = second.VerifyToken(t.Context(), "not-a-token", dualauth.Origin{})
	var e *dualauth.Error
	if !errors.As(err, &e) || e.Code != dualauth.CodeInvalidToken || e.Status != 401 {
		t.Fatalf("a malformed token: %v, want a 401 invalid_token *dualauth.Error", err)
	}
}
