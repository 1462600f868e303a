package authserver_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"github.com/keyward/keyward/authserver"
)

func TestMetadata(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "EdDSA"} {
		ts := start(t, func(c *authserver.Config) { c.Algorithm = alg })
		want := map[string]any{
			"issuer":                                ts.URL,
			"jwks_uri":                              ts.URL + "/.well-known/jwks.json",
			"token_endpoint":                        ts.URL + "/oauth/token",
			"grant_types_supported":                 []any{"client_credentials", "refresh_token"},
			"token_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
			// RFC 8414 §2, RFC 7662: where resource servers introspect opaque tokens, and how they authenticate there.
			"introspection_endpoint":                        ts.URL + "/oauth/introspect",
			"introspection_endpoint_auth_methods_supported": []any{"client_secret_basic", "client_secret_post"},
			"response_types_supported":                      []any{"token"},
			"subject_types_supported":                       []any{"public"},
			"id_token_signing_alg_values_supported":         []any{alg},
			// RFC 9449 §5.1: the DPoP proofs the token endpoints accept.
			"dpop_signing_alg_values_supported": []any{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"},
		}
		for _, path := range []string{authserver.PathOpenIDConfiguration, authserver.PathOAuthMetadata} {
			t.Run(alg+path, func(t *testing.T) {
				resp := ts.do(t, request{method: http.MethodGet, path: path})
				if resp.status != http.StatusOK || resp.header.Get("Content-Type") != "application/json" {
					t.Fatalf("status %d, Content-Type %q", resp.status, resp.header.Get("Content-Type"))
				}
				var got map[string]any
				if err := json.Unmarshal(resp.raw, &got); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("metadata\n got %v\nwant %v", got, want)
				}
			})
		}
	}
}

func TestJWKS(t *testing.T) {
	t.Parallel()
	tests := []struct {
		alg, kty, crv string
		members       []string
	}{
		{"RS256", "RSA", "", []string{"n", "e"}},
		{"ES256", "EC", "P-256", []string{"x", "y"}},
		{"EdDSA", "OKP", "Ed25519", []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.alg, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = tc.alg })
			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(ts.jwks(t), &set); err != nil {
				t.Fatal(err)
			}
			// The signing key and the next one, published ahead.
			if len(set.Keys) != 2 {
				t.Fatalf("%d keys, want 2", len(set.Keys))
			}
			kids := map[any]bool{}
			for _, k := range set.Keys {
				kids[k["kid"]] = true
				if k["kty"] != tc.kty || k["alg"] != tc.alg || k["use"] != "sig" || (tc.crv != "" && k["crv"] != tc.crv) {
					t.Errorf("key %v", k)
				}
				if s, _ := k["kid"].(string); s == "" {
					t.Errorf("key without kid: %v", k)
				}
				for _, m := range tc.members {
					if s, _ := k[m].(string); s == "" {
						t.Errorf("key without %s: %v", m, k)
					}
				}
				for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
					if _, ok := k[private]; ok {
						t.Errorf("key publishes private member %s", private)
					}
				}
			}
			if len(kids) != 2 {
				t.Errorf("kids %v are not distinct", kids)
			}
			header, _ := ts.verify(t, ts.globexToken(t).str("access_token"))
			if header["kid"] != set.Keys[0]["kid"] {
				t.Errorf("token kid %v, want the first key's %v", header["kid"], set.Keys[0]["kid"])
			}
		})
	}
}
