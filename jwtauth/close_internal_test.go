package jwtauth

import (
	"crypto/ed25519"
	"crypto/rand"
	"testing"

	"github.com/keyward/keyward/internal/jwtverify"
	"github.com/keyward/keyward/jwks"
)

// TestMaxLeewayIsTheMethods: the documented bound is the one enforced.
func TestMaxLeewayIsTheMethods(t *testing.T) {
	if MaxLeeway != jwtverify.MaxLeeway {
		t.Fatalf("MaxLeeway %v, but internal/jwtverify enforces %v", MaxLeeway, jwtverify.MaxLeeway)
	}
}

// errCloserSet is a key set of a user's own whose Close returns an error.
type errCloserSet struct {
	*jwks.Static
	closes int
}

func (s *errCloserSet) Close() error { s.closes++; return nil }

// TestKeySetWithCloseError: a key set with a Close() error method is held
// and closed like one with Close() (a *jwks.Remote).
func TestKeySetWithCloseError(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	static, err := jwks.NewStatic("k", pub)
	if err != nil {
		t.Fatal(err)
	}
	set := &errCloserSet{Static: static}
	v, err := New(Config{Issuers: []Issuer{{Issuer: "https://issuer.example", Audiences: []string{"api"}, Keys: set}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil || set.closes != 1 {
		t.Fatalf("Close = %v, the set closed %d times, want once", err, set.closes)
	}
}
