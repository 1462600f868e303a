package grpcauth_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/keywardtest"
)

// retryAfter reads the retry-after header metadata of res: whole seconds.
func retryAfter(t *testing.T, res result) int {
	t.Helper()
	v := res.header.Get("retry-after")
	if len(v) != 1 {
		t.Fatalf("retry-after %q, want one value", v)
	}
	n, err := strconv.Atoi(v[0])
	if err != nil {
		t.Fatalf("retry-after %q: %v", v[0], err)
	}
	return n
}

// TestThrottle: after the failure budget of a client id from one address,
// calls are ResourceExhausted with retry-after (seconds, in the window)
// and no challenge, unary and streaming. The address is the peer's, or
// what a trusted proxy forwarded in x-forwarded-for; an untrusted peer's
// x-forwarded-for is ignored.
func TestThrottle(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	elsewhere := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name      string
		transport string
		proxies   []netip.Prefix
		failFrom  string // x-forwarded-for of the failures, "" for none
		thenFrom  string // x-forwarded-for of the next calls
		throttled bool
	}{
		{name: "bufconn peer", transport: "bufconn", throttled: true},
		{name: "tcp peer", transport: "tcp", throttled: true},
		{name: "tcp peer, forwarded address not trusted", transport: "tcp", failFrom: "192.0.2.1", thenFrom: "192.0.2.2", throttled: true},
		{name: "untrusted proxy", transport: "tcp", proxies: elsewhere, failFrom: "192.0.2.1", thenFrom: "192.0.2.2", throttled: true},
		{name: "trusted proxy, same client", transport: "tcp", proxies: trusted, failFrom: "192.0.2.1", thenFrom: "192.0.2.1", throttled: true},
		{name: "trusted proxy, another client", transport: "tcp", proxies: trusted, failFrom: "192.0.2.1", thenFrom: "192.0.2.2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, a := newAuthenticator(t, func(c *keywardtest.Config) {
				c.TrustedProxies = tc.proxies
				c.Clients.Throttle = clientauth.Throttle{MaxClientFailures: 2}
			})
			conn := start(t, grpcauth.New(a, testOptions()), tc.transport)
			from := func(xff string) metadata.MD {
				md := basicMD("globex", "not-the-secret")
				if xff != "" {
					md.Set("x-forwarded-for", xff)
				}
				return md
			}
			for n := range 2 {
				if res := call(t, conn, "/"+bookings+"/WhoAmI", false, from(tc.failFrom)); res.code != codes.Unauthenticated {
					t.Fatalf("failure %d: %s %q, want Unauthenticated", n+1, res.code, res.message)
				}
			}
			for _, stream := range []bool{false, true} {
				service := map[bool]string{false: bookings, true: bookingFeeds}[stream]
				res := call(t, conn, "/"+service+"/WhoAmI", stream, from(tc.thenFrom))
				if !tc.throttled {
					if res.code != codes.Unauthenticated {
						t.Fatalf("stream %v: %s %q, want Unauthenticated", stream, res.code, res.message)
					}
					continue
				}
				if res.code != codes.ResourceExhausted || res.message != "too many failed authentication attempts; retry later" {
					t.Fatalf("stream %v: %s %q, want ResourceExhausted", stream, res.code, res.message)
				}
				if s := retryAfter(t, res); s < 1 || s > 60 {
					t.Errorf("retry-after %d s, want 1 to 60 (the window)", s)
				}
				if got := res.header.Get("www-authenticate"); len(got) != 0 {
					t.Errorf("www-authenticate %q on a throttled call", got)
				}
			}
		})
	}
}

// TestKeysUnavailable: while the issuer's key set holds no key because its
// key server is down, a token is answered Unavailable with retry-after and
// no challenge, unary and streaming.
func TestKeysUnavailable(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusBadGateway)
	}))
	t.Cleanup(down.Close)
	set, err := jwks.NewRemote(t.Context(), down.URL, jwks.Options{UnknownKIDWait: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Close)
	iss, a := newAuthenticator(t, func(c *keywardtest.Config) { c.JWT.Issuers[0].Keys = set })
	for _, transport := range transports {
		conn := start(t, grpcauth.New(a, testOptions()), transport)
		for _, stream := range []bool{false, true} {
			service := map[bool]string{false: bookings, true: bookingFeeds}[stream]
			res := call(t, conn, "/"+service+"/WhoAmI", stream, bearerMD(iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})))
			if res.code != codes.Unavailable || res.message != "the issuer's signing keys cannot be fetched right now; retry later" {
				t.Fatalf("%s stream %v: %s %q, want Unavailable", transport, stream, res.code, res.message)
			}
			if s := retryAfter(t, res); s < 1 || s > 30 {
				t.Errorf("%s stream %v: retry-after %d s, want 1 to 30", transport, stream, s)
			}
			if got := res.header.Get("www-authenticate"); len(got) != 0 {
				t.Errorf("%s stream %v: www-authenticate %q", transport, stream, got)
			}
		}
	}
}

// TestUnmatched: a method no rule matches is refused with PermissionDenied
// under deny (the default) without its credentials being read (two
// authorization entries would be InvalidArgument), and under authenticate
// it is open to any authenticated caller.
func TestUnmatched(t *testing.T) {
	iss, a := newAuthenticator(t, nil)
	token := iss.Token(t, jwt.MapClaims{"sub": "carol"})
	two := metadata.Join(bearerMD(token), bearerMD(token))
	purge, tail := "/"+admin+"/Purge", "/"+admin+"/Tail"
	for _, tc := range []struct {
		policy     grpcauth.Unmatched
		method     string
		md         metadata.MD
		code       codes.Code
		challenges int
	}{
		{policy: "", method: purge, md: bearerMD(token), code: codes.PermissionDenied},
		{policy: "", method: purge, md: two, code: codes.PermissionDenied},
		{policy: grpcauth.UnmatchedDeny, method: tail, md: two, code: codes.PermissionDenied},
		{policy: grpcauth.UnmatchedDeny, method: purge, code: codes.PermissionDenied},
		{policy: grpcauth.UnmatchedAuthenticate, method: purge, md: bearerMD(token)},
		{policy: grpcauth.UnmatchedAuthenticate, method: tail, md: clientMD("globex", "globex-secret")},
		{policy: grpcauth.UnmatchedAuthenticate, method: purge, code: codes.Unauthenticated, challenges: 2},
		{policy: grpcauth.UnmatchedAuthenticate, method: tail, md: two, code: codes.InvalidArgument, challenges: 1},
	} {
		opts := testOptions()
		opts.Unmatched = tc.policy
		for _, transport := range transports {
			conn := start(t, grpcauth.New(a, opts), transport)
			res := call(t, conn, tc.method, tc.method == tail, tc.md)
			if res.code != tc.code || len(res.header.Get("www-authenticate")) != tc.challenges {
				t.Errorf("%s %q %s %v: %s %q with www-authenticate %q; want %s and %d challenges", transport, tc.policy, tc.method, tc.md,
					res.code, res.message, res.header.Get("www-authenticate"), tc.code, tc.challenges)
			}
			if tc.code == codes.OK && (res.who["authenticated"] != true || res.answers == 0) {
				t.Errorf("%s %q %s: the handler saw %v", transport, tc.policy, tc.method, res.who)
			}
		}
	}
}
