package main

import (
	"context"
	"strconv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/keyward/keyward/dualauth"
)

// The service is written by hand over the well-known types, as protoc
// would generate it from:
//
//	package bookings.v1;
//	service Bookings {
//	  rpc List(google.protobuf.Empty) returns (google.protobuf.Struct);    // {"bookings": [{"id", "guest", "created_by"}]}
//	  rpc Create(google.protobuf.Struct) returns (google.protobuf.Struct); // {"guest"} -> the booking
//	  rpc WhoAmI(google.protobuf.Empty) returns (google.protobuf.Struct);  // the verified caller
//	}

// Full method names of the service.
const (
	serviceName  = "bookings.v1.Bookings"
	methodList   = "/" + serviceName + "/List"
	methodCreate = "/" + serviceName + "/Create"
	methodWhoAmI = "/" + serviceName + "/WhoAmI"
)

// bookingsServer is what serviceDesc dispatches to.
type bookingsServer interface {
	List(context.Context, *emptypb.Empty) (*structpb.Struct, error)
	Create(context.Context, *structpb.Struct) (*structpb.Struct, error)
	WhoAmI(context.Context, *emptypb.Empty) (*structpb.Struct, error)
}

// serviceDesc describes bookings.v1.Bookings to grpc.Server.RegisterService.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: serviceName,
	HandlerType: (*bookingsServer)(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "List", Handler: unary(methodList, bookingsServer.List)},
		{MethodName: "Create", Handler: unary(methodCreate, bookingsServer.Create)},
		{MethodName: "WhoAmI", Handler: unary(methodWhoAmI, bookingsServer.WhoAmI)},
	},
	Metadata: "bookings/v1/bookings.proto",
}

// unary is the grpc.MethodDesc handler of a unary method that takes a
// *Req: it decodes the request and calls call through the server's
// interceptors.
func unary[Req any](fullMethod string, call func(bookingsServer, context.Context, *Req) (*structpb.Struct, error)) func(any, context.Context, func(any) error, grpc.UnaryServerInterceptor) (any, error) {
	return func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
		in := new(Req)
		if err := dec(in); err != nil {
			return nil, err
		}
		s := srv.(bookingsServer)
		if interceptor == nil {
			return call(s, ctx, in)
		}
		info := &grpc.UnaryServerInfo{Server: srv, FullMethod: fullMethod}
		return interceptor(ctx, in, info, func(ctx context.Context, req any) (any, error) {
			return call(s, ctx, req.(*Req))
		})
	}
}

// bookings is the service: bookings in memory.
type bookings struct {
	mu   sync.Mutex
	list []*structpb.Value
}

// List returns every booking.
func (b *bookings) List(context.Context, *emptypb.Empty) (*structpb.Struct, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return &structpb.Struct{Fields: map[string]*structpb.Value{
		"bookings": structpb.NewListValue(&structpb.ListValue{Values: append([]*structpb.Value(nil), b.list...)}),
	}}, nil
}

// Create adds a booking for the request's guest, made by the caller.
func (b *bookings) Create(ctx context.Context, in *structpb.Struct) (*structpb.Struct, error) {
	guest := in.GetFields()["guest"].GetStringValue()
	if guest == "" {
		return nil, status.Error(codes.InvalidArgument, "guest is required")
	}
	p, ok := dualauth.FromContext(ctx) // the interceptor put it there, unless a rule made Create public
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no verified caller")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	booking := &structpb.Struct{Fields: map[string]*structpb.Value{
		"id":         structpb.NewStringValue(strconv.Itoa(len(b.list) + 1)),
		"guest":      structpb.NewStringValue(guest),
		"created_by": structpb.NewStringValue(p.ClientID),
	}}
	b.list = append(b.list, structpb.NewStructValue(booking))
	return booking, nil
}

// WhoAmI returns the verified caller: subject, client_id, method (jwt or
// credentials), issuer and scopes.
func (b *bookings) WhoAmI(ctx context.Context, _ *emptypb.Empty) (*structpb.Struct, error) {
	p, ok := dualauth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Unauthenticated, "no verified caller") // the rules make this unreachable
	}
	scopes := make([]any, len(p.Scopes))
	for i, s := range p.Scopes {
		scopes[i] = s
	}
	return structpb.NewStruct(map[string]any{
		"subject":   p.Subject,
		"client_id": p.ClientID,
		"method":    string(p.Method),
		"issuer":    p.Issuer,
		"scopes":    scopes,
	})
}
