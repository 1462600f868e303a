package authserver_test

import (
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
)

func TestNewRefusesBadConfig(t *testing.T) {
	t.Parallel()
	reg := testRegistry(t)
	good := authserver.Config{Issuer: "http://127.0.0.1:9000", Audience: "bookings-api", Clients: reg}
	tests := []struct {
		name   string
		mutate func(*authserver.Config)
		want   string // in the error
	}{
		{"no issuer", func(c *authserver.Config) { c.Issuer = "" }, "Issuer is required"},
		{"relative issuer", func(c *authserver.Config) { c.Issuer = "127.0.0.1:9000" }, "Issuer"},
		{"ftp issuer", func(c *authserver.Config) { c.Issuer = "ftp://auth.example.com" }, "http:// or https://"},
		{"issuer without host", func(c *authserver.Config) { c.Issuer = "http:///x" }, "with a host"},
		{"trailing slash", func(c *authserver.Config) { c.Issuer = "http://127.0.0.1:9000/" }, "trailing slash"},
		{"issuer path", func(c *authserver.Config) { c.Issuer = "https://auth.example.com/tenant" }, "path"},
		{"issuer query", func(c *authserver.Config) { c.Issuer = "https://auth.example.com?x=1" }, "query"},
		{"issuer empty query", func(c *authserver.Config) { c.Issuer = "https://auth.example.com?" }, "query"},
		{"issuer fragment", func(c *authserver.Config) { c.Issuer = "https://auth.example.com#" }, "Issuer"},
		{"issuer user", func(c *authserver.Config) { c.Issuer = "https://u:p@auth.example.com" }, "user info"},
		{"issuer quote", func(c *authserver.Config) { c.Issuer = `https://auth"example.com` }, "Issuer"},
		{"no audience", func(c *authserver.Config) { c.Audience = " " }, "Audience is required"},
		{"no clients", func(c *authserver.Config) { c.Clients = nil }, "Clients is required"},
		{"HS256", func(c *authserver.Config) { c.Algorithm = "HS256" }, `"HS256" is not supported`},
		{"none", func(c *authserver.Config) { c.Algorithm = "none" }, "not supported"},
		{"lowercase alg", func(c *authserver.Config) { c.Algorithm = "rs256" }, "not supported"},
		{"TTL under 1s", func(c *authserver.Config) { c.TTL = time.Millisecond }, "TTL must be"},
		{"negative TTL", func(c *authserver.Config) { c.TTL = -time.Minute }, "TTL must be"},
		{"negative RefreshTTL", func(c *authserver.Config) { c.RefreshTTL = -1 }, "RefreshTTL must be"},
		{"RotateEvery under 1s", func(c *authserver.Config) { c.RotateEvery = time.Nanosecond }, "RotateEvery must be"},
		{"negative MaxRefreshTokens", func(c *authserver.Config) { c.MaxRefreshTokens = -1 }, "MaxRefreshTokens must be"},
		{"negative MaxRefreshTokensPerClient", func(c *authserver.Config) { c.MaxRefreshTokensPerClient = -1 }, "MaxRefreshTokensPerClient must be"},
		{"proxy prefix too long", func(c *authserver.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "10.0.0.0/33"} }, `TrustedProxies[1] "10.0.0.0/33"`},
		{"proxy host name", func(c *authserver.Config) { c.TrustedProxies = []string{"proxy.example.com"} }, "TrustedProxies[0]"},
		{"proxy with a zone", func(c *authserver.Config) { c.TrustedProxies = []string{"fe80::1%eth0"} }, "TrustedProxies[0]"},
		{"proxy with a port", func(c *authserver.Config) { c.TrustedProxies = []string{"10.0.0.1:8080"} }, "TrustedProxies[0]"},
		{"empty proxy", func(c *authserver.Config) { c.TrustedProxies = []string{""} }, "TrustedProxies[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.mutate(&cfg)
			s, err := authserver.New(cfg)
			if err == nil || s != nil {
				t.Fatalf("New = %v, %v; want an error", s, err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "authserver: ") {
				t.Errorf("error %q, want it to mention %q", err, tc.want)
			}
		})
	}
	for _, proxies := range [][]string{{"127.0.0.1"}, {"10.0.0.0/8", "::1", "2001:db8::/32"}, {"::ffff:10.0.0.0/104"}, {"10.1.2.3/8"}} {
		cfg := good
		cfg.TrustedProxies, cfg.Algorithm = proxies, "EdDSA"
		if _, err := authserver.New(cfg); err != nil {
			t.Errorf("TrustedProxies %q: %v", proxies, err)
		}
	}
	for _, issuer := range []string{"http://127.0.0.1:9000", "https://auth.example.com", "http://[::1]:9000", "http://localhost"} {
		cfg := good
		cfg.Issuer, cfg.Algorithm = issuer, "EdDSA"
		if _, err := authserver.New(cfg); err != nil {
			t.Errorf("issuer %s: %v", issuer, err)
		}
	}
}
