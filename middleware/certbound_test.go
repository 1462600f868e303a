package middleware_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

// tlsDir holds the TEST ONLY certificates of the development
// authorization server (see its README).
const tlsDir = "../testdata/authserver/tls/"

// testCert is a TEST ONLY certificate of tlsDir with its key, and the
// forms a proxy forwards it in.
type testCert struct {
	pair       tls.Certificate
	der        []byte
	thumbprint string // base64url SHA-256 of the DER, as cnf x5t#S256
}

func loadCert(t *testing.T, name string) testCert {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(tlsDir+name+".pem", tlsDir+name+".key")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pair.Certificate[0])
	return testCert{pair: pair, der: pair.Certificate[0], thumbprint: base64.RawURLEncoding.EncodeToString(sum[:])}
}

// hexHash is c's SHA-256 in hex, as XFCC's Hash is written.
func (c testCert) hexHash() string {
	sum := sha256.Sum256(c.der)
	return hex.EncodeToString(sum[:])
}

// escapedPEM is c as nginx's $ssl_client_escaped_cert (and Envoy's XFCC
// Cert) writes it: the PEM with every byte but letters, digits and -._~
// percent-encoded (a space is %20, a + is %2B).
func (c testCert) escapedPEM() string {
	var b strings.Builder
	for _, ch := range pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}) {
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte("-._~", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return b.String()
}

// certPool is a pool of the PEM files of tlsDir named.
func certPool(t *testing.T, names ...string) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	for _, name := range names {
		b, err := os.ReadFile(tlsDir + name + ".pem")
		if err != nil {
			t.Fatal(err)
		}
		if !pool.AppendCertsFromPEM(b) {
			t.Fatalf("%s.pem: no certificate", name)
		}
	}
	return pool
}

// certBoundServers serves the test routes on net/http and Echo with an
// Authenticator trusting iss, of the CertificateBound section cb (nil:
// none) behind the trusted proxies: each over TLS asking for client
// certificates that the test CA (or the self-signed stranger) issued, and
// over plain HTTP. It returns the base URLs by "<framework> <tls|http>".
func certBoundServers(t *testing.T, iss *keywardtest.Issuer, cb *jwtauth.CertificateBound, proxies ...netip.Prefix) map[string]string {
	t.Helper()
	remote, err := jwks.NewRemote(t.Context(), iss.JWKSURL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remote.Close)
	a, err := keywardtest.Config{
		Config: dualauth.Config{Realm: realm, TrustedProxies: proxies},
		JWT: jwtauth.Config{CertificateBound: cb,
			Issuers: []jwtauth.Issuer{{Issuer: iss.URL, Audiences: []string{iss.Audience}, Keys: remote}}},
	}.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	server := loadCert(t, "server")
	m := middleware.New(a, middleware.Options{})
	urls := map[string]string{}
	for name, h := range map[string]http.Handler{"net/http": netHTTPApp(m), "echo": echoApp(m)} {
		plain := httptest.NewServer(h)
		t.Cleanup(plain.Close)
		urls[name+" http"] = plain.URL
		secure := httptest.NewUnstartedServer(h)
		secure.TLS = &tls.Config{Certificates: []tls.Certificate{server.pair},
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: certPool(t, "ca", "stranger")}
		secure.StartTLS()
		t.Cleanup(secure.Close)
		urls[name+" tls"] = secure.URL
	}
	return urls
}

// certCall is one request to a certBoundServers server.
type certCall struct {
	server string            // "tls" or "http"
	cert   *testCert         // the client certificate presented over TLS, if any
	header map[string]string // request headers
	twice  string            // a header sent on two lines
}

// do sends c with the Bearer token and returns the status and the challenge.
func (c certCall) do(t *testing.T, base, token string) (int, string) {
	t.Helper()
	tc := &tls.Config{RootCAs: certPool(t, "ca")}
	if c.cert != nil {
		tc.Certificates = []tls.Certificate{c.cert.pair}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	defer client.CloseIdleConnections()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+token)
	for name, v := range c.header {
		r.Header.Set(name, v)
	}
	if c.twice != "" {
		r.Header[c.twice] = []string{"Hash=00", "Hash=00"}
	}
	res, err := client.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusOK {
		var w who
		if err := json.Unmarshal(body, &w); err != nil || w.Method != "jwt" {
			t.Fatalf("200 with %q", body)
		}
	}
	return res.StatusCode, strings.Join(res.Header.Values("WWW-Authenticate"), " | ")
}

// TestCertificateBound: a token bound to a client certificate (cnf
// x5t#S256, RFC 8705 §3) passes only with that certificate, on net/http
// and Echo over real TLS listeners on 127.0.0.1 that ask for client
// certificates: another certificate, none, or plain HTTP is 401
// invalid_token with a Bearer challenge. Without a CertificateBound section
// (or from a peer that is not a trusted proxy) a forwarded certificate
// header is never read, even when it names the right certificate; with
// one, from a trusted proxy, Envoy's XFCC (its last element: Hash, Cert or
// both) and nginx's escaped PEM count, and a malformed header or one sent
// twice refuses the token. An unbound token passes everywhere.
func TestCertificateBound(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	client, stranger := loadCert(t, "client"), loadCert(t, "stranger")
	bound := iss.Token(t, jwt.MapClaims{"cnf": map[string]any{"x5t#S256": client.thumbprint}})
	unbound := iss.Token(t, nil)
	const (
		header = "X-Forwarded-Client-Cert"
		none   = "the access token is bound to a client certificate (cnf x5t#S256), and the request has none"
		other  = "the access token is bound to a client certificate (cnf x5t#S256), and the request's is another"
		bad    = "the client certificate forwarded by the proxy is malformed"
	)
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	setups := map[string]map[string]string{
		"direct":    certBoundServers(t, iss, nil),
		"untrusted": certBoundServers(t, iss, &jwtauth.CertificateBound{Header: header}, netip.MustParsePrefix("10.0.0.0/8")),
		"proxy":     certBoundServers(t, iss, &jwtauth.CertificateBound{Header: header}, loopback),
		"no header": certBoundServers(t, iss, &jwtauth.CertificateBound{}, loopback),
	}
	xfcc := func(v string) map[string]string { return map[string]string{header: v} }
	hash := "Hash=" + client.hexHash()
	for _, tt := range []struct {
		name, setup string
		call        certCall
		want        string // the refusal's description; "" means 200
	}{
		{"TLS, the bound certificate", "direct", certCall{server: "tls", cert: &client}, ""},
		{"TLS, another certificate", "direct", certCall{server: "tls", cert: &stranger}, other},
		{"TLS, no certificate", "direct", certCall{server: "tls"}, none},
		{"plain HTTP", "direct", certCall{server: "http"}, none},
		{"plain HTTP, a forwarded header without the section", "direct", certCall{server: "http", header: xfcc(hash)}, none},
		{"plain HTTP, a header the section does not name", "no header", certCall{server: "http", header: xfcc(hash)}, none},
		{"TLS with the section, not via a proxy", "untrusted", certCall{server: "tls", cert: &client}, ""},
		{"a right XFCC from an untrusted peer", "untrusted", certCall{server: "http", header: xfcc(hash)}, none},
		{"a right escaped PEM from an untrusted peer", "untrusted", certCall{server: "http", header: xfcc(client.escapedPEM())}, none},
		{"XFCC Hash from a trusted proxy", "proxy", certCall{server: "http", header: xfcc(`By=spiffe://example.org/api;` + hash + `;Subject="CN=globex,O=a;b";URI=`)}, ""},
		{"XFCC Hash in upper case", "proxy", certCall{server: "http", header: xfcc("Hash=" + strings.ToUpper(client.hexHash()))}, ""},
		{"XFCC Cert from a trusted proxy", "proxy", certCall{server: "http", header: xfcc(`Cert="` + client.escapedPEM() + `"`)}, ""},
		{"XFCC Hash and Cert agreeing", "proxy", certCall{server: "http", header: xfcc(hash + `;Cert="` + client.escapedPEM() + `"`)}, ""},
		{"XFCC, the client's element last", "proxy", certCall{server: "http", header: xfcc("Hash=" + stranger.hexHash() + `;Subject="CN=x,O=y",` + hash)}, ""},
		{"XFCC, the client's element first", "proxy", certCall{server: "http", header: xfcc(hash + ",Hash=" + stranger.hexHash())}, other},
		{"XFCC, another certificate's Hash", "proxy", certCall{server: "http", header: xfcc("Hash=" + stranger.hexHash())}, other},
		{"escaped PEM from a trusted proxy", "proxy", certCall{server: "http", header: xfcc(client.escapedPEM())}, ""},
		{"escaped PEM of another certificate", "proxy", certCall{server: "http", header: xfcc(stranger.escapedPEM())}, other},
		{"from a trusted proxy without the header", "proxy", certCall{server: "http"}, none},
		{"from a trusted proxy over TLS, its certificate not the client's", "proxy", certCall{server: "tls", cert: &client}, none},
		{"XFCC Hash and Cert disagreeing", "proxy", certCall{server: "http", header: xfcc(hash + `;Cert="` + stranger.escapedPEM() + `"`)}, bad},
		{"XFCC Hash twice", "proxy", certCall{server: "http", header: xfcc(hash + ";" + hash)}, bad},
		{"XFCC Hash not hex", "proxy", certCall{server: "http", header: xfcc("Hash=" + client.thumbprint)}, bad},
		{"XFCC Hash short", "proxy", certCall{server: "http", header: xfcc(hash[:60])}, bad},
		{"XFCC without Hash or Cert", "proxy", certCall{server: "http", header: xfcc("By=spiffe://x;Subject=\"CN=globex\"")}, bad},
		{"XFCC quote that does not end", "proxy", certCall{server: "http", header: xfcc(hash + `;Subject="CN=x`)}, bad},
		{"XFCC empty last element", "proxy", certCall{server: "http", header: xfcc(hash + ",")}, bad},
		{"XFCC pair without =", "proxy", certCall{server: "http", header: xfcc(hash + ";Subject")}, bad},
		{"XFCC Cert that is no certificate", "proxy", certCall{server: "http", header: xfcc(`Cert="-----BEGIN%20CERTIFICATE-----%0AAAAA%0A-----END%20CERTIFICATE-----%0A"`)}, bad},
		{"PEM not URL-encoded", "proxy", certCall{server: "http", header: xfcc("-----BEGIN CERTIFICATE-----%zz")}, bad},
		{"PEM with two blocks", "proxy", certCall{server: "http", header: xfcc(client.escapedPEM() + stranger.escapedPEM())}, bad},
		{"header sent twice", "proxy", certCall{server: "http", twice: header}, bad},
		{"header over 32 KiB", "proxy", certCall{server: "http", header: xfcc(hash + ";By=" + strings.Repeat("a", 33<<10))}, bad},
	} {
		for _, framework := range []string{"net/http", "echo"} {
			base := setups[tt.setup][framework+" "+tt.call.server]
			status, got := tt.call.do(t, base, bound)
			switch want := challenge("invalid_token", tt.want); {
			case tt.want == "" && status != http.StatusOK:
				t.Errorf("%s (%s): %d %s, want 200", tt.name, framework, status, got)
			case tt.want != "" && (status != http.StatusUnauthorized || got != want):
				t.Errorf("%s (%s): %d %s, want 401 %s", tt.name, framework, status, got, want)
			}
			// An unbound token never looks at the certificate.
			if status, got := tt.call.do(t, base, unbound); status != http.StatusOK {
				t.Errorf("%s (%s), unbound token: %d %s, want 200", tt.name, framework, status, got)
			}
		}
	}
}
