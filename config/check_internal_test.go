package config

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// TestFileKey maps every field path dualauth.ConfigError may name to the key
// of the file it comes from.
func TestFileKey(t *testing.T) {
	for field, want := range map[string]string{
		"Mode":                                       "mode",
		"Realm":                                      "realm",
		"Issuers":                                    "jwt.issuers",
		"Issuers[0].Issuer":                          "jwt.issuers[0].issuer",
		"Issuers[3].Audiences":                       "jwt.issuers[3].audiences",
		"Issuers[0].Audiences[12]":                   "jwt.issuers[0].audiences[12]",
		"Issuers[2].Keys":                            "jwt.issuers[2]",
		"Algorithms[2]":                              "jwt.algorithms[2]",
		"Leeway":                                     "jwt.leeway",
		"ScopeClaims[1]":                             "jwt.scope_claims[1]",
		"RequireType":                                "jwt.require_type",
		"MaxTokenBytes":                              "jwt.max_token_bytes",
		"DPoP":                                       "jwt.dpop",
		"DPoP.Required":                              "jwt.dpop.mode",
		"DPoP.MaxAge":                                "jwt.dpop.max_age",
		"DPoP.Nonces":                                "jwt.dpop.nonce",
		"DPoP.NonceSecret":                           "jwt.dpop.nonce_secret_file",
		"DPoP.NonceWindow":                           "jwt.dpop",
		"DPoP.Algorithms[1]":                         "jwt.dpop",
		"CertificateBound":                           "jwt.certificate_bound",
		"CertificateBound.Header":                    "jwt.certificate_bound.header",
		"Credentials":                                "credentials",
		"Credentials.ClientIDHeader":                 "credentials.client_id_header",
		"Credentials.ClientSecretHeader":             "credentials.client_secret_header",
		"Credentials.DisableBasic":                   "credentials.basic",
		"Credentials.Verifier":                       "credentials.clients_file",
		"Credentials.CacheTTL":                       "credentials.cache_ttl",
		"Credentials.Throttle.MaxClientFailures":     "credentials.throttle.max_client_failures",
		"Credentials.Throttle.MaxAddrFailures":       "credentials.throttle.max_address_failures",
		"Credentials.Throttle.Window":                "credentials.throttle.window",
		"Credentials.Exchange":                       "credentials.exchange",
		"Credentials.Exchange.MaxBytes":              "credentials.exchange",
		"Credentials.Exchange.TokenURL":              "credentials.exchange.token_url",
		"Credentials.Exchange.Params.resource":       "credentials.exchange.params.resource",
		"Credentials.TrustedProxies":                 "credentials.trusted_proxies",
		"Issuers[1].Introspection":                   "jwt.issuers[1].introspection",
		"Issuers[1].Introspection.Endpoint":          "jwt.issuers[1].introspection.endpoint",
		"Issuers[0].Introspection.ClientSecret":      "jwt.issuers[0].introspection.client_secret_file",
		"Issuers[2].Introspection.TokenPrefix":       "jwt.issuers[2].introspection.token_prefix",
		"Issuers[0].Introspection.Cache.NegativeTTL": "jwt.issuers[0].introspection.cache.negative_ttl",
		"Issuers[0].Introspection.Cache.Disabled":    "jwt.issuers[0].introspection.cache.enabled",
		"Issuers[0].Introspection.HTTPClient":        "jwt.issuers[0].introspection",
		"Throttle":                                   "credentials.throttle",
		"Now":                                        "",
	} {
		if got := fileKey(field); got != want {
			t.Errorf("fileKey(%q) = %q; want %q", field, got, want)
		}
	}
}

// TestFileReason: fields a reason names become keys of the file.
func TestFileReason(t *testing.T) {
	for reason, want := range map[string]string{
		`"x" is already configured in Issuers[0]`:                  `"x" is already configured in jwt.issuers[0]`,
		`see Issuers[1].Audiences[0] and Issuers[2]`:               `see jwt.issuers[1].audiences[0] and jwt.issuers[2]`,
		`an audience may not be empty`:                             `an audience may not be empty`,
		`MyIssuers[0] is not a field`:                              `MyIssuers[0] is not a field`,
		`unknown mode "` + strings.Repeat("x", 50) + `" (use jwt)`: `unknown mode "` + strings.Repeat("x", 40) + `…" (use jwt)`,
		`"a\"b" is not "c"`:                                        `"a\"b" is not "c"`,
		`"at_" is also Issuers[0].Introspection.TokenPrefix`:       `"at_" is also jwt.issuers[0].introspection.token_prefix`,
	} {
		if got := fileReason(reason); got != want {
			t.Errorf("fileReason(%q) = %q; want %q", reason, got, want)
		}
	}
}

// TestConfigProxiesAndPreflight: credentials.trusted_proxies and
// cors_preflight reach dualauth.Config.
func TestConfigProxiesAndPreflight(t *testing.T) {
	f, err := Parse([]byte("mode: credentials\ncors_preflight: authenticate\ncredentials:\n  clients_file: c.yaml\n  trusted_proxies: [10.0.0.0/8, 192.0.2.1, \"::ffff:198.51.100.7\", \"2001:db8::1/32\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.parts().core
	want := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"),
		netip.MustParsePrefix("192.0.2.1/32"),
		netip.MustParsePrefix("198.51.100.7/32"),
		netip.MustParsePrefix("2001:db8::/32"),
	}
	if !slices.Equal(cfg.TrustedProxies, want) || !cfg.AuthenticatePreflight {
		t.Fatalf("TrustedProxies %v, AuthenticatePreflight %v", cfg.TrustedProxies, cfg.AuthenticatePreflight)
	}
}
