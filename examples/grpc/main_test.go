package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/credentials/oauth"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/internal/syncbuf"
)

const registryFile = "../../testdata/clients/clients.yaml"

// startAuthServer starts the development authorization server on a
// loopback port with the test registry and returns its URL (its issuer).
func startAuthServer(t *testing.T) string {
	t.Helper()
	reg, err := clients.Open(registryFile, clients.Options{HashWait: -1}) // -race makes hashes slow: never 503 for a busy slot
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	srv, err := authserver.New(authserver.Config{Issuer: "http://" + hs.Listener.Addr().String(), Audience: "bookings-api", Clients: reg})
	if err != nil {
		hs.Listener.Close()
		t.Fatal(err)
	}
	hs.Config.Handler = srv.Handler()
	hs.Start()
	t.Cleanup(hs.Close)
	return hs.URL
}

// exampleConfig writes examples/grpc/keyward.yaml into a temporary
// directory, trusting the authorization server at issuer instead of
// 127.0.0.1:9000, and returns its path.
func exampleConfig(t *testing.T, issuer string) string {
	t.Helper()
	data, err := os.ReadFile("keyward.yaml")
	if err != nil {
		t.Fatal(err)
	}
	registry, err := filepath.Abs(registryFile)
	if err != nil {
		t.Fatal(err)
	}
	text := string(data)
	for old, repl := range map[string]string{"http://127.0.0.1:9000": issuer, "../../testdata/clients/clients.yaml": registry} {
		if !strings.Contains(text, old) {
			t.Fatalf("keyward.yaml has no %s", old)
		}
		text = strings.ReplaceAll(text, old, repl)
	}
	path := filepath.Join(t.TempDir(), "keyward.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// serverCertificate writes a self-signed certificate for 127.0.0.1 and its
// key into a temporary directory and returns their paths.
func serverCertificate(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    now.Add(-time.Minute),
		NotAfter:     now.Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// startServer runs the server with args until the test ends and returns
// its address.
func startServer(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncbuf.Buffer{}
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), &bytes.Buffer{}, stderr, listening)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	select {
	case addr := <-listening:
		return addr
	case err := <-done:
		t.Fatalf("run: %v\n%s", err, stderr)
	case <-time.After(30 * time.Second):
		t.Fatal("run did not start")
	}
	return ""
}

// answer is one line of the client's output.
type answer struct {
	code string         // OK or the status code
	body map[string]any // the answer of an OK call
	msg  string         // the status message of a refused call
}

// runClientWith runs the client with args and returns its answers by
// method.
func runClientWith(t *testing.T, args ...string) map[string]answer {
	t.Helper()
	var out bytes.Buffer
	if err := run(t.Context(), append([]string{"-client"}, args...), &out, &bytes.Buffer{}, nil); err != nil {
		t.Fatalf("client %s: %v", args, err)
	}
	answers := map[string]answer{}
	for line := range strings.Lines(out.String()) {
		name, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		rest = strings.TrimSpace(rest)
		var a answer
		if body, ok := strings.CutPrefix(rest, "OK "); ok {
			a.code = "OK"
			if err := json.Unmarshal([]byte(body), &a.body); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
		} else {
			a.code, a.msg, _ = strings.Cut(rest, ": ")
		}
		answers[name] = a
	}
	if len(answers) != 4 {
		t.Fatalf("client printed %d answers:\n%s", len(answers), out.String())
	}
	return answers
}

// TestEndToEnd: the example over real TCP on 127.0.0.1, with the
// development authorization server and the example's own config file.
// The client gets tokens with clientcredentials and sends them with
// oauth.TokenSource over TLS, or sends the client id and secret as
// metadata; the grpc section decides: List needs bookings:read, Create
// bookings:create, WhoAmI any caller, health no one.
func TestEndToEnd(t *testing.T) {
	issuer := startAuthServer(t)
	configPath := exampleConfig(t, issuer)
	cert, key := serverCertificate(t)
	tlsAddr := startServer(t, "-config", configPath, "-tls-cert", cert, "-tls-key", key)
	plainAddr := startServer(t, "-config", configPath)
	tokenURL := issuer + authserver.PathToken

	for _, tc := range []struct {
		name     string
		args     []string
		method   string // WhoAmI's method
		clientID string
		codes    map[string]string // by method
	}{
		{"token over TLS, globex", []string{"-addr", tlsAddr, "-ca", cert, "-token-url", tokenURL}, "jwt", "globex",
			map[string]string{"Health.Check": "OK", "WhoAmI": "OK", "List": "OK", "Create": "OK"}},
		{"token over TLS, acme cannot create", []string{"-addr", tlsAddr, "-ca", cert, "-token-url", tokenURL, "-client-id", "acme", "-client-secret", "acme-secret"}, "jwt", "acme",
			map[string]string{"Health.Check": "OK", "WhoAmI": "OK", "List": "OK", "Create": "PermissionDenied"}},
		{"metadata over plaintext, globex", []string{"-addr", plainAddr, "-metadata"}, "credentials", "globex",
			map[string]string{"Health.Check": "OK", "WhoAmI": "OK", "List": "OK", "Create": "OK"}},
		{"metadata over TLS, acme", []string{"-addr", tlsAddr, "-ca", cert, "-metadata", "-client-id", "acme", "-client-secret", "acme-secret"}, "credentials", "acme",
			map[string]string{"Health.Check": "OK", "WhoAmI": "OK", "List": "OK", "Create": "PermissionDenied"}},
		{"metadata, wrong secret", []string{"-addr", plainAddr, "-metadata", "-client-secret", "not-the-secret"}, "", "",
			map[string]string{"Health.Check": "OK", "WhoAmI": "Unauthenticated", "List": "Unauthenticated", "Create": "Unauthenticated"}},
		{"metadata, disabled client", []string{"-addr", plainAddr, "-metadata", "-client-id", "initech", "-client-secret", "initech-secret"}, "", "",
			map[string]string{"Health.Check": "OK", "WhoAmI": "Unauthenticated", "List": "Unauthenticated", "Create": "Unauthenticated"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			answers := runClientWith(t, tc.args...)
			for method, want := range tc.codes {
				if got := answers[method]; got.code != want {
					t.Errorf("%s: %s %q; want %s", method, got.code, got.msg, want)
				}
			}
			if h := answers["Health.Check"]; h.body["status"] != "SERVING" {
				t.Errorf("Health.Check answered %v", h.body)
			}
			if tc.method == "" {
				return
			}
			who := answers["WhoAmI"].body
			if who["method"] != tc.method || who["client_id"] != tc.clientID || who["subject"] == "" || who["subject"] == nil {
				t.Errorf("WhoAmI answered %v; want method %s, client_id %s and a subject", who, tc.method, tc.clientID)
			}
			if scopes, _ := who["scopes"].([]any); !slices.Contains(scopes, any("bookings:read")) {
				t.Errorf("WhoAmI scopes %v; want bookings:read among them", who["scopes"])
			}
			if tc.method == "jwt" && who["issuer"] != issuer {
				t.Errorf("WhoAmI issuer %v; want %s", who["issuer"], issuer)
			}
			if c := answers["Create"]; c.code == "OK" && (c.body["guest"] != "Ada" || c.body["created_by"] != tc.clientID) {
				t.Errorf("Create answered %v", c.body)
			}
			if c := answers["Create"]; c.code == "PermissionDenied" && !strings.Contains(c.msg, "scope") {
				t.Errorf("Create refused with %q; want the insufficient_scope description", c.msg)
			}
		})
	}

	t.Run("refusals", func(t *testing.T) {
		conn, err := grpc.NewClient(plainAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		token, err := (&clientcredentials.Config{ClientID: "globex", ClientSecret: "globex-secret", TokenURL: tokenURL}).Token(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name      string
			md        []string
			code      codes.Code
			challenge bool // a www-authenticate entry in the header metadata
		}{
			{"no credentials", nil, codes.Unauthenticated, true},
			{"forged token", []string{"authorization", "Bearer " + token.AccessToken + "x"}, codes.Unauthenticated, true},
			{"token and client credentials", []string{"authorization", "Bearer " + token.AccessToken, "client_id", "globex", "client_secret", "globex-secret"}, codes.InvalidArgument, true},
			{"token in metadata over plaintext", []string{"authorization", "Bearer " + token.AccessToken}, codes.OK, false},
		} {
			t.Run(tc.name, func(t *testing.T) {
				var header metadata.MD
				ctx := metadata.AppendToOutgoingContext(t.Context(), tc.md...)
				err := conn.Invoke(ctx, methodWhoAmI, &emptypb.Empty{}, &structpb.Struct{}, grpc.Header(&header))
				if got := status.Code(err); got != tc.code {
					t.Fatalf("WhoAmI: %v; want %s", err, tc.code)
				}
				if got := len(header.Get("www-authenticate")) > 0; got != tc.challenge {
					t.Errorf("www-authenticate %q; want one: %v", header.Get("www-authenticate"), tc.challenge)
				}
				if err != nil && strings.Contains(status.Convert(err).Message(), token.AccessToken[:20]) {
					t.Errorf("the status message carries the token: %v", err)
				}
			})
		}
	})

	t.Run("oauth.TokenSource insists on TLS", func(t *testing.T) {
		ts := (&clientcredentials.Config{ClientID: "globex", ClientSecret: "globex-secret", TokenURL: tokenURL}).TokenSource(t.Context())
		conn, err := grpc.NewClient(plainAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: ts}))
		if err == nil {
			conn.Close()
			t.Fatal("grpc.NewClient took oauth.TokenSource over plaintext")
		}
		if _, err := dial(t.Context(), options{addr: plainAddr, tokenURL: tokenURL}); err == nil || !strings.Contains(err.Error(), "-ca") {
			t.Errorf("dial without -ca or -metadata: %v; want the hint", err)
		}
		tc, err := credentials.NewClientTLSFromFile(cert, "")
		if err != nil {
			t.Fatal(err)
		}
		conn, err = grpc.NewClient(tlsAddr, grpc.WithTransportCredentials(tc), grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: ts}))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := conn.Invoke(t.Context(), methodList, &emptypb.Empty{}, &structpb.Struct{}); err != nil {
			t.Errorf("List over TLS: %v", err)
		}
	})
}

// TestFlags: -tls-cert and -tls-key go together, and arguments are refused.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{{"-tls-cert", "a.pem"}, {"-tls-key", "k.pem"}, {"extra"}} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}
