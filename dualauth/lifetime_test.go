package dualauth_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// The goroutines config.Load starts for a file with a remote key set and a
// clients file, by the function that starts them (the function they run
// shows only once they have been scheduled).
const (
	refresher = "created by github.com/keyward/keyward/jwks.start"
	watcher   = "created by github.com/keyward/keyward/config.watch"
)

// moduleFrame matches a stack frame in the module's own code, or the line
// naming it as a goroutine's creator; tests and test fixtures (keywardtest,
// which serves the key sets) aside.
var moduleFrame = regexp.MustCompile(`(?m)^(created by )?github\.com/keyward/keyward/(jwks|config|clients|dualauth|exchange|internal/[a-z/]+)\.`)

// moduleGoroutines returns the stacks of the goroutines running the
// module's code, by goroutine id.
func moduleGoroutines() map[string]string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := make(map[string]string)
	for _, g := range strings.Split(string(buf), "\n\n") {
		if moduleFrame.MatchString(g) {
			id, _, _ := strings.Cut(strings.TrimPrefix(g, "goroutine "), " ")
			stacks[id] = g
		}
	}
	return stacks
}

// started returns the stacks of the module's goroutines that were not
// running at before (a moduleGoroutines snapshot).
func started(before map[string]string) []string {
	var stacks []string
	for id, g := range moduleGoroutines() {
		if _, old := before[id]; !old {
			stacks = append(stacks, g)
		}
	}
	return stacks
}

// wantRunning fails t unless, for each of funcs, one goroutine started
// since before runs it: the leak check below sees what it is to catch.
func wantRunning(t *testing.T, before map[string]string, funcs ...string) {
	t.Helper()
	stacks := strings.Join(started(before), "\n\n")
	for _, f := range funcs {
		if !strings.Contains(stacks, f) {
			t.Fatalf("no goroutine runs %s; started since the test began:\n%s", f, stacks)
		}
	}
}

// wantNoLeak fails t if a goroutine of the module started since before is
// still running. A goroutine a Close waited for may be returning still, so
// the check is repeated, bounded, until none is left.
func wantNoLeak(t *testing.T, before map[string]string) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		left := started(before)
		if len(left) == 0 {
			return
		}
		select {
		case <-deadline.C:
			t.Fatalf("%d goroutines left running:\n%s", len(left), strings.Join(left, "\n\n"))
		case <-tick.C:
		}
	}
}

// loadFile writes a configuration file trusting iss through its JWKS URL
// and checking client credentials with a clients file, and loads it.
func loadFile(t *testing.T, iss *keywardtest.Issuer) dualauth.Config {
	t.Helper()
	dir := t.TempDir()
	clientsFile := registryFile(t, dir, testClients)
	path := filepath.Join(dir, "keyward.yaml")
	file := fmt.Sprintf("mode: dual\njwt:\n  issuers:\n    - issuer: %q\n      jwks_url: %q\n      audiences: [%q]\ncredentials:\n  clients_file: %q\n",
		iss.URL, iss.JWKSURL, iss.Audience, clientsFile)
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(context.Background(), path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// remoteOf returns the key set of cfg's only issuer.
func remoteOf(t *testing.T, cfg dualauth.Config) *jwks.Remote {
	t.Helper()
	tokens, ok := cfg.Tokens.(*jwtauth.Verifier)
	if !ok {
		t.Fatalf("Tokens %T, want a *jwtauth.Verifier", cfg.Tokens)
	}
	status := tokens.KeyStatus()
	if len(status) != 1 {
		t.Fatalf("%d issuers, want 1", len(status))
	}
	for issuer := range status {
		set, _ := tokens.KeySet(issuer)
		if remote, ok := set.(*jwks.Remote); ok {
			return remote
		}
		t.Fatalf("key set %T, want *jwks.Remote", set)
	}
	return nil
}

// TestConfigCloseWithoutNew: what config.Load started stops with the
// Config's Close when no Authenticator is built, and Close waits for it;
// after New, the Config's Close leaves the Authenticator's key refreshes
// and clients file watcher running, until the Authenticator is closed.
func TestConfigCloseWithoutNew(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	for _, withNew := range []bool{false, true} {
		t.Run(fmt.Sprintf("New=%v", withNew), func(t *testing.T) {
			before := moduleGoroutines()
			cfg := loadFile(t, iss)
			remote := remoteOf(t, cfg)
			wantRunning(t, before, refresher, watcher)
			var a *dualauth.Authenticator
			if withNew {
				var err error
				if a, err = dualauth.New(cfg); err != nil {
					t.Fatal(err)
				}
			}
			if err := cfg.Close(); err != nil {
				t.Fatal(err)
			}
			if withNew {
				if err := remote.Refresh(t.Context()); err != nil {
					t.Fatalf("the Config's Close stopped the Authenticator's refreshes: %v", err)
				}
				wantRunning(t, before, refresher, watcher)
				if err := a.Close(); err != nil {
					t.Fatal(err)
				}
			}
			if err := remote.Refresh(t.Context()); err == nil {
				t.Error("the key set refreshed after Close")
			}
			wantNoLeak(t, before)
		})
	}
}

// TestFailedNewLeavesNoGoroutine: when New fails on a Config from
// config.Load, it stops what Load started (key refreshes, the clients file
// watcher) before it returns, whatever step failed. (A key set missing
// fails jwtauth.New, inside config.Load: see jwtauth's TestFailedNewClosesKeySets.)
func TestFailedNewLeavesNoGoroutine(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	// An SDK view summing gauges fails New's gauges: a sum is no gauge's
	// aggregation.
	badView := sdkmetric.NewView(sdkmetric.Instrument{Kind: sdkmetric.InstrumentKindObservableGauge},
		sdkmetric.Stream{Aggregation: sdkmetric.AggregationSum{}})
	for _, tc := range []struct {
		name string
		edit func(*dualauth.Config)
		want string
	}{
		{"invalid config", func(c *dualauth.Config) { c.Realm = `"api"` }, "Realm"},
		{"invalid header", func(c *dualauth.Config) { c.ClientIDHeader = "Authorization" }, "ClientIDHeader"},
		{"telemetry", func(c *dualauth.Config) {
			c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()), sdkmetric.WithView(badView))
		}, "telemetry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := moduleGoroutines()
			cfg := loadFile(t, iss)
			remote := remoteOf(t, cfg)
			wantRunning(t, before, refresher, watcher)
			tc.edit(&cfg)
			a, err := dualauth.New(cfg)
			if err == nil {
				_ = a.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error about %s", err, tc.want)
			}
			if err := remote.Refresh(t.Context()); err == nil {
				t.Error("the key set still refreshes after New failed")
			}
			wantNoLeak(t, before)
		})
	}
}

// TestAuthenticatorsShareKeySets: two Authenticators built from one Config
// share its key set and clients file watcher: closing one, or a third New
// failing on the same Config, leaves the other refreshing its keys from the
// key server; closing both stops everything.
func TestAuthenticatorsShareKeySets(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	before := moduleGoroutines()
	cfg := loadFile(t, iss)
	remote := remoteOf(t, cfg)
	first, err := dualauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	second, err := dualauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	bad := cfg
	bad.Realm = `"api"`
	if _, err := dualauth.New(bad); err == nil {
		t.Fatal("New succeeded with a quoted realm")
	}
	for round := range 2 {
		fetches, refreshes := iss.Fetches(), second.KeyStatus()[iss.URL].Refreshes
		if err := remote.Refresh(t.Context()); err != nil {
			t.Fatalf("round %d: the remaining Authenticator's key set does not refresh: %v", round, err)
		}
		if n := iss.Fetches() - fetches; n != 1 {
			t.Errorf("round %d: %d fetches from the key server, want 1", round, n)
		}
		if n := second.KeyStatus()[iss.URL].Refreshes - refreshes; n != 1 {
			t.Errorf("round %d: Status.Refreshes grew by %d, want 1", round, n)
		}
	}
	wantRunning(t, before, refresher, watcher)
	if _, err := second.Verify(t.Context(), iss.Token(t, nil), ""); err != nil {
		t.Fatal(err)
	}
	if err := second.Close(); err != nil {
		t.Fatal(err)
	}
	if err := remote.Refresh(t.Context()); err == nil {
		t.Error("the key set refreshed after both Authenticators were closed")
	}
	wantNoLeak(t, before)
}
