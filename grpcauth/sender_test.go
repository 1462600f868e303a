package grpcauth_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// mutualTLS returns the server and client options of mutual TLS with a
// new server certificate for keyward-test and the client certificate
// client (none if nil); the server asks for a client certificate and
// takes any, as a server of self-signed client certificates (RFC 8705
// §2.2) does: the handshake proves the client holds its key.
func mutualTLS(t *testing.T, client *tls.Certificate) (serverOptions, []grpc.DialOption) {
	t.Helper()
	server := certificate(t, "keyward-test")
	roots := x509.NewCertPool()
	roots.AddCert(server.Leaf)
	cc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS13}
	if client != nil {
		cc.Certificates = []tls.Certificate{*client}
	}
	return serverOptions{grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{server}, ClientAuth: tls.RequestClientCert, MinVersion: tls.VersionTLS13,
		}))},
		[]grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cc))}
}

// TestDPoPOverGRPC: a DPoP-bound token (cnf.jkt) is read from
// "authorization: DPoP <token>" with its proof in the dpop metadata, and
// the proof's htu for a call is the scheme (http over plaintext, https
// over TLS), "://", the :authority and the full method: a good proof
// passes, over bufconn, TCP and TLS; the same proof again is a replay;
// a proof for another URI (the other scheme, another method, a path
// without the leading slash) is refused; and the bound token sent as
// Bearer is refused invalid_token.
func TestDPoPOverGRPC(t *testing.T) {
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{"bufconn", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			iss, a := newAuthenticator(t, func(c *keywardtest.Config) { c.JWT.DPoP = &jwtauth.DPoP{} })
			token := iss.Token(t, jwt.MapClaims{"scope": "bookings:read", "cnf": map[string]any{"jkt": key.Thumbprint()}})
			scheme, lis := "http", transport
			var srvOpts serverOptions
			var clientOpts []grpc.DialOption
			if transport == "tls" {
				scheme, lis = "https", "tcp"
				srvOpts, clientOpts = mutualTLS(t, nil)
			}
			_, dial := serve(t, grpcauth.New(a, testOptions()), lis, srvOpts)
			conn := connect(t, dial, clientOpts...)
			method := "/" + bookings + "/List"
			htu := scheme + "://keyward-test" + method
			proof := func(uri string) string {
				p, err := key.Proof("POST", uri, token, nil)
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			dpopMD := func(p string) metadata.MD { return metadata.Pairs("authorization", "DPoP "+token, "dpop", p) }
			other := map[string]string{"http": "https", "https": "http"}[scheme]
			good := proof(htu)
			for _, tt := range []struct {
				name  string
				md    metadata.MD
				code  codes.Code
				error string // the challenge's error, "" for none
			}{
				{"good proof", dpopMD(good), codes.OK, ""},
				{"the same proof again", dpopMD(good), codes.Unauthenticated, "invalid_dpop_proof"},
				{"the other scheme", dpopMD(proof(other + "://keyward-test" + method)), codes.Unauthenticated, "invalid_dpop_proof"},
				{"another method", dpopMD(proof(scheme + "://keyward-test/" + bookings + "/Create")), codes.Unauthenticated, "invalid_dpop_proof"},
				{"another authority", dpopMD(proof(scheme + "://127.0.0.1" + method)), codes.Unauthenticated, "invalid_dpop_proof"},
				{"no proof", metadata.Pairs("authorization", "DPoP "+token), codes.Unauthenticated, "invalid_dpop_proof"},
				{"bound token as Bearer", bearerMD(token), codes.Unauthenticated, "invalid_token"},
				{"a fresh good proof", dpopMD(proof(htu)), codes.OK, ""},
			} {
				res := call(t, conn, method, false, tt.md)
				challenges := strings.Join(res.header.Get("www-authenticate"), " | ")
				if res.code != tt.code || tt.error != "" && !strings.Contains(challenges, `error="`+tt.error+`"`) {
					t.Errorf("%s: %s %q, www-authenticate %q; want %s with error %q", tt.name, res.code, res.message, challenges, tt.code, tt.error)
				}
				if tt.code == codes.OK && res.who["subject"] == nil {
					t.Errorf("%s: no caller: %v", tt.name, res.who)
				}
			}
		})
	}
}

// TestCertificateBoundOverGRPC: a token bound to a client certificate
// (cnf x5t#S256) passes over mutual TLS with that certificate and is
// refused invalid_token with another one, with none, and over plaintext
// (bufconn and TCP).
func TestCertificateBoundOverGRPC(t *testing.T) {
	client, stranger := certificate(t, "a client"), certificate(t, "a stranger")
	sum := sha256.Sum256(client.Leaf.Raw)
	iss, a := newAuthenticator(t, nil)
	token := iss.Token(t, jwt.MapClaims{"scope": "bookings:read", "cnf": map[string]any{"x5t#S256": base64.RawURLEncoding.EncodeToString(sum[:])}})
	kw := grpcauth.New(a, testOptions())
	method := "/" + bookings + "/List"
	for _, tt := range []struct {
		name      string
		transport string
		cert      *tls.Certificate // over TLS
		want      string           // the refusal's description; "" means OK
	}{
		{"mutual TLS, the bound certificate", "tls", &client, ""},
		{"mutual TLS, another certificate", "tls", &stranger, "the access token is bound to a client certificate (cnf x5t#S256), and the request's is another"},
		{"TLS without a client certificate", "tls", nil, "the access token is bound to a client certificate (cnf x5t#S256), and the request has none"},
		{"plaintext TCP", "tcp", nil, "the access token is bound to a client certificate (cnf x5t#S256), and the request has none"},
		{"bufconn", "bufconn", nil, "the access token is bound to a client certificate (cnf x5t#S256), and the request has none"},
	} {
		lis := tt.transport
		var srvOpts serverOptions
		var clientOpts []grpc.DialOption
		if tt.transport == "tls" {
			lis = "tcp"
			srvOpts, clientOpts = mutualTLS(t, tt.cert)
		}
		_, dial := serve(t, kw, lis, srvOpts)
		res := call(t, connect(t, dial, clientOpts...), method, false, bearerMD(token))
		switch want := challenge(`error="invalid_token", error_description="` + tt.want + `"`); {
		case tt.want == "" && res.code != codes.OK:
			t.Errorf("%s: %s %q, want OK", tt.name, res.code, res.message)
		case tt.want != "" && (res.code != codes.Unauthenticated || len(res.header.Get("www-authenticate")) != 1 || res.header.Get("www-authenticate")[0] != want):
			t.Errorf("%s: %s %q, www-authenticate %q; want Unauthenticated with %q", tt.name, res.code, res.message, res.header.Get("www-authenticate"), want)
		}
	}
}
