package authserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/scopes"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// resourceServer is an API protected by Keyward that trusts the
// authorization server through discovery, as a keyward.yaml with
// "discovery: true" configures it: GET /bookings needs bookings:read, POST
// /bookings needs bookings:create.
func resourceServer(t *testing.T, ts *testServer) string {
	t.Helper()
	keys, err := jwks.NewDiscovered(t.Context(), ts.URL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := keywardtest.Config{
		Config: dualauth.Config{Realm: "bookings-api"},
		JWT: jwtauth.Config{
			Issuers:     []jwtauth.Issuer{{Issuer: ts.URL, Audiences: []string{"bookings-api"}, Keys: keys}},
			RequireType: "at+jwt",
		},
	}.Build()
	if err != nil {
		t.Fatal(err)
	}
	kw := middleware.New(a, middleware.Options{})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := dualauth.FromContext(r.Context())
		w.Header().Set("X-Client", p.ClientID)
		w.WriteHeader(http.StatusOK)
	})
	mux := http.NewServeMux()
	mux.Handle("GET /bookings", kw.Require(scopes.All("bookings:read"))(ok))
	mux.Handle("POST /bookings", kw.Require(scopes.All("bookings:create"))(ok))
	rs := httptest.NewServer(mux)
	t.Cleanup(rs.Close)
	return rs.URL
}

// call calls the resource server with client (or a Bearer token) and
// returns the status and the verified client id.
func call(t *testing.T, client *http.Client, method, target, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("X-Client")
}

// TestKeywardAcceptsEveryEndpoint is the acceptance criterion: tokens from
// every endpoint, with every algorithm, are accepted by a Keyward resource
// server configured with discovery pointing at the authorization server.
func TestKeywardAcceptsEveryEndpoint(t *testing.T) {
	t.Parallel()
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = alg; c.Now = nil })
			api := resourceServer(t, ts)
			for _, tc := range styleRequests {
				t.Run(tc.name, func(t *testing.T) {
					resp := ts.mustToken(t, tc.req)
					if status, client := call(t, nil, http.MethodGet, api+"/bookings", resp.str("access_token")); status != http.StatusOK || client != "globex" {
						t.Errorf("GET /bookings: %d, client %q", status, client)
					}
					if rt := resp.str("refresh_token"); rt != "" {
						refreshed := ts.refresh(t, rt)
						if status, _ := call(t, nil, http.MethodGet, api+"/bookings", refreshed.str("access_token")); status != http.StatusOK {
							t.Errorf("GET /bookings with a refreshed token: %d", status)
						}
					}
				})
			}
			t.Run("narrowed scope is enforced", func(t *testing.T) {
				token := ts.globexToken(t, "scope", "bookings:read").str("access_token")
				if status, _ := call(t, nil, http.MethodPost, api+"/bookings", token); status != http.StatusForbidden {
					t.Errorf("POST /bookings with bookings:read only: %d, want 403", status)
				}
				token = ts.globexToken(t, "scope", "bookings:create").str("access_token")
				if status, _ := call(t, nil, http.MethodPost, api+"/bookings", token); status != http.StatusOK {
					t.Errorf("POST /bookings with bookings:create: %d", status)
				}
			})
		})
	}
}

// TestKeywardAfterRotation shows why the next key is published ahead: a
// resource server that fetched the key set before a rotation verifies the
// new key's tokens without fetching again.
func TestKeywardAfterRotation(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256"; c.Now = nil })
	api := resourceServer(t, ts)
	old := ts.globexToken(t).str("access_token")
	if status, _ := call(t, nil, http.MethodGet, api+"/bookings", old); status != http.StatusOK {
		t.Fatalf("before rotation: %d", status)
	}
	fetches := ts.JWKSFetches.Load()
	if _, err := ts.RotateKey(); err != nil {
		t.Fatal(err)
	}
	fresh := ts.globexToken(t).str("access_token")
	for name, token := range map[string]string{"new key": fresh, "old key": old} {
		if status, _ := call(t, nil, http.MethodGet, api+"/bookings", token); status != http.StatusOK {
			t.Errorf("token from the %s after rotation: %d", name, status)
		}
	}
	if n := ts.JWKSFetches.Load(); n != fetches {
		t.Errorf("the resource server fetched the key set %d more times", n-fetches)
	}
}

// TestOAuth2Client gets tokens with golang.org/x/oauth2/clientcredentials,
// an independent client, and calls a Keyward-protected API with them.
func TestOAuth2Client(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Now = nil
		c.Clients = writeRegistry(t, testClient{"globex", "globex-secret", []string{"bookings:read", "bookings:create"}},
			testClient{"partner:7", "p@ss w%rd+", []string{"bookings:read"}})
	})
	api := resourceServer(t, ts)
	tests := []struct {
		name   string
		config clientcredentials.Config
		scope  string
	}{
		{"v2 in header", clientcredentials.Config{ClientID: "globex", ClientSecret: "globex-secret",
			TokenURL: ts.URL + authserver.PathTokenV2, AuthStyle: oauth2.AuthStyleInHeader}, "bookings:read bookings:create"},
		{"v2 in header, special characters", clientcredentials.Config{ClientID: "partner:7", ClientSecret: "p@ss w%rd+",
			TokenURL: ts.URL + authserver.PathTokenV2, AuthStyle: oauth2.AuthStyleInHeader}, "bookings:read"},
		{"connect in params", clientcredentials.Config{ClientID: "globex", ClientSecret: "globex-secret",
			TokenURL: ts.URL + authserver.PathConnectToken, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"response_type": {"token"}}, Scopes: []string{"bookings:read"}}, "bookings:read"},
		{"connect in params, special characters", clientcredentials.Config{ClientID: "partner:7", ClientSecret: "p@ss w%rd+",
			TokenURL: ts.URL + authserver.PathConnectToken, AuthStyle: oauth2.AuthStyleInParams,
			EndpointParams: url.Values{"response_type": {"token"}}}, "bookings:read"},
		{"generic, auto-detected", clientcredentials.Config{ClientID: "globex", ClientSecret: "globex-secret",
			TokenURL: ts.URL + authserver.PathToken, Scopes: []string{"bookings:read", "bookings:create"}}, "bookings:read bookings:create"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.WithoutCancel(t.Context())
			tok, err := tc.config.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "Bearer" || !tok.Valid() || tok.Extra("scope") != tc.scope {
				t.Errorf("token type %q, valid %v, scope %v", tok.TokenType, tok.Valid(), tok.Extra("scope"))
			}
			if status, client := call(t, tc.config.Client(ctx), http.MethodGet, api+"/bookings", ""); status != http.StatusOK || client != tc.config.ClientID {
				t.Errorf("GET /bookings: %d, client %q", status, client)
			}
		})
	}
	t.Run("wrong secret", func(t *testing.T) {
		cfg := clientcredentials.Config{ClientID: "globex", ClientSecret: "nope", TokenURL: ts.URL + authserver.PathTokenV2, AuthStyle: oauth2.AuthStyleInHeader}
		_, err := cfg.Token(t.Context())
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized || re.ErrorCode != "invalid_client" {
			t.Fatalf("error %v, want a 401 invalid_client", err)
		}
	})
}

// TestOAuth2Refresh runs seed 000's refresh flow with golang.org/x/oauth2:
// a token source that holds only a refresh token (no client id or secret:
// the request carries grant_type and refresh_token alone) gets access
// tokens a Keyward-protected API accepts; the refresh token rotates, and
// the superseded one, presented again, is refused and revokes the family.
func TestOAuth2Refresh(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Now = nil
		c.Algorithm = "ES256"
		c.Clients = writeRegistry(t, testClient{"globex", "globex-secret", []string{"bookings:read", "bookings:create"}},
			testClient{"hooli", "hooli-secret", []string{"bookings:read"}})
	})
	api := resourceServer(t, ts)
	ctx := context.WithoutCancel(t.Context())
	cc := clientcredentials.Config{ClientID: "globex", ClientSecret: "globex-secret", TokenURL: ts.URL + authserver.PathToken,
		AuthStyle: oauth2.AuthStyleInParams, Scopes: []string{"bookings:read"}}
	granted, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if granted.RefreshToken == "" {
		t.Fatal("no refresh token from /oauth/token")
	}

	// refresh makes conf refresh rt once, as a token source does when its
	// access token has expired.
	refresh := func(conf *oauth2.Config, rt string) (*oauth2.Token, error) {
		return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
	}
	endpoint := oauth2.Endpoint{TokenURL: ts.URL + authserver.PathToken, AuthStyle: oauth2.AuthStyleInParams}
	anonymous := &oauth2.Config{Endpoint: endpoint}
	tok, err := refresh(anonymous, granted.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	if tok.RefreshToken == "" || tok.RefreshToken == granted.RefreshToken || tok.Extra("scope") != "bookings:read" {
		t.Fatalf("refreshed: refresh token %q, scope %v", tok.RefreshToken, tok.Extra("scope"))
	}
	if status, client := call(t, oauth2.NewClient(ctx, oauth2.StaticTokenSource(tok)), http.MethodGet, api+"/bookings", ""); status != http.StatusOK || client != "globex" {
		t.Errorf("GET /bookings with the refreshed token: %d, client %q", status, client)
	}

	// The usual ways, which name or authenticate the client, work too.
	for _, conf := range []*oauth2.Config{
		{ClientID: "globex", ClientSecret: "globex-secret", Endpoint: oauth2.Endpoint{TokenURL: endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInHeader}},
		{ClientID: "globex", ClientSecret: "globex-secret", Endpoint: endpoint},
		{ClientID: "globex", Endpoint: oauth2.Endpoint{TokenURL: endpoint.TokenURL}}, // auto-detected: Basic "globex:"
	} {
		if tok, err = refresh(conf, tok.RefreshToken); err != nil {
			t.Fatalf("%+v: %v", conf.Endpoint, err)
		}
	}
	// Another client may not use it, named or authenticated.
	for _, conf := range []*oauth2.Config{
		{ClientID: "hooli", Endpoint: endpoint},
		{ClientID: "hooli", ClientSecret: "hooli-secret", Endpoint: endpoint},
	} {
		_, err := refresh(conf, tok.RefreshToken)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
			t.Fatalf("refresh as %s: %v, want a 400 invalid_grant", conf.ClientID, err)
		}
	}

	// Replaying the first refresh token is refused and revokes the family:
	// the latest one stops working too.
	for _, rt := range []string{granted.RefreshToken, tok.RefreshToken} {
		_, err := refresh(anonymous, rt)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusBadRequest || re.ErrorCode != "invalid_grant" {
			t.Fatalf("replay: %v, want a 400 invalid_grant", err)
		}
	}
}
