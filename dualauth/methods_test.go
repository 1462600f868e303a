package dualauth_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/scopes"
)

// liarTokens and liarClients are methods of a user's own that write the
// other method into their Principals.
type liarTokens struct{}

func (liarTokens) VerifyToken(context.Context, string, dualauth.Origin) (*dualauth.Principal, bool, error) {
	p := dualauth.NewPrincipal(dualauth.MethodCredentials, "")
	p.Scopes = scopes.Set{"admin"}
	return p, false, nil
}

type liarClients struct{}

func (liarClients) CheckClient(context.Context, string, string, string) (*dualauth.Principal, bool, error) {
	p := dualauth.NewPrincipal(dualauth.MethodJWT, "")
	p.Scopes = scopes.Set{"admin"}
	return p, false, nil
}

// TestCoreSetsTheMethod: the core, not the method, says how a caller
// authenticated, so that a route taking one method never lets in a caller
// of the other on a method's word (a ClientChecker writing MethodJWT got
// client-credential callers through JWT-only routes).
func TestCoreSetsTheMethod(t *testing.T) {
	a, err := dualauth.New(dualauth.Config{Mode: dualauth.ModeDual, Tokens: liarTokens{}, Clients: liarClients{}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, tt := range []struct {
		name   string
		header [2]string
		method dualauth.Method
		other  dualauth.Mode // the mode that must refuse the caller
	}{
		{"client headers", [2]string{"client_id", "c"}, dualauth.MethodCredentials, dualauth.ModeJWT},
		{"bearer", [2]string{"Authorization", "Bearer abc"}, dualauth.MethodJWT, dualauth.ModeCredentials},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.Header.Set(tt.header[0], tt.header[1])
			r.Header.Set("client_secret", "s")
			if tt.method == dualauth.MethodJWT {
				r.Header.Del("client_secret")
			}
			p, err := a.Authenticate(r)
			if err != nil || p.Method != tt.method {
				t.Fatalf("Authenticate = %+v, %v; want method %s", p, err, tt.method)
			}
			view, err := a.ForMode(tt.other)
			if err != nil {
				t.Fatal(err)
			}
			r = r.WithContext(dualauth.NewContext(r.Context(), p))
			if _, err := view.Authorize(r, scopes.All("admin")); err == nil {
				t.Fatalf("a %s-only view let a %s caller in", tt.other, tt.method)
			}
		})
	}
}

// TestNilMethodPointer: a nil *jwtauth.Verifier (as a failed jwtauth.New
// returns) is a ConfigError from New, not a panic.
func TestNilMethodPointer(t *testing.T) {
	var tokens *jwtauth.Verifier
	_, err := dualauth.New(dualauth.Config{Tokens: tokens})
	var ce *dualauth.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Tokens" {
		t.Fatalf("New with a nil *jwtauth.Verifier = %v, want a ConfigError for Tokens", err)
	}
}

// addrTokens records the address each call's Origin gives.
type addrTokens struct{ addrs chan string }

func (t addrTokens) VerifyToken(_ context.Context, _ string, from dualauth.Origin) (*dualauth.Principal, bool, error) {
	t.addrs <- from.Addr()
	return dualauth.NewPrincipal(dualauth.MethodJWT, ""), false, nil
}

// TestOriginAddr: a token verifier is told the caller's address as failed
// client credentials are counted, in jwt mode too (where no client checker
// is configured): through a trusted proxy the forwarded address, IPv6 by
// its /64; from anyone else the peer, whatever it forwards; and for
// Verify, the remote address given.
func TestOriginAddr(t *testing.T) {
	tokens := addrTokens{make(chan string, 1)}
	a, err := dualauth.New(dualauth.Config{Tokens: tokens, TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for _, tt := range []struct{ peer, forwarded, want string }{
		{"10.1.2.3:5000", "203.0.113.7", "203.0.113.7"},
		{"10.1.2.3:5000", "2001:db8:1:2:3::9", "2001:db8:1:2::/64"},
		{"192.0.2.1:5000", "203.0.113.7", "192.0.2.1"},
		{"[2001:db8:5:6:7::1]:443", "", "2001:db8:5:6::/64"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tt.peer
		if tt.forwarded != "" {
			r.Header.Set("X-Forwarded-For", tt.forwarded)
		}
		r.Header.Set("Authorization", "Bearer opaque-token")
		if _, err := a.Authenticate(r); err != nil {
			t.Fatal(err)
		}
		if got := <-tokens.addrs; got != tt.want {
			t.Errorf("peer %s forwarding %q: Addr() = %q, want %q", tt.peer, tt.forwarded, got, tt.want)
		}
	}
	if _, err := a.Verify(t.Context(), "opaque-token", "198.51.100.4:1234"); err != nil {
		t.Fatal(err)
	}
	if got := <-tokens.addrs; got != "198.51.100.4" {
		t.Errorf("Verify: Addr() = %q, want 198.51.100.4", got)
	}
}
