package grpcauth_test

import (
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/grpcauth"
)

// refusedSafely reports whether a call that presented no valid
// credentials ended as a refusal should: never OK, never Internal or
// Unknown (the codes of a panic or an unmapped error).
func refusedSafely(c codes.Code) bool {
	switch c {
	case codes.Unauthenticated, codes.InvalidArgument, codes.PermissionDenied, codes.ResourceExhausted, codes.Unavailable:
		return true
	}
	return false
}

// TestHostileMetadata: metadata a grpc-go client can send — huge values,
// repeated keys, binary keys, thousands of keys, half-broken schemes — is
// refused with a status of the table in the package doc, never OK,
// Internal or Unknown, and leaves the server serving.
func TestHostileMetadata(t *testing.T) {
	iss, a := newAuthenticator(t, nil)
	conn := start(t, grpcauth.New(a, testOptions()), "tcp")
	huge := strings.Repeat("A", 1<<20)
	many := metadata.MD{}
	for n := range 2000 {
		many.Set("x-key-"+strconv.Itoa(n), "value")
	}
	many.Set("authorization", "Bearer "+strings.Repeat("b", 4096))
	for _, tc := range []struct {
		name string
		md   metadata.MD
		want codes.Code
	}{
		{"huge bearer", metadata.Pairs("authorization", "Bearer "+huge), codes.Unauthenticated},
		{"huge basic", metadata.Pairs("authorization", "Basic "+huge), codes.InvalidArgument},
		{"huge client headers", clientMD(huge, huge), codes.Unauthenticated},
		{"huge other key", metadata.Pairs("x-padding", huge), codes.Unauthenticated},
		{"two authorization entries", metadata.Pairs("authorization", "Bearer a", "authorization", "Basic b"), codes.InvalidArgument},
		{"two client ids", metadata.Pairs("client_id", "a", "client_id", "b", "client_secret", "s"), codes.InvalidArgument},
		{"binary authorization", metadata.Pairs("authorization-bin", "Bearer \x00\xff\xfe"), codes.Unauthenticated},
		{"binary client headers", metadata.Pairs("client_id-bin", "globex", "client_secret-bin", "globex-secret"), codes.Unauthenticated},
		{"reserved grpc- key", metadata.Pairs("grpc-authorization", "Bearer x"), codes.Unauthenticated},
		{"thousands of keys", many, codes.Unauthenticated},
		{"scheme only", metadata.Pairs("authorization", "Bearer"), codes.InvalidArgument},
		{"empty bearer", metadata.Pairs("authorization", "Bearer   "), codes.InvalidArgument},
		{"basic without a colon", metadata.Pairs("authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("nocolon"))), codes.InvalidArgument},
		{"forwarded garbage", metadata.Pairs("x-forwarded-for", "not an address, ::::, "+huge, "client_id", "globex", "client_secret", "x"), codes.Unauthenticated},
	} {
		for _, stream := range []bool{false, true} {
			service := map[bool]string{false: bookings, true: bookingFeeds}[stream]
			res := call(t, conn, "/"+service+"/WhoAmI", stream, tc.md)
			if res.code != tc.want || strings.Contains(res.message, "AAAA") {
				t.Errorf("%s (stream %v): %s %.80q, want %s", tc.name, stream, res.code, res.message, tc.want)
			}
		}
	}
	if res := call(t, conn, "/"+bookings+"/WhoAmI", false, bearerMD(iss.Token(t, nil))); res.code != codes.OK {
		t.Fatalf("after the hostile calls: %s %q", res.code, res.message)
	}
}

// TestNonASCIIMetadata: values a grpc-go client refuses to send (bytes
// outside printable ASCII) arrive from other clients; sent over a plain
// HTTP/2 client, each is refused with a status of the table, never OK,
// Internal or Unknown.
func TestNonASCIIMetadata(t *testing.T) {
	_, a := newAuthenticator(t, nil)
	addr, _ := serve(t, grpcauth.New(a, testOptions()), "tcp", nil)
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	for _, tc := range []struct {
		name   string
		header http.Header
		want   codes.Code
	}{
		{"bearer", http.Header{"Authorization": {"Bearer é\xff"}}, codes.InvalidArgument},
		{"basic of latin-1", http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("gl\xe9bex:s\xe9cret"))}}, codes.Unauthenticated},
		{"scheme", http.Header{"Authorization": {"Béarer x"}}, codes.Unauthenticated},
		{"client headers", http.Header{"Client_id": {"glöbex"}, "Client_secret": {"sécret\x80"}}, codes.Unauthenticated},
		{"forwarded for", http.Header{"X-Forwarded-For": {"١٢٧.٠.٠.١"}, "Client_id": {"globex"}, "Client_secret": {"x"}}, codes.Unauthenticated},
		{"two mixed", http.Header{"Authorization": {"Bearer a", "Bearer ü"}}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An Empty request: one uncompressed message of length 0.
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr.String()+"/"+bookings+"/WhoAmI", strings.NewReader("\x00\x00\x00\x00\x00"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header = tc.header
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("TE", "trailers")
			res, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			v := res.Header.Get("Grpc-Status") // a refusal is Trailers-Only
			if v == "" {
				v = res.Trailer.Get("Grpc-Status")
			}
			n, err := strconv.Atoi(v)
			if code := codes.Code(n); err != nil || code != tc.want {
				t.Fatalf("HTTP %d, grpc-status %q (%s), want %s", res.StatusCode, v, code, tc.want)
			}
		})
	}
}

// FuzzUnary: whatever one metadata key holds, once or twice, and whatever
// the peer address, the unary interceptor never panics, never answers
// Internal or Unknown, and calls the handler only with the caller in its
// context.
func FuzzUnary(f *testing.F) {
	iss, a := newAuthenticator(f, nil)
	kw := grpcauth.New(a, testOptions())
	token := "Bearer " + iss.Token(f, jwt.MapClaims{"scope": "bookings:read"})
	f.Add("authorization", token, false, "127.0.0.1:1234")
	f.Add("authorization", token, true, "127.0.0.1:1234")
	f.Add("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("globex:globex-secret")), false, "[::1]:1")
	f.Add("client_id", "globex", false, "bufconn")
	f.Add(":authority", "x", false, "")
	f.Add("x-forwarded-for", "192.0.2.1", true, "not an address")
	f.Add("authorization-bin", "\x00\xff", false, "127.0.0.1")
	f.Add("authorization", "Bearer \xc3\xa9\x00\r\n", false, "127.0.0.1")
	f.Fuzz(func(t *testing.T, key, value string, twice bool, addr string) {
		values := []string{value}
		if twice {
			values = append(values, value)
		}
		caller, err := unaryOnce(kw, metadata.MD{key: values}, addr)
		if err == nil && !caller {
			t.Fatal("the handler was called without a caller")
		}
		if code := status.Code(err); err != nil && !refusedSafely(code) {
			t.Fatalf("%s: %v", code, err)
		}
	})
}

// unaryOnce calls the interceptor as a server would, without one.
func unaryOnce(kw *grpcauth.Interceptors, md metadata.MD, addr string) (seenCaller bool, err error) {
	ctx := metadata.NewIncomingContext(context.Background(), md)
	ctx = peer.NewContext(ctx, &peer.Peer{Addr: &net.UnixAddr{Name: addr, Net: "unix"}})
	_, err = kw.Unary()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/" + bookings + "/WhoAmI"}, func(ctx context.Context, _ any) (any, error) {
		_, seenCaller = dualauth.FromContext(ctx)
		return nil, nil
	})
	return seenCaller, err
}
