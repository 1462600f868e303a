package grpcauth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

const realm = "bookings-api"

// The test services: Bookings has unary methods, BookingFeeds the same
// methods server-streaming (each answers twice), Admin is left unmatched
// by the rules, and the standard health service is public.
const (
	bookings     = "keyward.test.v1.Bookings"
	bookingFeeds = "keyward.test.v1.BookingFeeds"
	admin        = "keyward.test.v1.Admin"
	healthCheck  = "/grpc.health.v1.Health/Check"
)

// rulesFor are the rules of one Bookings-like service: Create needs
// bookings:create, WhoAmI any caller, the rest of the service
// bookings:read (first match wins, so Create and WhoAmI are not held to
// the prefix's scope).
func rulesFor(service string) []grpcauth.Rule {
	return []grpcauth.Rule{
		{Match: "/" + service + "/Create", Scopes: scopes.All("bookings:create")},
		{Match: "/" + service + "/WhoAmI"},
		{Match: "/" + service + "/", Scopes: scopes.All("bookings:read")},
	}
}

// testOptions are the rules of every test server.
func testOptions() grpcauth.Options {
	rules := append(rulesFor(bookings), rulesFor(bookingFeeds)...)
	return grpcauth.Options{Methods: append(rules, grpcauth.Rule{Match: "/grpc.health.v1.Health/", Public: true})}
}

// newAuthenticator is a dual-mode authenticator over a real test issuer
// and the test client registry (testdata/clients/clients.yaml: acme /
// acme-secret has bookings:read and reports:read, globex / globex-secret
// bookings:read and bookings:create, initech is disabled), after edit.
func newAuthenticator(t testing.TB, edit func(*keywardtest.Config)) (*keywardtest.Issuer, *dualauth.Authenticator) {
	t.Helper()
	iss := keywardtest.NewIssuer(t, "ES256")
	a := iss.Authenticator(t, func(c *keywardtest.Config) {
		reg, err := clients.Open("../testdata/clients/clients.yaml", clients.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c.Mode, c.Realm = dualauth.ModeDual, realm
		c.Clients = clientauth.Config{Verifier: reg}
		if edit != nil {
			edit(c)
		}
	})
	return iss, a
}

// who answers every test method: the caller the interceptors put in the
// handler's context, or {"authenticated": false}.
func who(ctx context.Context) (*structpb.Struct, error) {
	p, ok := dualauth.FromContext(ctx)
	if !ok {
		return structpb.NewStruct(map[string]any{"authenticated": false})
	}
	granted := make([]any, len(p.Scopes))
	for n, s := range p.Scopes {
		granted[n] = s
	}
	return structpb.NewStruct(map[string]any{
		"authenticated": true, "subject": p.Subject, "client_id": p.ClientID,
		"method": string(p.Method), "scopes": granted,
	})
}

// serviceDesc is a hand-written service of the given unary and
// server-streaming methods, all answering who.
func serviceDesc(name string, unary, streams []string) *grpc.ServiceDesc {
	sd := &grpc.ServiceDesc{ServiceName: name, HandlerType: (*any)(nil)}
	for _, m := range unary {
		full := "/" + name + "/" + m
		sd.Methods = append(sd.Methods, grpc.MethodDesc{MethodName: m,
			Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				if err := dec(new(emptypb.Empty)); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, _ any) (any, error) { return who(ctx) }
				if ic == nil {
					return h(ctx, nil)
				}
				return ic(ctx, nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: full}, h)
			}})
	}
	for _, m := range streams {
		sd.Streams = append(sd.Streams, grpc.StreamDesc{StreamName: m, ServerStreams: true,
			Handler: func(_ any, ss grpc.ServerStream) error {
				if err := ss.RecvMsg(new(emptypb.Empty)); err != nil {
					return err
				}
				for range 2 {
					msg, err := who(ss.Context())
					if err != nil {
						return err
					}
					if err := ss.SendMsg(msg); err != nil {
						return err
					}
				}
				return nil
			}})
	}
	return sd
}

// serverOptions lets a test add grpc.ServerOptions (TLS credentials).
type serverOptions []grpc.ServerOption

// transports are the ways tests reach a server: in process over bufconn,
// and over TCP on 127.0.0.1.
var transports = []string{"bufconn", "tcp"}

// listen returns a listener of the transport and a dialer for it.
func listen(t *testing.T, transport string) (net.Listener, func(context.Context, string) (net.Conn, error)) {
	t.Helper()
	if transport == "bufconn" {
		lis := bufconn.Listen(1 << 20)
		return lis, func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var d net.Dialer
	return lis, func(ctx context.Context, _ string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", lis.Addr().String())
	}
}

// serve starts a real grpc-go server with the test services behind kw on
// the transport, stopped when the test ends, and returns its listener's
// address and the dialer of a client (which the test may wrap).
func serve(t *testing.T, kw *grpcauth.Interceptors, transport string, opts serverOptions) (net.Addr, func(context.Context, string) (net.Conn, error)) {
	t.Helper()
	srv := grpc.NewServer(append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(kw.Unary()),
		grpc.ChainStreamInterceptor(kw.Stream()),
	}, opts...)...)
	srv.RegisterService(serviceDesc(bookings, []string{"List", "Create", "WhoAmI"}, nil), struct{}{})
	srv.RegisterService(serviceDesc(bookingFeeds, nil, []string{"List", "Create", "WhoAmI"}), struct{}{})
	srv.RegisterService(serviceDesc(admin, []string{"Purge"}, []string{"Tail"}), struct{}{})
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis, dial := listen(t, transport)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	t.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr(), dial
}

// connect returns a plaintext client of the server that dial reaches,
// closed when the test ends.
func connect(t *testing.T, dial func(context.Context, string) (net.Conn, error), opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithContextDialer(dial)}, opts...)
	if len(opts) == 1 {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	conn, err := grpc.NewClient("passthrough:///keyward-test", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// start serves kw over the transport and returns a plaintext client.
func start(t *testing.T, kw *grpcauth.Interceptors, transport string) *grpc.ClientConn {
	t.Helper()
	_, dial := serve(t, kw, transport, nil)
	return connect(t, dial)
}

// result is how a call ended, as the client sees it.
type result struct {
	code    codes.Code
	message string
	header  metadata.MD
	trailer metadata.MD
	who     map[string]any // the first answer, if any
	answers int
}

// call calls method (unary, or server-streaming when stream is set) with
// the request metadata md and an Empty request.
func call(t *testing.T, conn *grpc.ClientConn, method string, stream bool, md metadata.MD) result {
	t.Helper()
	ctx := metadata.NewOutgoingContext(t.Context(), md)
	var res result
	if !stream {
		out := new(structpb.Struct)
		err := conn.Invoke(ctx, method, new(emptypb.Empty), out, grpc.Header(&res.header), grpc.Trailer(&res.trailer))
		res.code, res.message = status.Code(err), status.Convert(err).Message()
		if err == nil {
			res.who, res.answers = out.AsMap(), 1
		}
		return res
	}
	cs, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, method)
	if err != nil {
		t.Fatalf("NewStream: %v", err)
	}
	if err := cs.SendMsg(new(emptypb.Empty)); err != nil && err != io.EOF {
		t.Fatalf("SendMsg: %v", err)
	}
	if err := cs.CloseSend(); err != nil {
		t.Fatalf("CloseSend: %v", err)
	}
	for {
		out := new(structpb.Struct)
		err := cs.RecvMsg(out)
		if err != nil {
			if err != io.EOF {
				res.code, res.message = status.Code(err), status.Convert(err).Message()
			}
			break
		}
		if res.who == nil {
			res.who = out.AsMap()
		}
		res.answers++
	}
	res.header, _ = cs.Header()
	res.trailer = cs.Trailer()
	return res
}

// Request metadata of each way to present credentials.
func bearerMD(token string) metadata.MD { return metadata.Pairs("authorization", "Bearer "+token) }

func basicMD(id, secret string) metadata.MD {
	return metadata.Pairs("authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(id+":"+secret)))
}

func clientMD(id, secret string) metadata.MD {
	return metadata.Pairs("client_id", id, "client_secret", secret)
}

// challenge is a Bearer challenge with error parameters, as the HTTP
// middleware writes it.
func challenge(params string) string { return `Bearer realm="bookings-api", ` + params }
