package authserver_test

import (
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
)

// TestDisabledWhileVerifying: a client that a registry reload disables
// while its secret is being checked gets no token, whatever the grant; nor
// does one that the reload removes.
func TestDisabledWhileVerifying(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		reload func(f *writableRegistry)
	}{
		{"disabled", func(f *writableRegistry) { f.disabled["globex"] = true }},
		{"removed", func(f *writableRegistry) { f.entries = f.entries[1:] }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			file := newWritableRegistry(t, testClient{"globex", "globex-secret", []string{"bookings:read"}},
				testClient{"hooli", "hooli-secret", []string{"bookings:read"}})
			reg := openRegistry(t, file.write(t))
			var once sync.Once
			ts := startWith(t, func(c *authserver.Config) { c.Algorithm = "ES256"; c.Clients = reg },
				func(cfg authserver.Config) (*authserver.Server, error) {
					return authserver.NewWithVerifyHook(cfg, func(id string) {
						if id != "globex" {
							return
						}
						once.Do(func() { // the secret matched; now the reload lands
							tc.reload(file)
							file.write(t)
							if err := reg.Reload(); err != nil {
								t.Error(err)
							}
						})
					})
				})
			rt := ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"hooli", "hooli-secret"},
				form: formOf("grant_type", "client_credentials")}).str("refresh_token")
			for _, req := range []request{
				{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: formOf("grant_type", "client_credentials")},
				{path: authserver.PathConnectToken, form: formOf("grant_type", "client_credentials", "response_type", "token", "client_id", "globex", "client_secret", "globex-secret")},
			} {
				checkError(t, ts.do(t, req), http.StatusUnauthorized, "invalid_client")
			}
			// Another client is unaffected.
			ts.mustToken(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt)})
		})
	}
}

// TestDisabledWhileRefreshing: the same during an authenticated refresh;
// the refresh token is not used up by the refusal, but the client's tokens
// are refused from then on.
func TestDisabledWhileRefreshing(t *testing.T) {
	t.Parallel()
	file := newWritableRegistry(t, testClient{"globex", "globex-secret", []string{"bookings:read"}})
	reg := openRegistry(t, file.write(t))
	var armed sync.Once
	var arm atomic.Bool
	ts := startWith(t, func(c *authserver.Config) { c.Algorithm = "ES256"; c.Clients = reg },
		func(cfg authserver.Config) (*authserver.Server, error) {
			return authserver.NewWithVerifyHook(cfg, func(string) {
				if !arm.Load() {
					return
				}
				armed.Do(func() {
					file.disabled["globex"] = true
					file.write(t)
					if err := reg.Reload(); err != nil {
						t.Error(err)
					}
				})
			})
		})
	rt := ts.globexToken(t).str("refresh_token")
	ts.Clock.Add(6 * time.Minute) // past the verified pair's caching: the next request checks the secret
	arm.Store(true)
	checkError(t, ts.refresh(t, rt), http.StatusUnauthorized, "invalid_client")
	checkError(t, ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt)}),
		http.StatusBadRequest, "invalid_grant")
}
