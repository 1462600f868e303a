package grpcauth_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// TestOpaqueTokens: an opaque token reaches the handler as the caller its
// issuer's introspection endpoint (a real one on 127.0.0.1) describes,
// unary and streaming, with one call for both; a missing scope is
// PermissionDenied, an unknown token Unauthenticated with the invalid_token
// challenge, and the endpoint down Unavailable with retry-after; guessed
// tokens from one peer end in ResourceExhausted without a call.
func TestOpaqueTokens(t *testing.T) {
	var calls atomic.Int64
	var down atomic.Bool
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch r.PostFormValue("token") {
		case "opaque-reader":
			fmt.Fprintf(w, `{"active":true,"scope":"bookings:read","client_id":"acme","sub":"acme","exp":%d}`, time.Now().Add(time.Hour).Unix())
		default:
			fmt.Fprint(w, `{"active":false}`)
		}
	}))
	t.Cleanup(endpoint.Close)
	_, a := newAuthenticator(t, func(c *keywardtest.Config) {
		c.JWT.Issuers[0].Introspection = &jwtauth.Introspection{Endpoint: endpoint.URL, ClientID: "rs", ClientSecret: "secret"}
		guard, err := clientauth.NewGuard(clientauth.Throttle{MaxAddrFailures: 3 /* token guesses spend the address budget */}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.JWT.Throttle = guard
	})
	conn := start(t, grpcauth.New(a, testOptions()), "tcp")

	for _, stream := range []bool{false, true} {
		service := map[bool]string{false: bookings, true: bookingFeeds}[stream]
		res := call(t, conn, "/"+service+"/List", stream, bearerMD("opaque-reader"))
		if res.code != codes.OK || res.who["client_id"] != "acme" || res.who["method"] != "jwt" {
			t.Fatalf("stream %v: %s %q, caller %v; want OK as acme", stream, res.code, res.message, res.who)
		}
		if res = call(t, conn, "/"+service+"/Create", stream, bearerMD("opaque-reader")); res.code != codes.PermissionDenied {
			t.Errorf("stream %v, Create without bookings:create: %s %q, want PermissionDenied", stream, res.code, res.message)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("the endpoint was called %d times for one token, want 1 (the cache answers the rest)", n)
	}

	res := call(t, conn, "/"+bookings+"/WhoAmI", false, bearerMD("opaque-unknown-0"))
	want := challenge(`error="invalid_token", error_description="the access token is not active"`)
	if res.code != codes.Unauthenticated || len(res.header.Get("www-authenticate")) != 1 || res.header.Get("www-authenticate")[0] != want {
		t.Errorf("unknown token: %s %q, www-authenticate %q; want Unauthenticated with %q", res.code, res.message, res.header.Get("www-authenticate"), want)
	}
	down.Store(true)
	if res := call(t, conn, "/"+bookings+"/WhoAmI", false, bearerMD("opaque-new")); res.code != codes.Unavailable || retryAfter(t, res) < 1 {
		t.Errorf("endpoint down: %s %q, retry-after %v; want Unavailable with retry-after", res.code, res.message, res.header.Get("retry-after"))
	}
	down.Store(false)
	for n := 1; n < 3; n++ { // the first guess was opaque-unknown-0
		call(t, conn, "/"+bookings+"/WhoAmI", false, bearerMD(fmt.Sprintf("opaque-unknown-%d", n)))
	}
	before := calls.Load()
	if res := call(t, conn, "/"+bookings+"/WhoAmI", false, bearerMD("opaque-unknown-9")); res.code != codes.ResourceExhausted {
		t.Errorf("after 3 guesses: %s %q, want ResourceExhausted", res.code, res.message)
	}
	if calls.Load() != before {
		t.Error("a throttled guess reached the endpoint")
	}
}
