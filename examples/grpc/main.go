// Command grpc is the bookings API as a gRPC service, bookings.v1.Bookings
// (List, Create, WhoAmI; see service.go), with the standard health
// service, grpc.health.v1.Health, protected by Keyward's interceptors
// (package grpcauth) with the rules of the config file's grpc section. With
// -client, it is a client of that service instead.
//
//	go run ./examples/authserver &                  # tokens: http://127.0.0.1:9000
//	go run ./examples/grpc -config examples/grpc/keyward.yaml -addr 127.0.0.1:9090 &
//	go run ./examples/grpc -client -metadata -addr 127.0.0.1:9090                 # client id and secret as metadata
//	go run ./examples/grpc -client -addr 127.0.0.1:9090 -ca server.pem   # a token, over TLS
//
// The server speaks plaintext unless -tls-cert and -tls-key are given;
// plaintext is for loopback. A token needs TLS: the client gets one from
// the authorization server with x/oauth2's clientcredentials and sends it
// with every call through grpc.WithPerRPCCredentials(oauth.TokenSource{}),
// which refuses to send it over plaintext. With -metadata it sends the
// client id and secret as client_id and client_secret metadata instead
// (the config's credentials.client_id_header and client_secret_header,
// lower-cased), which plaintext carries too.
//
// Server flags:
//
//	-config FILE        Keyward config file with a grpc section (default examples/grpc/keyward.yaml)
//	-addr HOST:PORT     listen address (default 127.0.0.1:9090)
//	-tls-cert FILE      PEM certificate chain; with -tls-key, serve TLS
//	-tls-key FILE       PEM private key
//	-debug              log the cause of each refusal too (never tokens or secrets)
//
// Client flags (with -client):
//
//	-addr HOST:PORT     the server (default 127.0.0.1:9090)
//	-ca FILE            PEM certificate to trust for the server's: TLS (needed for a token)
//	-token-url URL      token endpoint (default http://127.0.0.1:9000/oauth/token)
//	-client-id ID       (default globex)
//	-client-secret S    (default globex-secret)
//	-metadata           send the client id and secret as metadata instead of a token
//	-guest NAME         the guest of the booking Create makes (default Ada)
//
// The client calls Health.Check, WhoAmI, List and Create, and prints one
// line for each: the method, then OK and the answer as JSON, or the status
// code and message of the refusal.
package main

import (
	"context"
	"crypto/tls"
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

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/credentials/oauth"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/config/grpcconfig"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "grpc:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	client                            bool
	configPath, addr, tlsCert, tlsKey string
	debug                             bool
	ca, tokenURL, clientID, secret    string
	metadata                          bool
	guest                             string
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("grpc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.BoolVar(&o.client, "client", false, "be a client of the service instead of serving it")
	fs.StringVar(&o.addr, "addr", "127.0.0.1:9090", "listen address, or the server's with -client (`HOST:PORT`)")
	fs.StringVar(&o.configPath, "config", "examples/grpc/keyward.yaml", "Keyward config `file` with a grpc section")
	fs.StringVar(&o.tlsCert, "tls-cert", "", "PEM certificate chain `file`; with -tls-key, serve TLS")
	fs.StringVar(&o.tlsKey, "tls-key", "", "PEM private key `file`")
	fs.BoolVar(&o.debug, "debug", false, "log the cause of each refusal too (never tokens or secrets)")
	fs.StringVar(&o.ca, "ca", "", "client: PEM certificate `file` to trust for the server's (TLS; needed for a token)")
	fs.StringVar(&o.tokenURL, "token-url", "http://127.0.0.1:9000/oauth/token", "client: token endpoint `URL`")
	fs.StringVar(&o.clientID, "client-id", "globex", "client: client `id`")
	fs.StringVar(&o.secret, "client-secret", "globex-secret", "client: client `secret`")
	fs.BoolVar(&o.metadata, "metadata", false, "client: send the client id and secret as metadata instead of a token")
	fs.StringVar(&o.guest, "guest", "Ada", "client: the guest of the booking Create makes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return o, errors.New("-tls-cert and -tls-key go together")
	}
	return o, nil
}

// run serves the service, or with -client calls it, until ctx is done. If
// listening is not nil, the server sends it the bound address once it
// accepts calls.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, listening chan<- string) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	if o.client {
		return runClient(ctx, o, stdout)
	}
	level := slog.LevelInfo
	if o.debug {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})).With("server", "grpc")
	return serve(ctx, o, logger, listening)
}

// serve builds the Authenticator and the interceptors from the config
// file and serves until ctx is done, then stops gracefully.
func serve(ctx context.Context, o options, logger *slog.Logger, listening chan<- string) error {
	f, err := config.Read(o.configPath)
	if err != nil {
		return err
	}
	rules, err := grpcconfig.Options(f) // before Config starts anything
	if err != nil {
		return err
	}
	rules.Logger = logger
	var serverOpts []grpc.ServerOption
	if o.tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return err
		}
		serverOpts = append(serverOpts, grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	}
	cfg, err := f.Config(ctx, config.Options{Logger: logger, ReloadOnSIGHUP: true})
	if err != nil {
		return err
	}
	authn, err := dualauth.New(cfg)
	if err != nil {
		return err
	}
	defer authn.Close()
	kw := grpcauth.New(authn, rules)

	srv := grpc.NewServer(append(serverOpts,
		grpc.ChainUnaryInterceptor(kw.Unary()),
		grpc.ChainStreamInterceptor(kw.Stream()), // the health service's Watch
	)...)
	srv.RegisterService(&serviceDesc, &bookings{})
	hs := health.NewServer()
	hs.SetServingStatus(serviceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends when srv stops
	logger.Info("listening", "addr", ln.Addr().String(), "tls", o.tlsCert != "", "config", o.configPath)
	if listening != nil {
		listening <- ln.Addr().String()
	}
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	hs.Shutdown() // health watchers hear NOT_SERVING
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }() // ends when the calls in flight have, or once Stop cuts them
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		srv.Stop()
		<-stopped
	}
	<-served
	return nil
}

// runClient dials the server as o says and prints the answers of its
// four calls.
func runClient(ctx context.Context, o options, stdout io.Writer) error {
	conn, err := dial(ctx, o)
	if err != nil {
		return err
	}
	defer conn.Close()
	if o.metadata {
		ctx = metadata.AppendToOutgoingContext(ctx,
			strings.ToLower(dualauth.DefaultClientIDHeader), o.clientID,
			strings.ToLower(dualauth.DefaultClientSecretHeader), o.secret)
	}
	booking, _ := structpb.NewStruct(map[string]any{"guest": o.guest})
	for _, c := range []struct {
		name, method string
		in           proto.Message
		out          proto.Message
	}{
		{"Health.Check", "/grpc.health.v1.Health/Check", &healthpb.HealthCheckRequest{Service: serviceName}, &healthpb.HealthCheckResponse{}},
		{"WhoAmI", methodWhoAmI, &emptypb.Empty{}, &structpb.Struct{}},
		{"List", methodList, &emptypb.Empty{}, &structpb.Struct{}},
		{"Create", methodCreate, booking, &structpb.Struct{}},
	} {
		if err := conn.Invoke(ctx, c.method, c.in, c.out); err != nil {
			s := status.Convert(err)
			fmt.Fprintf(stdout, "%-12s %s: %s\n", c.name, s.Code(), s.Message())
			continue
		}
		answer, err := protojson.Marshal(c.out)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%-12s OK %s\n", c.name, answer)
	}
	return nil
}

// dial connects to the server: over TLS trusting -ca if it is set, else
// over plaintext; with a token from the token endpoint on every call
// unless -metadata.
func dial(ctx context.Context, o options) (*grpc.ClientConn, error) {
	transport := insecure.NewCredentials()
	if o.ca != "" {
		tc, err := credentials.NewClientTLSFromFile(o.ca, "")
		if err != nil {
			return nil, err
		}
		transport = tc
	}
	dialOpts := []grpc.DialOption{grpc.WithTransportCredentials(transport)}
	if !o.metadata {
		if o.ca == "" {
			return nil, errors.New("a token is sent over TLS only: give -ca (the server's certificate), or -metadata")
		}
		cc := clientcredentials.Config{ClientID: o.clientID, ClientSecret: o.secret, TokenURL: o.tokenURL, AuthStyle: oauth2.AuthStyleInHeader}
		// The token source fetches a token when it has none or it expires,
		// with ctx's values (and its end) for those requests.
		dialOpts = append(dialOpts, grpc.WithPerRPCCredentials(oauth.TokenSource{TokenSource: cc.TokenSource(ctx)}))
	}
	return grpc.NewClient(o.addr, dialOpts...)
}
