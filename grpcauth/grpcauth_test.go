package grpcauth_test

import (
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/keyward/keyward/grpcauth"
)

const (
	bareBearer = `Bearer realm="bookings-api"`
	bareBasic  = `Basic realm="bookings-api"`
)

// TestCalls: over bufconn and TCP, unary and server-streaming, each way of
// presenting credentials in dual mode gets the status, message and
// www-authenticate metadata of its refusal, or reaches the handler with
// its caller in the context (dualauth.FromContext); the rules match first
// to last; the health service is public; a method no rule matches is
// refused under the default deny.
func TestCalls(t *testing.T) {
	for _, transport := range transports {
		for _, stream := range []bool{false, true} {
			name := transport + "/unary"
			service := bookings
			if stream {
				name, service = transport+"/stream", bookingFeeds
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				iss, a := newAuthenticator(t, nil)
				conn := start(t, grpcauth.New(a, testOptions()), transport)
				read := iss.Token(t, jwt.MapClaims{"sub": "alice", "scope": "bookings:read"})
				unscoped := iss.Token(t, jwt.MapClaims{"sub": "bob"})
				two := metadata.Join(bearerMD(read), bearerMD(unscoped))
				scopeChallenge := challenge(`error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="bookings:read"`)
				for _, tc := range []struct {
					name       string
					method     string // in the service under test, or a full method
					md         metadata.MD
					code       codes.Code
					message    string   // "" = not checked
					challenges []string // www-authenticate, in the response header metadata
					subject    string   // of the caller the handler sees, when OK
					authMethod string
				}{
					{name: "no credentials", method: "WhoAmI", code: codes.Unauthenticated,
						message: "authentication is required", challenges: []string{bareBearer, bareBasic}},
					{name: "bearer, any caller", method: "WhoAmI", md: bearerMD(unscoped), subject: "bob", authMethod: "jwt"},
					{name: "bearer with the prefix's scope", method: "List", md: bearerMD(read), subject: "alice", authMethod: "jwt"},
					{name: "bearer lacking the prefix's scope", method: "List", md: bearerMD(unscoped), code: codes.PermissionDenied,
						message: "the access token lacks a scope this request requires", challenges: []string{scopeChallenge}},
					{name: "exact rule before the prefix", method: "Create", md: bearerMD(read), code: codes.PermissionDenied,
						challenges: []string{challenge(`error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="bookings:create"`)}},
					{name: "expired token", method: "WhoAmI", md: bearerMD(iss.ExpiredToken(t, nil)), code: codes.Unauthenticated,
						message: "the access token expired", challenges: []string{challenge(`error="invalid_token", error_description="the access token expired"`)}},
					{name: "forged token", method: "WhoAmI", md: bearerMD(iss.ForgedToken(t, nil)), code: codes.Unauthenticated,
						challenges: []string{challenge(`error="invalid_token", error_description="the access token's signature is invalid"`)}},
					{name: "client headers", method: "Create", md: clientMD("globex", "globex-secret"), subject: "globex", authMethod: "credentials"},
					{name: "basic", method: "List", md: basicMD("globex", "globex-secret"), subject: "globex", authMethod: "credentials"},
					{name: "client headers lacking a scope", method: "Create", md: clientMD("acme", "acme-secret"), code: codes.PermissionDenied,
						message: "the client lacks a scope this request requires"},
					{name: "basic lacking a scope", method: "Create", md: basicMD("acme", "acme-secret"), code: codes.PermissionDenied,
						challenges: []string{bareBasic}},
					{name: "wrong secret", method: "WhoAmI", md: basicMD("globex", "not-the-secret"), code: codes.Unauthenticated,
						message: "the client credentials are not valid", challenges: []string{bareBasic}},
					{name: "disabled client", method: "WhoAmI", md: clientMD("initech", "initech-secret"), code: codes.Unauthenticated,
						challenges: []string{bareBasic}},
					{name: "token and client headers", method: "WhoAmI", md: metadata.Join(bearerMD(read), clientMD("globex", "globex-secret")),
						code: codes.InvalidArgument, message: "the request carries more than one kind of credentials",
						challenges: []string{challenge(`error="invalid_request", error_description="the request carries more than one kind of credentials"`)}},
					{name: "two authorization entries", method: "WhoAmI", md: two, code: codes.InvalidArgument,
						message:    "the request has more than one Authorization header",
						challenges: []string{challenge(`error="invalid_request", error_description="the request has more than one Authorization header"`)}},
					{name: "half a client pair", method: "WhoAmI", md: metadata.Pairs("client_id", "globex"), code: codes.InvalidArgument,
						challenges: []string{challenge(`error="invalid_request", error_description="the client_secret header is missing or empty"`)}},
					{name: "unmatched method", method: "/" + admin + "/Purge", md: bearerMD(read), code: codes.PermissionDenied,
						message: "this method is not open to any caller"},
					{name: "unmatched stream", method: "/" + admin + "/Tail", md: bearerMD(read), code: codes.PermissionDenied},
					{name: "public health check", method: healthCheck},
					{name: "public health check ignores bad credentials", method: healthCheck, md: two},
				} {
					t.Run(tc.name, func(t *testing.T) {
						method, shape := "/"+service+"/"+tc.method, stream
						if tc.method[0] == '/' {
							method, shape = tc.method, tc.method == "/"+admin+"/Tail"
						}
						res := call(t, conn, method, shape, tc.md)
						if res.code != tc.code || tc.message != "" && res.message != tc.message {
							t.Fatalf("%s: %s %q, want %s %q", method, res.code, res.message, tc.code, tc.message)
						}
						if tc.code != codes.OK {
							if got := res.header.Get("www-authenticate"); !slices.Equal(got, tc.challenges) {
								t.Errorf("www-authenticate %q, want %q", got, tc.challenges)
							}
							if got := res.trailer.Get("www-authenticate"); len(got) != 0 {
								t.Errorf("www-authenticate in the trailer too: %q", got)
							}
							if res.answers != 0 {
								t.Errorf("the handler answered %d times", res.answers)
							}
							return
						}
						if method == healthCheck {
							return // the health service answers a HealthCheckResponse
						}
						if want := map[bool]int{false: 1, true: 2}[shape]; res.answers != want {
							t.Fatalf("%d answers, want %d", res.answers, want)
						}
						if res.who["authenticated"] != true || res.who["subject"] != tc.subject || res.who["method"] != tc.authMethod {
							t.Fatalf("the handler saw %v, want subject %q by %s", res.who, tc.subject, tc.authMethod)
						}
					})
				}
			})
		}
	}
}
