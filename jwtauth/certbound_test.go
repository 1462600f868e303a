package jwtauth_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
)

// TestValidateCertificateBound: the header must be a valid header name and
// none that carries credentials; a zero section is valid.
func TestValidateCertificateBound(t *testing.T) {
	issuers := []jwtauth.Issuer{{Issuer: issuerURL, Audiences: []string{audience}, Introspection: &jwtauth.Introspection{
		Endpoint: "https://auth.example.com/introspect", ClientID: rsClientID, ClientSecret: rsSecret}}}
	for _, tt := range []struct {
		header string
		valid  bool
	}{
		{"", true},
		{"X-Forwarded-Client-Cert", true},
		{"ssl-client-cert", true},
		{"X Client Cert", false},
		{"X-Cert:", false},
		{"authorization", false},
		{"DPoP", false},
	} {
		err := jwtauth.Config{Issuers: issuers, CertificateBound: &jwtauth.CertificateBound{Header: tt.header}}.Validate()
		var ce *dualauth.ConfigError
		switch {
		case tt.valid && err != nil:
			t.Errorf("%q: %v", tt.header, err)
		case !tt.valid && (!errors.As(err, &ce) || ce.Package != "jwtauth" || ce.Field != "CertificateBound.Header"):
			t.Errorf("%q: %v, want a ConfigError of CertificateBound.Header", tt.header, err)
		}
	}
}

// tlsDir holds the TEST ONLY certificates of the development
// authorization server (see its README).
const tlsDir = "../testdata/authserver/tls/"

// certificateOf loads the TEST ONLY certificate name of tlsDir with its
// key, and returns it with its x5t#S256 (base64url SHA-256 of its DER).
func certificateOf(t *testing.T, name string) (tls.Certificate, string) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(tlsDir+name+".pem", tlsDir+name+".key")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pair.Certificate[0])
	return pair, base64.RawURLEncoding.EncodeToString(sum[:])
}

// testRoots is a pool of the test CA and, as a root of its own, the
// self-signed stranger certificate.
func testRoots(t *testing.T) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, name := range []string{"ca", "stranger"} {
		b, err := os.ReadFile(tlsDir + name + ".pem")
		if err != nil {
			t.Fatal(err)
		}
		pool.AppendCertsFromPEM(b)
	}
	return pool
}

// mutualTLSServer serves h over TLS on 127.0.0.1 with the test server
// certificate, asking for client certificates of testRoots.
func mutualTLSServer(t *testing.T, h http.Handler) string {
	t.Helper()
	server, _ := certificateOf(t, "server")
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: testRoots(t)}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

// clientWith is an HTTP client trusting the test CA that presents certs.
func clientWith(t *testing.T, certs ...tls.Certificate) *http.Client {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: testRoots(t), Certificates: certs}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// protected serves v's callers over mutual TLS (see protectedHandler).
func protected(t *testing.T, v *jwtauth.Verifier) string {
	t.Helper()
	return mutualTLSServer(t, protectedHandler(t, v)) + "/bookings"
}

// bearerGet sends a GET of uri with the Bearer token through client, and
// returns the status and the caller's subject, or the challenge.
func bearerGet(t *testing.T, client *http.Client, uri, token string) (int, string) {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, uri, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return res.StatusCode, res.Header.Get("WWW-Authenticate")
	}
	var body struct{ Sub string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body.Sub
}

const (
	noCertificateChallenge    = `Bearer realm="api", error="invalid_token", error_description="` + noCertificate + `"`
	otherCertificateChallenge = `Bearer realm="api", error="invalid_token", error_description="the access token is bound to a client certificate (cnf x5t#S256), and the request's is another"`
)

// TestCertificateBoundOpaque: an opaque token whose introspection answer
// (a real RFC 7662 endpoint on 127.0.0.1) has cnf x5t#S256 passes over
// mutual TLS with that certificate, the second time from the answer cache
// (one endpoint call); with another certificate or none it is refused
// invalid_token, still without another call.
func TestCertificateBoundOpaque(t *testing.T) {
	s := newSetup(t, nil)
	client, thumbprint := certificateOf(t, "client")
	stranger, _ := certificateOf(t, "stranger")
	answer := goodAnswer(s.clock.Now())
	answer["cnf"] = map[string]any{"x5t#S256": thumbprint}
	s.ep.add(opaque, answer)
	uri := protected(t, s.v)
	for _, tt := range []struct {
		name   string
		client *http.Client
		status int
		answer string
	}{
		{"the bound certificate", clientWith(t, client), http.StatusOK, "user-1"},
		{"again: from the cache", clientWith(t, client), http.StatusOK, "user-1"},
		{"another certificate", clientWith(t, stranger), http.StatusUnauthorized, otherCertificateChallenge},
		{"no certificate", clientWith(t), http.StatusUnauthorized, noCertificateChallenge},
	} {
		if status, got := bearerGet(t, tt.client, uri, opaque); status != tt.status || got != tt.answer {
			t.Errorf("%s: %d %q, want %d %q", tt.name, status, got, tt.status, tt.answer)
		}
	}
	if calls := s.ep.calls.Load(); calls != 1 {
		t.Errorf("the endpoint was called %d times, want 1", calls)
	}
}

// TestCertificateBoundEndToEnd: the development authorization server,
// over mutual TLS on 127.0.0.1 (Config.MutualTLS), issues a token bound to
// the client certificate of the token request (RFC 8705 §3), and Keyward,
// fetching the server's keys over TLS, accepts it over mutual TLS from
// that certificate only.
func TestCertificateBoundEndToEnd(t *testing.T) {
	reg, err := clients.Open("../testdata/clients/clients.yaml", clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	as := httptest.NewUnstartedServer(nil)
	srv, err := authserver.New(authserver.Config{Issuer: "https://" + as.Listener.Addr().String(), Audience: "bookings-api",
		Clients: reg, Algorithm: "ES256", MutualTLS: true})
	if err != nil {
		as.Listener.Close()
		t.Fatal(err)
	}
	server, _ := certificateOf(t, "server")
	as.Config.Handler = srv.Handler()
	as.TLS = &tls.Config{Certificates: []tls.Certificate{server}, ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: testRoots(t)}
	as.StartTLS()
	t.Cleanup(as.Close)

	client, _ := certificateOf(t, "client")
	stranger, _ := certificateOf(t, "stranger")
	withCert := clientWith(t, client)
	r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, as.URL+authserver.PathToken,
		strings.NewReader(url.Values{"grant_type": {"client_credentials"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.SetBasicAuth("globex", "globex-secret")
	res, err := withCert.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	var issued struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	err = json.NewDecoder(res.Body).Decode(&issued)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || issued.AccessToken == "" || !strings.EqualFold(issued.TokenType, "Bearer") {
		t.Fatalf("token request: %d %+v %v", res.StatusCode, issued, err)
	}

	keys, err := jwks.NewRemote(t.Context(), as.URL+authserver.PathJWKS, jwks.Options{Client: clientWith(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(keys.Close)
	v, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: "https://" + as.Listener.Addr().String(), Audiences: []string{"bookings-api"}, Keys: keys}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Close() })
	uri := protected(t, v)
	for _, tt := range []struct {
		name   string
		client *http.Client
		status int
		answer string
	}{
		{"the certificate of the token request", withCert, http.StatusOK, "globex"},
		{"another certificate", clientWith(t, stranger), http.StatusUnauthorized, otherCertificateChallenge},
		{"no certificate", clientWith(t), http.StatusUnauthorized, noCertificateChallenge},
	} {
		if status, got := bearerGet(t, tt.client, uri, issued.AccessToken); status != tt.status || got != tt.answer {
			t.Errorf("%s: %d %q, want %d %q", tt.name, status, got, tt.status, tt.answer)
		}
	}
}

// TestCertificateBoundIntrospectedJWT: with IntrospectJWTs, a JWT's
// binding and its introspection answer's are one: the answer's
// certificate binds an unbound JWT, the same binding in both passes with
// that certificate, and two different bindings (two certificates) refuse
// the token whatever certificate comes; so does an answer bound to a DPoP
// key without DPoP on.
func TestCertificateBoundIntrospectedJWT(t *testing.T) {
	s, iss := signedSetup(t, func(in *jwtauth.Introspection) { in.IntrospectJWTs = true })
	client, thumbprint := certificateOf(t, "client")
	_, strangerThumbprint := certificateOf(t, "stranger")
	const jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
	bound := func(method, thumbprint string) map[string]any { return map[string]any{method: thumbprint} }
	const (
		different    = `Bearer realm="api", error="invalid_token", error_description="the access token and its introspection answer bind it to different keys"`
		unverifiable = `Bearer realm="api", error="invalid_token", error_description="` + cnfUnverifiable + `"`
	)
	for _, tt := range []struct {
		name             string
		token, answer    map[string]any // the cnf of each; nil: none
		withCert, noCert string         // the answer with the client certificate, and without one
	}{
		{"bound by the answer only", nil, bound("x5t#S256", thumbprint), "test-client", noCertificateChallenge},
		{"bound alike by both", bound("x5t#S256", thumbprint), bound("x5t#S256", thumbprint), "test-client", noCertificateChallenge},
		{"bound by the token only", bound("x5t#S256", thumbprint), nil, "test-client", noCertificateChallenge},
		{"two certificates", bound("x5t#S256", thumbprint), bound("x5t#S256", strangerThumbprint), different, different},
		{"a certificate and a DPoP key, DPoP off", bound("x5t#S256", thumbprint), bound("jkt", jkt), unverifiable, unverifiable},
	} {
		claims := jwt.MapClaims{}
		if tt.token != nil {
			claims["cnf"] = tt.token
		}
		token := iss.Token(t, claims)
		m := goodAnswer(s.clock.Now())
		m["iss"], m["aud"] = iss.URL, iss.Audience
		if tt.answer != nil {
			m["cnf"] = tt.answer
		}
		s.ep.add(token, m)
		uri := protected(t, s.v)
		for _, c := range []struct {
			client *http.Client
			want   string
		}{{clientWith(t, client), tt.withCert}, {clientWith(t), tt.noCert}} {
			if _, got := bearerGet(t, c.client, uri, token); got != c.want {
				t.Errorf("%s: %q, want %q", tt.name, got, c.want)
			}
		}
	}
}
