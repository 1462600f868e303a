package grpcauth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"

	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/keywardtest"
)

// seen is what the core was given for a call: the parts of the
// *http.Request built from it.
type seen struct {
	method, path, query, remote, host string
	header                            http.Header
	peerCert                          []byte // the TLS peer's leaf certificate, if any
	tls                               bool
}

// TestRequestTheCoreReads: the request the core reads for a call (seen
// through dualauth.Config.ClientAddr, which gets it) is a POST to the full
// method with every value of the metadata's header keys, without
// pseudo-headers, "grpc-" or "-bin" keys; its RemoteAddr is the peer's
// address (the client's own end of the connection), its Host the
// :authority, and its TLS the peer's connection state, with the client
// certificate over mutual TLS.
func TestRequestTheCoreReads(t *testing.T) {
	for _, transport := range []string{"bufconn", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			got := make(chan seen, 4)
			_, a := newAuthenticator(t, func(c *keywardtest.Config) {
				c.ClientAddr = func(r *http.Request) string {
					s := seen{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, remote: r.RemoteAddr, host: r.Host,
						header: r.Header.Clone(), tls: r.TLS != nil}
					if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
						s.peerCert = r.TLS.PeerCertificates[0].Raw
					}
					select {
					case got <- s:
					default:
					}
					return r.RemoteAddr
				}
			})
			kw := grpcauth.New(a, testOptions())
			var (
				srvOpts    serverOptions
				clientOpts []grpc.DialOption
				clientCert []byte
			)
			lisTransport := transport
			if transport == "tls" {
				lisTransport = "tcp"
				server, client := certificate(t, "keyward-test"), certificate(t, "a client")
				roots := x509.NewCertPool()
				roots.AddCert(server.Leaf)
				srvOpts = serverOptions{grpc.Creds(credentials.NewTLS(&tls.Config{
					Certificates: []tls.Certificate{server}, ClientAuth: tls.RequireAnyClientCert, MinVersion: tls.VersionTLS13,
				}))}
				clientOpts = []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
					Certificates: []tls.Certificate{client}, RootCAs: roots, MinVersion: tls.VersionTLS13,
				}))}
				clientCert = client.Leaf.Raw
			}
			_, dial := serve(t, kw, lisTransport, srvOpts)
			local := make(chan string, 1)
			conn := connect(t, func(ctx context.Context, addr string) (net.Conn, error) {
				c, err := dial(ctx, addr)
				if err == nil {
					local <- c.LocalAddr().String()
				}
				return c, err
			}, clientOpts...)

			md := clientMD("globex", "globex-secret")
			md.Append("x-forwarded-for", "192.0.2.9")
			md.Append("x-two", "first", "second")
			md.Append("trace-bin", "\x00\x01binary")
			md.Append("grpc-custom", "reserved")
			if res := call(t, conn, "/"+bookings+"/WhoAmI", false, md); res.code != codes.OK {
				t.Fatalf("%s %q", res.code, res.message)
			}
			s := <-got
			if s.method != http.MethodPost || s.path != "/"+bookings+"/WhoAmI" || s.query != "" || s.host != "keyward-test" {
				t.Errorf("request %s %s?%s Host %q; want POST of the full method to keyward-test", s.method, s.path, s.query, s.host)
			}
			if want := <-local; s.remote != want {
				t.Errorf("RemoteAddr %q, want the client's end %q", s.remote, want)
			}
			if s.tls != (transport == "tls") || !bytes.Equal(s.peerCert, clientCert) {
				t.Errorf("TLS %v with peer certificate %x; want TLS only over tls, with the client's certificate", s.tls, s.peerCert)
			}
			for name, want := range map[string][]string{
				"Client_id": {"globex"}, "X-Forwarded-For": {"192.0.2.9"}, "X-Two": {"first", "second"},
			} {
				if got := s.header.Values(name); !slices.Equal(got, want) {
					t.Errorf("header %s = %q, want %q", name, got, want)
				}
			}
			for name := range s.header {
				if l := strings.ToLower(name); strings.HasPrefix(l, ":") || strings.HasPrefix(l, "grpc-") || strings.HasSuffix(l, "-bin") || l == "host" {
					t.Errorf("header %s was copied from the metadata", name)
				}
			}
		})
	}
}

// certificate returns a self-signed ECDSA certificate for name (a DNS
// name), valid for an hour, with its Leaf set.
func certificate(t *testing.T, name string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		DNSNames:     []string{name},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
