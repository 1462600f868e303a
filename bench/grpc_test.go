package bench_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/keyward/keyward/bench/internal/suite"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/scopes"
)

// The gRPC service of the benchmarks: one unary method, Empty in and out.
const (
	grpcService = "keyward.bench.v1.Bookings"
	grpcList    = "/" + grpcService + "/List"
	// grpcAlg signs the reused token; a reused token is answered from the
	// verified-token cache, so the algorithm hardly matters.
	grpcAlg = "ES256"
)

// The servers a gRPC call goes through: none has no interceptor at all,
// public has Keyward's interceptor with List matched by a public rule,
// reused has the interceptor requiring suite.Scope on List, called with a
// Bearer token it has verified once already.
const (
	callNone   = "none"
	callPublic = "public"
	callReused = "reused"
)

var grpcCalls = []string{callNone, callPublic, callReused}

// BenchmarkGRPC runs one unary call per iteration from a real grpc-go
// client to a real grpc-go server over bufconn (an in-process listener, so
// both ends are in the process and in allocs/op):
//
//	BenchmarkGRPC/call=reused/run=serial
//
// call=none has no interceptor; call=public the interceptor with the
// method public; call=reused the interceptor checking a Bearer JWT of the
// suite's issuer for suite.Scope, the same token every time (cached after
// the first call). reused − none is what the interceptor costs a call.
// run=parallel is b.RunParallel over one ClientConn.
func BenchmarkGRPC(b *testing.B) {
	for _, call := range grpcCalls {
		b.Run("call="+call, func(b *testing.B) {
			for _, run := range []string{"serial", "parallel"} {
				b.Run("run="+run, func(b *testing.B) {
					conn := startGRPC(b, call)
					ctx := grpcCallContext(b.Context(), call, env.Reused(grpcAlg))
					// One call before the timer: it must pass, and it puts
					// the token in the cache.
					if err := invokeList(ctx, conn); err != nil {
						b.Fatalf("call=%s: %v", call, err)
					}
					benchLoop(b, run == "parallel", func(int) error { return invokeList(ctx, conn) })
				})
			}
		})
	}
}

// TestGRPCServers checks that the benchmark's servers do what their names
// say: none and public answer a call without credentials and put no
// caller in the context, reused answers the token with a caller and
// refuses no token, a token lacking the scope and an expired one.
func TestGRPCServers(t *testing.T) {
	good := env.Reused(grpcAlg)
	noScope, err := env.Mint(grpcAlg, jwt.MapClaims{"scope": "reports:read"})
	if err != nil {
		t.Fatal(err)
	}
	expired, err := env.Expired(grpcAlg)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		call  string
		token string
		want  codes.Code
	}{
		{callNone, "", codes.OK},
		{callPublic, "", codes.OK},
		{callReused, good, codes.OK},
		{callReused, "", codes.Unauthenticated},
		{callReused, noScope, codes.PermissionDenied},
		{callReused, expired, codes.Unauthenticated},
	}
	for _, tt := range tests {
		conn := startGRPC(t, tt.call)
		ctx := t.Context()
		if tt.token != "" {
			ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tt.token)
		}
		// The handler refuses with FailedPrecondition when the caller's
		// presence is not what the server's kind implies.
		if got := status.Code(invokeList(ctx, conn)); got != tt.want {
			t.Errorf("call=%s, token set %t: status %v, want %v", tt.call, tt.token != "", got, tt.want)
		}
	}
}

// startGRPC serves the benchmark service behind the server of kind call on
// bufconn, stopped when tb ends, and returns a plaintext client of it.
func startGRPC(tb testing.TB, call string) *grpc.ClientConn {
	tb.Helper()
	var opts []grpc.ServerOption
	if call != callNone {
		a, err := suite.NewKeyward(context.Background(), env.Trust())
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { _ = a.Close() })
		rule := grpcauth.Rule{Match: grpcList, Scopes: scopes.All(suite.Scope)}
		if call == callPublic {
			rule = grpcauth.Rule{Match: grpcList, Public: true}
		}
		kw := grpcauth.New(a, grpcauth.Options{Methods: []grpcauth.Rule{rule}})
		opts = append(opts, grpc.ChainUnaryInterceptor(kw.Unary()))
	}
	srv := grpc.NewServer(opts...)
	srv.RegisterService(listService(call == callReused), struct{}{})
	lis := bufconn.Listen(1 << 20)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	tb.Cleanup(func() {
		srv.Stop()
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			tb.Errorf("Serve: %v", err)
		}
	})
	conn, err := grpc.NewClient("passthrough:///keyward-bench",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = conn.Close() })
	return conn
}

// errCaller is the handler's answer when the caller in its context is not
// what the server's kind implies.
var errCaller = status.Error(codes.FailedPrecondition, "unexpected caller in the context")

// listService is the hand-written service: List decodes an Empty and
// answers one (the same message every time, so the handler allocates
// nothing of its own), after checking that a caller is in the context
// exactly when wantCaller is set.
func listService(wantCaller bool) *grpc.ServiceDesc {
	answer := new(emptypb.Empty)
	handler := func(ctx context.Context, _ any) (any, error) {
		if _, ok := dualauth.FromContext(ctx); ok != wantCaller {
			return nil, errCaller
		}
		return answer, nil
	}
	return &grpc.ServiceDesc{
		ServiceName: grpcService,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "List",
			Handler: func(srv any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
				if err := dec(new(emptypb.Empty)); err != nil {
					return nil, err
				}
				if ic == nil {
					return handler(ctx, nil)
				}
				return ic(ctx, nil, &grpc.UnaryServerInfo{Server: srv, FullMethod: grpcList}, handler)
			},
		}},
	}
}

// grpcCallContext is the context every call of a benchmark is made with,
// built once: for call=reused it carries the Bearer token as outgoing
// metadata.
func grpcCallContext(ctx context.Context, call, token string) context.Context {
	if call != callReused {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, metadata.Pairs("authorization", "Bearer "+token))
}

// invokeList calls List with an Empty request.
func invokeList(ctx context.Context, conn *grpc.ClientConn) error {
	return conn.Invoke(ctx, grpcList, new(emptypb.Empty), new(emptypb.Empty))
}
