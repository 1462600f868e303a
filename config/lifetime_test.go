package config_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/keywardtest"
)

// TestConfigChecksBeforeFetching: a file dualauth refuses fails before any
// key set is fetched or the clients file is read.
func TestConfigChecksBeforeFetching(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &config.File{
		Mode:  dualauth.ModeDual,
		Realm: `bookings "api"`,
		JWT:   config.JWT{Issuers: []config.Issuer{{Issuer: iss.URL, JWKSURL: iss.JWKSURL, Audiences: []string{iss.Audience}}}},
		Credentials: &config.Credentials{
			ClientsFile: filepath.Join(t.TempDir(), "missing.yaml"),
		},
	}
	before := iss.Fetches()
	_, err := f.Config(ctx, config.Options{})
	wantErr(t, err, "config: realm: may not contain quotes")
	var ce *dualauth.ConfigError
	if !errors.As(err, &ce) || ce.Field != "Realm" {
		t.Errorf("error %v does not wrap dualauth's ConfigError for Realm", err)
	}
	if n := iss.Fetches() - before; n != 0 {
		t.Errorf("%d key set fetches before the file was refused", n)
	}
}

// TestConfigClose: what Config started stops when the Authenticator built
// from it is closed, and Close waits for it.
func TestConfigClose(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	path := copySample(t, "dual.yaml", "http://127.0.0.1:9000", iss.URL, "[bookings-api]", "[bookings-api, "+iss.Audience+"]")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.LoadParts(ctx, path, config.Options{ReloadOnSIGHUP: true})
	if err != nil {
		t.Fatal(err)
	}
	remote, ok := cfg.JWT.Issuers[0].Keys.(*jwks.Remote)
	if !ok {
		t.Fatalf("key set %T, want *jwks.Remote", cfg.JWT.Issuers[0].Keys)
	}
	watcher, ok := cfg.Clients.Verifier.(interface{ Close() error })
	if !ok {
		t.Fatalf("verifier %T has no Close method", cfg.Clients.Verifier)
	}
	a, err := dualauth.New(cfg.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Refresh(ctx); err != nil {
		t.Fatalf("refresh while running: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := remote.Refresh(ctx); err == nil {
		t.Error("the key set refreshed after Close")
	}
	if err := watcher.Close(); err != nil {
		t.Errorf("a second Close: %v", err)
	}
	// Requests are still verified with what is held.
	wantCaller(t, a, headerRequest("acme", "acme-secret"), dualauth.MethodCredentials, "acme")
	if _, err := a.Verify(ctx, iss.Token(t, nil), ""); err != nil {
		t.Errorf("token after Close: %v", err)
	}
}

// TestConfigContextStopsWatcher: the end of Config's context stops the
// clients file watcher too; Close then has nothing left to wait for.
func TestConfigContextStopsWatcher(t *testing.T) {
	abs, err := filepath.Abs(testClientsFile)
	if err != nil {
		t.Fatal(err)
	}
	f := &config.File{Mode: dualauth.ModeCredentials, Credentials: &config.Credentials{ClientsFile: abs}}
	ctx, cancel := context.WithCancel(context.Background())
	cfg, err := config.ConfigParts(ctx, f, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	closed := make(chan error)
	go func() { closed <- cfg.Clients.Verifier.(interface{ Close() error }).Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Error(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return after the context ended")
	}
}

// TestConfigCloseGuard: the Guard Config builds for an introspecting
// issuer, on credentials.throttle.redis, is closed with the Authenticator
// (jwtauth.New takes it over): before Close it counts in Redis, after it
// cannot (503), and Close waits for nothing of it.
func TestConfigCloseGuard(t *testing.T) {
	redis := testredis.Start(t, false)
	iss := keywardtest.NewIssuer(t)
	dir := t.TempDir()
	writeSecret(t, dir, "rs.secret", "rs-secret\n")
	path := writeConfig(t, dir, introspectionFile(iss, "http://127.0.0.1:1/introspect", "rs.secret", "")+
		"credentials:\n  throttle:\n    redis: {url: \""+redis.URL()+"\"}\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg, err := config.LoadParts(ctx, path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	guard, ok := cfg.JWT.Throttle.(*clientauth.Guard)
	if !ok {
		t.Fatalf("jwtauth.Config.Throttle is %T, want a *clientauth.Guard", cfg.JWT.Throttle)
	}
	a, err := dualauth.New(cfg.Config)
	if err != nil {
		t.Fatal(err)
	}
	done, err := guard.Admit(ctx, "198.51.100.1")
	if err != nil {
		t.Fatalf("Admit before Close: %v", err)
	}
	done(false)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	done, err = guard.Admit(ctx, "198.51.100.1")
	var e *dualauth.Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable {
		if done != nil {
			done(false)
		}
		t.Errorf("Admit after the Authenticator's Close: %v; want 503, the Redis store closed", err)
	}
}
