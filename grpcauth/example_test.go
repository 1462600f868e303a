package grpcauth_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

// whoAmIDesc is a service written without generated code: WhoAmI takes a
// google.protobuf.Empty and answers a google.protobuf.Struct naming the
// caller the interceptors verified.
var whoAmIDesc = grpc.ServiceDesc{
	ServiceName: "bookings.v1.Bookings",
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "WhoAmI",
		Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			if err := dec(new(emptypb.Empty)); err != nil {
				return nil, err
			}
			whoAmI := func(ctx context.Context, _ any) (any, error) {
				p, _ := dualauth.FromContext(ctx) // the interceptor put it there
				return structpb.NewStruct(map[string]any{"subject": p.Subject, "scopes": p.Scopes.String()})
			}
			return ic(ctx, nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/bookings.v1.Bookings/WhoAmI"}, whoAmI)
		},
	}},
}

// A gRPC server whose WhoAmI method needs the bookings:read scope and
// whose health service is public, called with a token, without one, and
// on the health service. A real service would trust its issuer's keys
// with jwks.NewRemote and serve on a TCP listener.
func Example() {
	key, err := keywardtest.NewKey("ES256")
	if err != nil {
		log.Fatal(err)
	}
	keys, err := jwks.NewStatic("example", key.Public())
	if err != nil {
		log.Fatal(err)
	}
	tokens, err := jwtauth.New(jwtauth.Config{Issuers: []jwtauth.Issuer{
		{Issuer: "https://issuer.example", Audiences: []string{"bookings-api"}, Keys: keys},
	}})
	if err != nil {
		log.Fatal(err)
	}
	a, err := dualauth.New(dualauth.Config{Realm: "bookings-api", Tokens: tokens})
	if err != nil {
		log.Fatal(err)
	}
	defer a.Close()

	kw := grpcauth.New(a, grpcauth.Options{Methods: []grpcauth.Rule{
		{Match: "/bookings.v1.Bookings/WhoAmI", Scopes: scopes.All("bookings:read")},
		{Match: "/grpc.health.v1.Health/", Public: true},
	}})
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(kw.Unary()), grpc.ChainStreamInterceptor(kw.Stream()))
	srv.RegisterService(&whoAmIDesc, nil)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient("passthrough:///bookings",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	token, err := key.Sign(jwt.MapClaims{
		"iss": "https://issuer.example", "aud": "bookings-api", "sub": "user-42",
		"exp": time.Now().Add(time.Hour).Unix(), "scope": "bookings:read",
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
	out := new(structpb.Struct)
	if err := conn.Invoke(ctx, "/bookings.v1.Bookings/WhoAmI", new(emptypb.Empty), out); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.Fields["subject"].GetStringValue(), out.Fields["scopes"].GetStringValue())

	var header metadata.MD
	err = conn.Invoke(context.Background(), "/bookings.v1.Bookings/WhoAmI", new(emptypb.Empty), out, grpc.Header(&header))
	fmt.Println(status.Code(err), status.Convert(err).Message(), header.Get("www-authenticate"))

	res, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	fmt.Println(res.GetStatus(), err)
	// Output:
	// user-42 bookings:read
	// Unauthenticated authentication is required [Bearer realm="bookings-api"]
	// SERVING <nil>
}
