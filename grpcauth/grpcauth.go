// Package grpcauth adapts Keyward's framework-free core, package dualauth,
// to gRPC servers: a unary and a stream server interceptor that
// authenticate each call with the same *dualauth.Authenticator, the same
// modes and the same answers as the net/http middleware. It is the only
// Keyward package that imports google.golang.org/grpc, so a program that
// serves only HTTP never links gRPC.
//
// Each call's full method ("/pkg.Service/Method") is matched against
// Options.Methods, first match wins: a public method passes without
// authentication, any other needs a caller whose scopes meet the rule's
// requirement. A method no rule matches is refused (Options.Unmatched
// says otherwise). The verified caller is in the handler's context, read
// with dualauth.FromContext as on HTTP:
//
//	a, err := dualauth.New(cfg) // cfg from config.Load, or built in Go
//	if err != nil {
//		log.Fatal(err)
//	}
//	defer a.Close()
//	kw := grpcauth.New(a, grpcauth.Options{
//		Methods: []grpcauth.Rule{
//			{Match: "/bookings.v1.Bookings/List", Scopes: scopes.All("bookings:read")},
//			{Match: "/bookings.v1.Bookings/Create", Scopes: scopes.All("bookings:create")},
//			{Match: "/bookings.v1.Bookings/WhoAmI"}, // any authenticated caller
//			{Match: "/grpc.health.v1.Health/", Public: true},
//		},
//		Logger: logger,
//	})
//	srv := grpc.NewServer(
//		grpc.ChainUnaryInterceptor(kw.Unary()),
//		grpc.ChainStreamInterceptor(kw.Stream()),
//	)
//
// and in a handler:
//
//	p, _ := dualauth.FromContext(ctx) // *dualauth.Principal
//
// # Credentials
//
// The interceptors read the call's request metadata as the HTTP
// middleware reads request headers: "authorization: Bearer <token>" or
// "authorization: Basic <id:secret>", or the client id and secret headers
// the Authenticator is configured with (dualauth.Config.ClientIDHeader and
// ClientSecretHeader; gRPC metadata keys are lower case, and header names
// ignore case, so "client_id" and "client_secret" by default). Every value
// of a repeated key counts: two authorization entries are refused as two
// Authorization headers are. Pseudo-headers (":authority" and the like),
// keys starting with "grpc-" (reserved by gRPC), binary keys ending in
// "-bin" and "host" are never read as headers. The peer address is the
// caller's address for the throttle on failed client credentials, and an
// "x-forwarded-for" entry counts only when that peer is a trusted proxy
// (dualauth.Config.TrustedProxies), exactly as on HTTP.
//
// # Sender-constrained tokens
//
// A DPoP-bound token (RFC 9449, with jwtauth.Config.DPoP) comes as
// "authorization: DPoP <token>" with its proof in one "dpop" entry. A
// call is an HTTP/2 POST, so the proof's htm is POST and its htu is the
// scheme ("https" when the connection is TLS, else "http"), "://", the
// call's :authority as the client sent it and the full method: for
// grpc-go dialing "dns:///bookings.example.com:443" over TLS,
// "https://bookings.example.com:443/bookings.v1.Bookings/List" (grpc-go's
// :authority is the dial target's host and port, or grpc.WithAuthority's).
// Refusals carry the DPoP challenge and any dpop-nonce as
// metadata (see Refusals). A certificate-bound token (RFC 8705, cnf
// x5t#S256) passes only over mutual TLS with the certificate it is bound
// to: the peer's TLS connection state is the request's r.TLS (see
// jwtauth.CertificateBound).
//
// # Refusals
//
// A refused call ends with a status whose message is the refusal's
// description, the same text the HTTP middleware's JSON body carries (never
// its cause):
//
//	no credentials, invalid_token, invalid_client   Unauthenticated
//	invalid_request                                 InvalidArgument
//	insufficient_scope, a method refused unmatched  PermissionDenied
//	too_many_requests                               ResourceExhausted
//	temporarily_unavailable                         Unavailable
//
// The challenges the HTTP middleware writes as WWW-Authenticate headers are
// sent as "www-authenticate" response header metadata, one entry each, and
// the retry delay of ResourceExhausted and Unavailable as "retry-after"
// header metadata, in whole seconds as HTTP's Retry-After. Since a refused
// call sends no message, gRPC sends that metadata together with the
// status (a Trailers-Only response): grpc-go clients read it with the
// grpc.Header call option (or ClientStream.Header), and it is not in the
// grpc.Trailer metadata.
package grpcauth

import (
	"context"
	"log/slog"
	"net/http"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/refusal"
)

// Options configure the interceptors. The zero value refuses every method,
// since no rule matches: set Methods, or Unmatched to
// UnmatchedAuthenticate.
type Options struct {
	// Methods are the rules for calls, tried in order: the first whose
	// Match matches the call's full method decides. See Rule.
	Methods []Rule
	// Unmatched is what happens to a call no rule matches; "" means
	// UnmatchedDeny.
	Unmatched Unmatched
	// Logger, if set, logs refusals at info level as the HTTP middleware
	// does (status, code, description, method "POST", the full gRPC method
	// as the path, the peer address, and the cause when the logger is
	// enabled at debug), never credentials. A call refused because no rule
	// matched it is logged with status 403 and code "access_denied". nil =
	// no logging.
	Logger *slog.Logger
}

// Interceptors authenticate gRPC calls with a *dualauth.Authenticator and
// the rules of Options. They are safe for concurrent use.
type Interceptors struct {
	auth      *dualauth.Authenticator
	rules     []Rule
	unmatched Unmatched
	logger    *slog.Logger
}

// New returns the interceptors that authenticate calls with a, following
// opts. It panics if a is nil or opts is not valid (see Options.Validate;
// the panic value is its *dualauth.ConfigError): interceptors are set up
// once, at start-up, and must never let calls pass unauthenticated.
func New(a *dualauth.Authenticator, opts Options) *Interceptors {
	if a == nil {
		panic("grpcauth: New needs a non-nil *dualauth.Authenticator")
	}
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	return &Interceptors{
		auth:      a,
		rules:     append([]Rule(nil), opts.Methods...),
		unmatched: opts.Unmatched,
		logger:    opts.Logger,
	}
}

// Unary returns the unary server interceptor: it calls the handler with
// the verified caller in its context (dualauth.NewContext), or without
// one for a public method, and else ends the call with the refusal's
// status and metadata.
func (i *Interceptors) Unary() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := i.admit(ctx, info.FullMethod, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) })
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// Stream returns the stream server interceptor: it calls the handler with
// a stream whose Context carries the verified caller (dualauth.NewContext),
// or the stream itself for a public method, and else ends the call with
// the refusal's status and metadata.
func (i *Interceptors) Stream() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := i.admit(ss.Context(), info.FullMethod, ss.SetHeader)
		if err != nil {
			return err
		}
		if ctx != ss.Context() {
			ss = &callerStream{ServerStream: ss, ctx: ctx}
		}
		return handler(srv, ss)
	}
}

// callerStream is a server stream whose context carries the caller.
type callerStream struct {
	grpc.ServerStream
	ctx context.Context
}

// Context returns the stream's context with the caller in it.
func (s *callerStream) Context() context.Context { return s.ctx }

// admit decides the call of fullMethod with context ctx: the context for
// the handler (ctx itself for a public method, else ctx with the caller),
// or the status error that ends the call, after sending the refusal's
// metadata with setHeader.
func (i *Interceptors) admit(ctx context.Context, fullMethod string, setHeader func(metadata.MD) error) (context.Context, error) {
	rule, matched := i.match(fullMethod)
	switch {
	case matched && rule.Public:
		return ctx, nil
	case !matched && i.unmatched != UnmatchedAuthenticate:
		if i.logger != nil {
			refusal.Log(i.logger, newRequest(ctx, fullMethod), errUnmatched)
		}
		return nil, statusOf(errUnmatched)
	}
	r := newRequest(ctx, fullMethod)
	p, err := i.auth.Authorize(r, rule.Scopes) // the zero Scopes of an unmatched call: any caller
	if err != nil {
		e := i.auth.Refusal(r, err)
		refusal.Log(i.logger, r, e)
		if md := refusalMetadata(e); len(md) > 0 {
			_ = setHeader(md) // fails only once headers are sent, and none are before the handler runs
		}
		return nil, statusOf(e)
	}
	if held, _ := dualauth.FromContext(ctx); held != p {
		ctx = dualauth.NewContext(ctx, p)
	}
	return ctx, nil
}

// errUnmatched is the refusal of a call no rule matches under
// UnmatchedDeny, as it is logged.
var errUnmatched = &dualauth.Error{
	Status:      http.StatusForbidden,
	Code:        "access_denied",
	Description: "this method is not open to any caller",
}
