package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/keywardtest"
)

const tlsDir = testdata + "authserver/tls/"

// clientCertThumbprint is the x5t#S256 of tlsDir/client.pem, computed with
// OpenSSL (see authserver's certbound_test.go).
const clientCertThumbprint = "oQlxwiffJTOTENM0-qScJZyTrzYwOa6x2LO00l7PcmY"

// tlsTransport trusts the test CA and presents the client certificate name
// ("" for none), even one the server's certificate request does not name
// an issuer of.
func tlsTransport(t *testing.T, name string) *http.Transport {
	t.Helper()
	pem, err := os.ReadFile(tlsDir + "ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: x509.NewCertPool(), MinVersion: tls.VersionTLS12}
	cfg.RootCAs.AppendCertsFromPEM(pem)
	if name != "" {
		pair, err := tls.LoadX509KeyPair(tlsDir+name+".pem", tlsDir+name+".key")
		if err != nil {
			t.Fatal(err)
		}
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// postWith sends a globex client_credentials request to target with client
// and decodes the answer; err is the transport's.
func postWith(t *testing.T, client *http.Client, target string) (map[string]any, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, target, strings.NewReader("grant_type=client_credentials"))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", form)
	req.Header.Set("Authorization", basicGlobex.Get("Authorization"))
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %v", resp.StatusCode, out)
	}
	return out, nil
}

// cnfOf is the cnf claim of a JWT access token (its signature is the
// authserver package's tests' business).
func cnfOf(t *testing.T, token string) any {
	t.Helper()
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		t.Fatal(err)
	}
	return claims["cnf"]
}

// TestRunSenderConstrained runs the command over TLS with -client-ca: a
// client presenting a certificate from the CA gets a token bound to it
// (cnf.x5t#S256, RFC 8705), one presenting none an unbound token, one
// presenting a certificate the CA did not issue no TLS connection; a DPoP
// client (keywardtest.DPoPTransport) gets a DPoP token bound to its key
// (RFC 9449); the metadata says both.
func TestRunSenderConstrained(t *testing.T) {
	base, stdout, stderr := startRun(t, "-tls-cert", tlsDir+"server.pem", "-tls-key", tlsDir+"server.key", "-client-ca", tlsDir+"ca.pem")
	base = "https://" + strings.TrimPrefix(base, "http://")
	if !strings.Contains(stdout.String(), "issuer:    "+base+"\n") {
		t.Errorf("stdout does not name the issuer %s:\n%s", base, stdout)
	}
	target := base + authserver.PathTokenV2
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		transport http.RoundTripper
		tokenType string
		cnf       any
	}{
		{"client certificate", tlsTransport(t, "client"), "Bearer", map[string]any{"x5t#S256": clientCertThumbprint}},
		{"no client certificate", tlsTransport(t, ""), "Bearer", nil},
		{"DPoP", &keywardtest.DPoPTransport{Key: key, Base: tlsTransport(t, "")}, "DPoP", map[string]any{"jkt": key.Thumbprint()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := postWith(t, &http.Client{Transport: tc.transport}, target)
			if err != nil {
				t.Fatal(err)
			}
			token, _ := body["access_token"].(string)
			if body["token_type"] != tc.tokenType {
				t.Errorf("token_type %v, want %s", body["token_type"], tc.tokenType)
			}
			if got := cnfOf(t, token); !jsonEqual(got, tc.cnf) {
				t.Errorf("cnf %v, want %v", got, tc.cnf)
			}
		})
	}
	t.Run("certificate from another CA", func(t *testing.T) {
		if _, err := postWith(t, &http.Client{Transport: tlsTransport(t, "stranger")}, target); err == nil {
			t.Fatal("a certificate the CA did not issue was accepted")
		}
	})

	meta, err := getMetadataWith(t, &http.Client{Transport: tlsTransport(t, "")}, base)
	if err != nil {
		t.Fatal(err)
	}
	if meta["issuer"] != base || meta["tls_client_certificate_bound_access_tokens"] != true || meta["dpop_signing_alg_values_supported"] == nil {
		t.Errorf("metadata %v", meta)
	}
	for _, want := range []string{"url=" + base, "client_ca=" + tlsDir + "ca.pem", "binding=certificate", "token_type=DPoP binding=dpop"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the log lacks %s:\n%s", want, stderr)
		}
	}
}

// TestRunPlainTLS: over TLS without -client-ca, no certificate is asked
// for, so no token is certificate-bound, and the metadata does not offer
// it.
func TestRunPlainTLS(t *testing.T) {
	base, _, _ := startRun(t, "-tls-cert", tlsDir+"server.pem", "-tls-key", tlsDir+"server.key")
	base = "https://" + strings.TrimPrefix(base, "http://")
	client := &http.Client{Transport: tlsTransport(t, "client")}
	body, err := postWith(t, client, base+authserver.PathTokenV2)
	if err != nil {
		t.Fatal(err)
	}
	if token, _ := body["access_token"].(string); body["token_type"] != "Bearer" || cnfOf(t, token) != nil {
		t.Errorf("body %v, cnf %v", body, cnfOf(t, token))
	}
	meta, err := getMetadataWith(t, client, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := meta["tls_client_certificate_bound_access_tokens"]; ok || meta["issuer"] != base {
		t.Errorf("metadata %v", meta)
	}
}

// TestRunTLSFlags: the TLS flags are refused when incomplete or unreadable.
func TestRunTLSFlags(t *testing.T) {
	common := []string{"-addr", "127.0.0.1:0", "-clients", testdata + "clients/clients.yaml"}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"cert without key", []string{"-tls-cert", tlsDir + "server.pem"}, "-tls-cert and -tls-key go together"},
		{"key without cert", []string{"-tls-key", tlsDir + "server.key"}, "-tls-cert and -tls-key go together"},
		{"client CA without TLS", []string{"-client-ca", tlsDir + "ca.pem"}, "-client-ca needs -tls-cert"},
		{"key of another certificate", []string{"-tls-cert", tlsDir + "server.pem", "-tls-key", tlsDir + "client.key"}, "-tls-cert, -tls-key"},
		{"client CA not PEM", []string{"-tls-cert", tlsDir + "server.pem", "-tls-key", tlsDir + "server.key", "-client-ca", tlsDir + "README.md"}, "no PEM certificate"},
		{"client CA missing", []string{"-tls-cert", tlsDir + "server.pem", "-tls-key", tlsDir + "server.key", "-client-ca", tlsDir + "none.pem"}, "none.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), append(common, tc.args...), &stdout, &stderr, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run = %v, want an error about %q", err, tc.want)
			}
		})
	}
}

// getMetadataWith fetches and decodes the RFC 8414 metadata of the server
// at base with client.
func getMetadataWith(t *testing.T, client *http.Client, base string) (map[string]any, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+authserver.PathOAuthMetadata, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var meta map[string]any
	return meta, json.NewDecoder(resp.Body).Decode(&meta)
}

// jsonEqual compares two decoded JSON values.
func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
