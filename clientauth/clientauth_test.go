package clientauth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
)

// verifier knows one client, acme / s3cret, and counts its checks and
// closes.
type verifier struct{ checks, closes atomic.Int32 }

func (v *verifier) VerifyClient(_ context.Context, id, secret string) (*dualauth.Principal, error) {
	v.checks.Add(1)
	if id != "acme" || secret != "s3cret" {
		return nil, dualauth.ErrInvalidClient
	}
	p := dualauth.NewPrincipal(dualauth.MethodJWT, "") // the Checker marks it as credentials
	p.Subject, p.ClientID = id, id
	return p, nil
}

func (v *verifier) Close() error { v.closes.Add(1); return nil }

// TestValidate: every refusal is a *dualauth.ConfigError of package
// clientauth naming the field at fault, and New refuses the same.
func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		name  string
		cfg   clientauth.Config
		field string
	}{
		{"neither", clientauth.Config{}, "Verifier"},
		{"both", clientauth.Config{Verifier: &verifier{}, Exchange: &exchange.Client{TokenURL: "https://a.example/token"}}, "Exchange"},
		{"exchange without tokens", clientauth.Config{Exchange: &exchange.Client{TokenURL: "https://a.example/token"}}, "Tokens"},
		{"budget", clientauth.Config{Verifier: &verifier{}, Throttle: clientauth.Throttle{Window: -1}}, "Throttle.Window"},
		{"redis timeout", clientauth.Config{Verifier: &verifier{}, Throttle: clientauth.Throttle{Redis: &clientauth.RedisThrottle{URL: "redis://127.0.0.1:1", Timeout: -1}}}, "Throttle.Redis.Timeout"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var ce *dualauth.ConfigError
			if err := tt.cfg.Validate(); !errors.As(err, &ce) || ce.Package != "clientauth" || ce.Field != tt.field {
				t.Fatalf("Validate() = %v, want a clientauth ConfigError for %s", err, tt.field)
			}
			if _, err := clientauth.New(tt.cfg); !errors.As(err, &ce) || ce.Field != tt.field {
				t.Fatalf("New: %v, want the error of Validate", err)
			}
		})
	}
}

// TestChecker: a good pair is the caller, marked as client credentials,
// and cached; a bad one is a 401 invalid_client *dualauth.Error; the
// Verifier is closed once, with the last Checker that holds it, and by a
// New that fails.
func TestChecker(t *testing.T) {
	v := &verifier{}
	first, err := clientauth.New(clientauth.Config{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	second, err := clientauth.New(clientauth.Config{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i, wantCached := range []bool{false, true} {
		p, cached, err := first.CheckClient(ctx, "acme", "s3cret", "192.0.2.1")
		if err != nil || p.Method != dualauth.MethodCredentials || p.ClientID != "acme" || cached != wantCached {
			t.Fatalf("check %d: %+v cached %v, %v", i, p, cached, err)
		}
	}
	_, _, err = first.CheckClient(ctx, "acme", "wrong", "192.0.2.1")
	var e *dualauth.Error
	if !errors.As(err, &e) || e.Code != dualauth.CodeInvalidClient || e.Status != 401 || !errors.Is(err, dualauth.ErrInvalidClient) {
		t.Fatalf("a wrong secret: %v, want a 401 invalid_client *dualauth.Error", err)
	}
	if n := v.checks.Load(); n != 2 {
		t.Errorf("%d checks reached the verifier, want 2 (one answered from the cache)", n)
	}
	for range 2 {
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if n := v.closes.Load(); n != 0 {
		t.Fatalf("verifier closed %d times while the second Checker holds it", n)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	if n := v.closes.Load(); n != 1 {
		t.Fatalf("verifier closed %d times after both Checkers, want 1", n)
	}
	failed := &verifier{}
	if _, err := clientauth.New(clientauth.Config{Verifier: failed, CacheTTL: 1, Throttle: clientauth.Throttle{MaxAddrFailures: -1}}); err == nil {
		t.Fatal("New accepted a negative budget")
	}
	if n := failed.closes.Load(); n != 1 {
		t.Fatalf("a failed New closed the verifier %d times, want 1", n)
	}
}

// closingTokens is a token verifier that counts its closes.
type closingTokens struct{ closes atomic.Int32 }

func (*closingTokens) VerifyToken(context.Context, string, dualauth.Origin) (*dualauth.Principal, bool, error) {
	return nil, false, &dualauth.Error{Code: dualauth.CodeInvalidToken}
}
func (t *closingTokens) Close() error { t.closes.Add(1); return nil }

// TestExchangeHoldsItsTokens: a Checker with an Exchange takes a share of
// the Tokens it verifies through, so that an exchange-only Authenticator
// closes them when it is closed, and closing another holder first does not.
func TestExchangeHoldsItsTokens(t *testing.T) {
	tokens := &closingTokens{}
	checker, err := clientauth.New(clientauth.Config{Exchange: &exchange.Client{TokenURL: "https://a.example/token"}, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	other, err := dualauth.New(dualauth.Config{Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	a, err := dualauth.New(dualauth.Config{Mode: dualauth.ModeCredentials, Clients: checker})
	if err != nil {
		t.Fatal(err)
	}
	_ = other.Close()
	if n := tokens.closes.Load(); n != 0 {
		t.Fatalf("closing another Authenticator closed the exchange's Tokens (%d closes)", n)
	}
	_ = a.Close()
	if n := tokens.closes.Load(); n != 1 {
		t.Fatalf("after the last holder: %d closes of the Tokens, want 1", n)
	}
}
