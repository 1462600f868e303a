package redisstore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/internal/throttle"
)

// testCA makes a CA and a certificate for 127.0.0.1 signed by it, writes
// the server's files to dir, and returns a pool that trusts the CA.
func testCA(t *testing.T, dir string) (certFile, keyFile, caFile string, pool *x509.CertPool) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "keyward test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return write("server.crt", "CERTIFICATE", der), write("server.key", "PRIVATE KEY", keyDER), write("ca.crt", "CERTIFICATE", caDER), pool
}

// TestRedisTLS: a rediss:// URL reaches a TLS-only redis-server whose
// certificate a configured CA signed, and the throttle counts there; the
// certificate is verified (without the CA, every call fails, and the
// throttle still limits in memory).
func TestRedisTLS(t *testing.T) {
	testredis.Need(t)
	dir := t.TempDir()
	cert, key, ca, pool := testCA(t, dir)
	srv := testredis.Start(t, true, "--tls-cert-file", cert, "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no")
	url := "rediss://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/0"

	// A TLS handshake under -race on a loaded machine can outlast the
	// default 100ms per call.
	s, err := New(throttle.RedisOptions{URL: url, TLSConfig: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping over TLS: %v", err)
	}
	th := throttle.NewWithStore(throttle.Limits{MaxClientFailures: 2, MaxAddrFailures: 50, Window: time.Minute}, s, time.Now)
	allowed := 0
	for range 5 {
		if guess(th, "acme", "192.0.2.1") {
			allowed++
		}
	}
	if allowed != 2 || s.StoreErrors() != 0 {
		t.Fatalf("over TLS: %d allowed, %d store errors; want 2, 0", allowed, s.StoreErrors())
	}

	logger, buf := testLogger()
	untrusting, err := New(throttle.RedisOptions{URL: url, Logger: logger, Timeout: 2 * time.Second}) // the first use loads the system roots
	if err != nil {
		t.Fatal(err)
	}
	defer untrusting.Close()
	if err := untrusting.Ping(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Ping without the CA: %v; want a certificate error", err)
	}
	if !strings.Contains(buf.String(), "redis is unavailable") {
		t.Fatalf("no outage logged:\n%s", buf.String())
	}
	// A plain connection to the TLS port does not work either.
	plain, err := New(throttle.RedisOptions{URL: "redis://127.0.0.1:" + strconv.Itoa(srv.Port()) + "/0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if err := plain.Ping(context.Background()); err == nil {
		t.Fatal("a plain connection to the TLS port worked")
	}
}

// TestRedisPassword: a password in the URL authenticates, and a wrong one
// is an outage whose log and errors never show it.
func TestRedisPassword(t *testing.T) {
	srv := testredis.Start(t, false, "--requirepass", "correct-horse-battery")
	logger, buf := testLogger()
	good, err := New(throttle.RedisOptions{URL: "redis://:correct-horse-battery@" + srv.Addr() + "/0", Logger: logger, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer good.Close()
	if err := good.Ping(context.Background()); err != nil {
		t.Fatalf("Ping with the password: %v", err)
	}
	if s := good.String(); strings.Contains(s, "correct-horse") || !strings.Contains(s, "…@") {
		t.Fatalf("String() = %q, want the password redacted", s)
	}
	bad, err := New(throttle.RedisOptions{URL: "redis://default:wrong-staple-guess@" + srv.Addr() + "/0", Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	err = bad.Ping(context.Background())
	if err == nil {
		t.Fatal("Ping with a wrong password succeeded")
	}
	th := throttle.NewWithStore(throttle.Limits{MaxClientFailures: 1, MaxAddrFailures: 50, Window: time.Minute}, bad, time.Now)
	if r, _, err := th.Admit("acme", "192.0.2.1"); r != nil || !errors.Is(err, throttle.ErrStoreUnavailable) {
		t.Fatalf("with a wrong password: %v, %v; want the check refused, throttle.ErrStoreUnavailable", r, err)
	}
	for _, text := range []string{err.Error(), buf.String()} {
		if strings.Contains(text, "wrong-staple") || strings.Contains(text, "correct-horse") {
			t.Fatalf("a password leaked: %s", text)
		}
	}
}

// TestRedisURLs: the URL forms NewRedisStore takes, and its errors, which
// never quote a password.
func TestRedisURLs(t *testing.T) {
	const pw = "pa55word-do-not-print"
	s, err := New(throttle.RedisOptions{URL: "rediss://user:" + pw + "@redis.example:6380/2"})
	if err != nil {
		t.Fatal(err)
	}
	o := s.client.Options()
	if o.TLSConfig == nil || o.TLSConfig.ServerName != "redis.example" || o.Addr != "redis.example:6380" || o.DB != 2 || o.Password != pw {
		t.Fatalf("rediss:// options: TLS %v, addr %s, db %d", o.TLSConfig, o.Addr, o.DB)
	}
	if o.MaxRetries != 0 /* -1, no retry, once the client set it up */ || o.ReadTimeout != DefaultTimeout || s.prefix != DefaultKeyPrefix {
		t.Fatalf("defaults: retries %d, timeout %s, prefix %q", o.MaxRetries, o.ReadTimeout, s.prefix)
	}
	_ = s.Close()
	s, err = New(throttle.RedisOptions{URL: "redis://127.0.0.1:6379/0", KeyPrefix: "kw:", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if o := s.client.Options(); o.TLSConfig != nil || o.ReadTimeout != time.Second || s.prefix != "kw:" {
		t.Fatalf("redis:// options: TLS %v, timeout %s, prefix %q", o.TLSConfig, o.ReadTimeout, s.prefix)
	}
	_ = s.Close()

	for _, bad := range []throttle.RedisOptions{
		{URL: "http://u:" + pw + "@127.0.0.1:6379"},
		{URL: "redis://u:" + pw + "@127.0.0.1:port"},
		{URL: "redis://u:" + pw + "%zz@127.0.0.1:6379"},
		{URL: "redis://u:" + pw + "@127.0.0.1:6379/db"},
		{URL: "redis://u:" + pw + "@127.0.0.1:6379/0?password=x"},
		{URL: "redis://u:" + pw + "@127.0.0.1:6379/0", TLSConfig: &tls.Config{}},
		{URL: "unix://u:" + pw + "@/tmp/redis.sock"},
		{URL: "redis:u:" + pw + "@127.0.0.1:6379/0"},   // opaque: go-redis would dial localhost:6379
		{URL: "redis:/:" + pw + "@127.0.0.1:6379/0"},   // no host: the password lands in the path
		{URL: "redis:///:" + pw + "@127.0.0.1:6379/0"}, // likewise
		{URL: "redis://127.0.0.1:6379/0?db=" + pw},     // go-redis quotes the value
	} {
		_, err := New(bad)
		if err == nil {
			t.Errorf("%s: no error", RedactURL(bad.URL))
			continue
		}
		if strings.Contains(err.Error(), "pa55") {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"redis://u:" + pw + "@h:1/0", "redis://…@h:1/0"},
		{"redis://secretuser@h:1/0", "redis://…@h:1/0"},
		{"rediss://h:1/0?password=" + pw + "&db=3", "rediss://h:1/0?password=…&db=…"},
		{"redis://h:1", "redis://h:1"},
		{"redis://h:1/%zz?password=" + pw, "(a redis URL that does not parse)"},
		{"redis:u:" + pw + "@h:1/0", "(a redis URL without a host)"},
		{"redis:/:" + pw + "@h:1/0", "(a redis URL without a host)"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(…) = %q, want %q", got, tc.want)
		}
	}
}
