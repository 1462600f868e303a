package authserver_test

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"testing"

	"github.com/keyward/keyward/authserver"
)

// tlsDir holds the test CA, the server's certificate for 127.0.0.1 and
// client certificates (see its README.md).
const tlsDir = "../testdata/authserver/tls/"

// The x5t#S256 of the test client certificates, computed with OpenSSL:
//
//	openssl x509 -in client.pem -outform DER | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
const (
	clientCertThumbprint   = "oQlxwiffJTOTENM0-qScJZyTrzYwOa6x2LO00l7PcmY"
	strangerCertThumbprint = "N9hsL3a2Bu57rxracBzy2UD94_JFIoR7bDJrdI8FK8A"
)

// keyPair loads the certificate and key tlsDir/name.pem and name.key.
func keyPair(t testing.TB, name string) tls.Certificate {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(tlsDir+name+".pem", tlsDir+name+".key")
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// testCA is the pool of the test CA.
func testCA(t testing.TB) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(tlsDir + "ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in ca.pem")
	}
	return pool
}

// startTLS starts a server over TLS on 127.0.0.1 with the test server
// certificate, asking clients for certificates as clientAuth says: when it
// verifies them, against the test CA, which it names to clients. Its
// Client trusts the test CA and presents no certificate.
func startTLS(t testing.TB, clientAuth tls.ClientAuthType, mutate func(*authserver.Config)) *testServer {
	t.Helper()
	cfg := &tls.Config{
		Certificates: []tls.Certificate{keyPair(t, "server")},
		ClientAuth:   clientAuth,
		MinVersion:   tls.VersionTLS12,
	}
	if clientAuth >= tls.VerifyClientCertIfGiven {
		cfg.ClientCAs = testCA(t)
	}
	ts := startOn(t, mutate, authserver.New, cfg)
	ts.Client = tlsClient(t, "")
	return ts
}

// tlsClient is a client trusting the test CA that presents the client
// certificate name ("" for none).
func tlsClient(t testing.TB, name string) *http.Client {
	t.Helper()
	cfg := &tls.Config{RootCAs: testCA(t), MinVersion: tls.VersionTLS12}
	if name != "" {
		cfg.Certificates = []tls.Certificate{keyPair(t, name)}
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// TestCertificateBound: over a real TLS listener, a token request with a
// client certificate gets a token bound to it (RFC 8705 §3: cnf.x5t#S256,
// the certificate's SHA-256, still token_type Bearer) in the JWT and in the
// introspection answer, whether the listener verified the certificate
// against a CA or only asked for one (a self-signed certificate, RFC 8705
// §2.2). Without a certificate, or on a listener that asks for none, the
// token is not bound; with a DPoP proof too, it is bound to the DPoP key
// only.
func TestCertificateBound(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		clientAuth tls.ClientAuthType
		cert       string
		dpop       bool
		want       map[string]any // cnf; nil: none
	}{
		{"certificate from the CA", tls.VerifyClientCertIfGiven, "client", false, map[string]any{"x5t#S256": clientCertThumbprint}},
		{"self-signed certificate, not verified", tls.RequestClientCert, "stranger", false, map[string]any{"x5t#S256": strangerCertThumbprint}},
		{"no certificate", tls.VerifyClientCertIfGiven, "", false, nil},
		{"plain TLS: no certificate asked", tls.NoClientCert, "client", false, nil},
		{"certificate and DPoP: DPoP only", tls.VerifyClientCertIfGiven, "client", true, nil},
	}
	for _, format := range []string{authserver.TokenFormatJWT, authserver.TokenFormatOpaque} {
		for _, tc := range tests {
			t.Run(format+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ts := startTLS(t, tc.clientAuth, func(c *authserver.Config) {
					c.Algorithm = "ES256"
					c.ClientOptions = bindingOptions(format)
				})
				client := tlsClient(t, tc.cert)
				req := request{client: client, path: authserver.PathTokenV2, basic: []string{"globex", "globex-secret"},
					form: formOf("grant_type", "client_credentials")}
				want := tc.want
				if tc.dpop {
					key := newDPoPKey(t, "ES256")
					req = withDPoP(req, ts.proof(t, key, req.path, nil))
					want = map[string]any{"jkt": key.Thumbprint()}
				}
				resp := ts.mustToken(t, req)
				if format == authserver.TokenFormatJWT {
					checkBoundTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", authserver.LifetimeTokenV2, want)
				}
				answer := ts.do(t, request{client: client, path: authserver.PathIntrospect, basic: []string{"acme", "acme-secret"},
					form: formOf("token", resp.str("access_token"))})
				if answer.body["active"] != true {
					t.Fatalf("introspection: status %d, body %s", answer.status, answer.raw)
				}
				checkIntrospectedBinding(t, answer.body, want)
			})
		}
	}
}

// TestCertificateBoundMetadata: the metadata advertises certificate-bound
// tokens (RFC 8705 §3.3) when Config.MutualTLS says clients can present
// certificates, and leaves the member out (false, its default) otherwise.
func TestCertificateBoundMetadata(t *testing.T) {
	t.Parallel()
	for _, mtls := range []bool{false, true} {
		ts := startTLS(t, tls.VerifyClientCertIfGiven, func(c *authserver.Config) { c.MutualTLS = mtls })
		resp := ts.do(t, request{method: http.MethodGet, path: authserver.PathOpenIDConfiguration})
		got, present := resp.body["tls_client_certificate_bound_access_tokens"]
		if present != mtls || mtls && got != true {
			t.Errorf("MutualTLS %v: tls_client_certificate_bound_access_tokens = %v (present %v)", mtls, got, present)
		}
		if resp.str("token_endpoint") != ts.URL+authserver.PathToken || ts.URL[:8] != "https://" {
			t.Errorf("token_endpoint %q, server %s", resp.str("token_endpoint"), ts.URL)
		}
	}
}
