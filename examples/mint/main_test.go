package main

import (
	"context"
	"testing"
	"time"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
)

// TestQuickStartTokenVerifies checks the README quick start: a token from
// mint's defaults is accepted by a server using testdata/config/quickstart.yaml.
func TestQuickStartTokenVerifies(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.Load(ctx, "../../testdata/config/quickstart.yaml", config.Options{ReloadOnSIGHUP: true})
	if err != nil {
		t.Fatal(err)
	}
	authn, err := dualauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer authn.Close()
	token, err := mint("../../testdata/keys/quickstart_private.pem", "https://issuer.quickstart.test", "bookings-api", "qs", "bookings:read", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	p, err := authn.Verify(ctx, token, "")
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if p.ClientID != "qs" || !p.Scopes.Has("bookings:read") {
		t.Fatalf("principal = %+v", p)
	}
}
