package config_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
)

// authserverDir holds the development authorization server's test clients:
// opaque-app gets opaque tokens, keyward-rs may introspect.
const authserverDir = "../testdata/authserver"

// startAuthServer runs the development authorization server on 127.0.0.1
// with the clients of testdata/authserver and returns its issuer URL.
func startAuthServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	reg, err := clients.Open(filepath.Join(authserverDir, "clients.yaml"), clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	opts, err := authserver.ReadClientOptions(filepath.Join(authserverDir, "client-options.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := authserver.New(authserver.Config{Issuer: issuer, Audience: "bookings-api", Clients: reg, ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(s.Handler())
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return issuer
}

// clientToken asks the server at issuer for an access token for the client
// id and secret (client credentials grant).
func clientToken(t *testing.T, issuer, id, secret string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, issuer+authserver.PathToken, strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("token for %s: %d %v", id, res.StatusCode, err)
	}
	return body.AccessToken
}

// TestFileAgainstAuthServer: a file trusting the development authorization
// server through discovery, introspecting as keyward-rs with the secret of
// testdata/authserver/keyward-rs.secret at the introspection_endpoint its
// metadata names, accepts both the opaque token it issues to opaque-app
// (introspected) and the JWT it issues to globex (verified here), and
// refuses an opaque token it never issued.
func TestFileAgainstAuthServer(t *testing.T) {
	issuer := startAuthServer(t)
	secret, err := filepath.Abs(filepath.Join(authserverDir, "keyward-rs.secret"))
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, t.TempDir(), `jwt:
  issuers:
    - issuer: `+issuer+`
      discovery: true
      audiences: [bookings-api]
      introspection:
        client_id: keyward-rs
        client_secret_file: `+secret+`
        timeout: 1m   # the server checks keyward-rs's bcrypt secret on every call, slow under -race
`)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cfg, err := config.Load(ctx, path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := newFromConfig(t, cfg)

	opaque := clientToken(t, issuer, "opaque-app", "opaque-app-secret")
	if strings.Count(opaque, ".") == 2 {
		t.Fatalf("opaque-app got a JWT, %q…; want an opaque token", opaque[:10])
	}
	p := wantCaller(t, a, bearerRequest(opaque), dualauth.MethodJWT, "opaque-app", "bookings:read", "bookings:create")
	if !p.Introspected || p.Issuer != issuer {
		t.Errorf("principal %+v: want introspected, of %s", p, issuer)
	}
	jwt := clientToken(t, issuer, "globex", "globex-secret")
	if p := wantCaller(t, a, bearerRequest(jwt), dualauth.MethodJWT, "globex", "bookings:read"); p.Introspected {
		t.Errorf("a JWT was introspected without introspect_jwts: %+v", p)
	}
	wantRefused(t, a, bearerRequest("never-issued-opaque-token"), http.StatusUnauthorized, dualauth.CodeInvalidToken)
}
