// Command authserver is a development OAuth 2.0 authorization server for
// Keyward: it issues JWT access tokens (RFC 9068), or opaque ones for the
// clients a client options file says, to the clients of a registry file, with the token endpoints of the vendor styles Keyward
// supports, answers token introspection (RFC 7662) to the clients allowed
// it, and publishes its keys and metadata for discovery. For local work and
// CI only: keys, refresh tokens and opaque tokens live in memory.
//
//	go run ./examples/authserver &                  # http://127.0.0.1:9000, clients testdata/clients/clients.yaml
//	curl -u globex:globex-secret -d grant_type=client_credentials http://127.0.0.1:9000/oauth/token
//	go run ./examples/nethttp -config testdata/authserver/keyward.yaml   # a resource server trusting it
//
// With opaque tokens and introspection (testdata/authserver's clients):
//
//	go run ./examples/authserver -clients testdata/authserver/clients.yaml -client-options testdata/authserver/client-options.yaml &
//	curl -u opaque-app:opaque-app-secret -d grant_type=client_credentials http://127.0.0.1:9000/oauth/token
//	curl -u keyward-rs:keyward-rs-secret -d token=kwat_... http://127.0.0.1:9000/oauth/introspect
//
// DPoP-bound tokens (RFC 9449) need nothing more: a token request with a
// DPoP proof gets token_type DPoP and a token bound to the proof's key.
// Certificate-bound tokens (RFC 8705) need a TLS listener that asks for
// client certificates (testdata/authserver/tls's test CA and certificates):
//
//	go run ./examples/authserver -tls-cert testdata/authserver/tls/server.pem -tls-key testdata/authserver/tls/server.key \
//	  -client-ca testdata/authserver/tls/ca.pem &
//	curl --cacert testdata/authserver/tls/ca.pem --cert testdata/authserver/tls/client.pem --key testdata/authserver/tls/client.key \
//	  -u globex:globex-secret -d grant_type=client_credentials https://127.0.0.1:9000/oauth/token
//
// Flags:
//
//	-addr HOST:PORT     listen address (default 127.0.0.1:9000)
//	-clients FILE       client registry (default testdata/clients/clients.yaml), reloaded when it changes
//	-client-options FILE
//	                    which clients get opaque access tokens (token_format: opaque) and which
//	                    may introspect (introspect: true); read at start (default none: JWTs
//	                    for all, no introspection); see authserver.ReadClientOptions
//	-audience NAME      aud of the tokens (default bookings-api)
//	-issuer URL         iss of the tokens (default "http://" + the listening address)
//	-ttl DURATION       lifetime of every access token (default 0: 15m at /oauth/token,
//	                    1h at /oauth/v2/token and /api/oauth/token, 30 days at /connect/token)
//	-alg ALG            RS256 (default), ES256 or EdDSA
//	-rotate DURATION    rotate the signing key on this period (default 0: never)
//	-trusted-proxies CIDRS
//	                    comma-separated networks (10.0.0.0/8) or addresses (127.0.0.1)
//	                    of proxies whose X-Forwarded-For names the caller that failed
//	                    authentications are counted against, such as resource servers
//	                    exchanging their callers' credentials (default none: the peer)
//	-tls-cert FILE, -tls-key FILE
//	                    serve HTTPS with this PEM certificate (chain) and key (default: plain
//	                    HTTP); the default issuer is then "https://" + the listening address
//	-client-ca FILE     with -tls-cert: ask clients for certificates and verify those given
//	                    against these PEM CA certificates (a client without one is still served);
//	                    a token request with a certificate gets a token bound to it (cnf
//	                    x5t#S256), and the metadata says tls_client_certificate_bound_access_tokens
//	-debug              log at debug level
//
// It logs to standard error with log/slog and stops cleanly on SIGINT or
// SIGTERM.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/examples/internal/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "authserver:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	addr, clients, clientOptions string
	audience, issuer, alg        string
	ttl, rotate                  time.Duration
	trustedProxies               []string
	tlsCert, tlsKey, clientCA    string
	debug                        bool
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("authserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9000", "listen address `HOST:PORT`")
	fs.StringVar(&o.clients, "clients", "testdata/clients/clients.yaml", "client registry `file` (YAML, hashed secrets)")
	fs.StringVar(&o.clientOptions, "client-options", "", "client options `file` (YAML): token_format (jwt or opaque) and introspect per client_id")
	fs.StringVar(&o.audience, "audience", "bookings-api", "aud of issued tokens")
	fs.StringVar(&o.issuer, "issuer", "", "iss of issued tokens and of the metadata (default \"http://\" + the listening address)")
	fs.DurationVar(&o.ttl, "ttl", 0, "lifetime of every access token (0: each endpoint's own, 15m to 30 days)")
	fs.StringVar(&o.alg, "alg", authserver.DefaultAlgorithm, "signing algorithm: RS256, ES256 or EdDSA")
	fs.DurationVar(&o.rotate, "rotate", 0, "rotate the signing key on this period (0: never)")
	fs.Func("trusted-proxies", "comma-separated `CIDRs` or addresses of proxies (and resource servers exchanging credentials) whose X-Forwarded-For is believed; repeatable",
		func(v string) error {
			for p := range strings.SplitSeq(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					o.trustedProxies = append(o.trustedProxies, p)
				}
			}
			return nil
		})
	fs.StringVar(&o.tlsCert, "tls-cert", "", "serve HTTPS with this PEM certificate `file` (with -tls-key)")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key `file` of -tls-cert")
	fs.StringVar(&o.clientCA, "client-ca", "", "PEM CA certificates `file`: ask clients for certificates, verify those given, bind tokens to them (needs -tls-cert)")
	fs.BoolVar(&o.debug, "debug", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	case (o.tlsCert == "") != (o.tlsKey == ""):
		return o, errors.New("-tls-cert and -tls-key go together")
	case o.clientCA != "" && o.tlsCert == "":
		return o, errors.New("-client-ca needs -tls-cert and -tls-key: client certificates come over TLS")
	}
	return o, nil
}

// tlsConfig is the TLS configuration of the flags, nil without -tls-cert:
// the server's certificate and, with -client-ca, client certificates asked
// for and verified against those CAs when given.
func (o options) tlsConfig() (*tls.Config, error) {
	if o.tlsCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
	if err != nil {
		return nil, fmt.Errorf("-tls-cert, -tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if o.clientCA != "" {
		pem, err := os.ReadFile(o.clientCA)
		if err != nil {
			return nil, fmt.Errorf("-client-ca: %w", err)
		}
		cfg.ClientCAs = x509.NewCertPool()
		if !cfg.ClientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("-client-ca: no PEM certificate in %s", o.clientCA)
		}
		// A client without a certificate still gets (unbound) tokens.
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// run serves the authorization server until ctx is done, then shuts down
// cleanly. It logs to stderr and prints the issuer and a sample request to
// stdout once it listens. If listening is not nil, it receives the bound
// address (HOST:PORT) then.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, listening chan<- string) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("server", "authserver")

	registry, err := clients.Open(o.clients, clients.Options{Logger: logger})
	if err != nil {
		return err
	}
	var clientOptions map[string]authserver.ClientOptions
	if o.clientOptions != "" {
		if clientOptions, err = authserver.ReadClientOptions(o.clientOptions); err != nil {
			return err
		}
	}
	tlsConfig, err := o.tlsConfig()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	scheme := "http://"
	if tlsConfig != nil {
		scheme = "https://"
		ln = tls.NewListener(ln, tlsConfig)
	}
	if o.issuer == "" {
		o.issuer = scheme + ln.Addr().String()
	}
	srv, err := authserver.New(authserver.Config{
		Issuer:         o.issuer,
		Audience:       o.audience,
		Clients:        registry,
		ClientOptions:  clientOptions,
		Algorithm:      o.alg,
		TTL:            o.ttl,
		RotateEvery:    o.rotate,
		TrustedProxies: o.trustedProxies,
		MutualTLS:      o.clientCA != "",
		Logger:         logger,
	})
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go registry.Watch(ctx, syscall.SIGHUP)
	go srv.Run(ctx)

	logger.Info("listening", "url", scheme+ln.Addr().String(), "issuer", o.issuer, "audience", o.audience,
		"alg", o.alg, "clients", o.clients, "clients_count", registry.Len(), "client_options", o.clientOptions, "trusted_proxies", strings.Join(o.trustedProxies, ","),
		"client_ca", o.clientCA)
	return server.Serve(ctx, ln, srv.Handler(), logger, func() {
		fmt.Fprintf(stdout, "issuer:    %s\ndiscovery: %s%s\ntry:       curl -u CLIENT_ID:CLIENT_SECRET -d grant_type=client_credentials %s%s%s\n",
			o.issuer, o.issuer, authserver.PathOpenIDConfiguration, scheme, ln.Addr(), authserver.PathToken)
		if listening != nil {
			listening <- ln.Addr().String()
		}
	})
}
