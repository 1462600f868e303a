package forwardauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/forwardauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

// clientsStub is a ClientVerifier of fixed clients: id to secret and scopes.
type clientsStub map[string]struct {
	secret string
	scopes []string
}

func (c clientsStub) VerifyClient(_ context.Context, id, secret string) (*dualauth.Principal, error) {
	cl, ok := c[id]
	if !ok || cl.secret != secret {
		return nil, dualauth.ErrInvalidClient
	}
	return &dualauth.Principal{Method: dualauth.MethodCredentials, Subject: id, ClientID: id, Scopes: scopes.NewSet(cl.scopes...)}, nil
}

var testClients = clientsStub{
	"acme":   {"acme-secret", []string{"bookings:read", "reports:read"}},
	"globex": {"globex-secret", []string{"bookings:create", "bookings:read"}},
}

// dualAuthenticator is a dual-mode authenticator trusting iss, with the
// test clients, a throttle of 3 failures per client and address, and edit
// applied.
func dualAuthenticator(t testing.TB, iss *keywardtest.Issuer, edit func(*keywardtest.Config)) *dualauth.Authenticator {
	t.Helper()
	return iss.Authenticator(t, func(cfg *keywardtest.Config) {
		cfg.Mode = dualauth.ModeDual
		cfg.Realm = "bookings-api"
		cfg.Clients = clientauth.Config{
			Verifier: testClients,
			Throttle: clientauth.Throttle{MaxClientFailures: 3, MaxAddrFailures: 10},
		}
		if edit != nil {
			edit(cfg)
		}
	})
}

// issueRoutes are the routes of the issue's example.
var issueRoutes = []forwardauth.Route{
	{Pattern: "GET /v1/bookings", Require: scopes.All("bookings:read")},
	{Pattern: "POST /v1/bookings", Require: scopes.All("bookings:create")},
	{Pattern: "GET /v1/search", Require: scopes.Any("bookings:read", "reports:read")},
	{Pattern: "GET /v1/whoami"},
	{Pattern: "/public/", Public: true},
}

// newHandler builds a Handler or fails the test.
func newHandler(t testing.TB, authn *dualauth.Authenticator, cfg forwardauth.Config) *forwardauth.Handler {
	t.Helper()
	h, err := forwardauth.New(authn, cfg, forwardauth.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// ask sends h a request from the proxy at 127.0.0.1 and returns the answer.
func ask(h http.Handler, method, target string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.RemoteAddr = "127.0.0.1:50000"
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// askFrom sends h a GET /auth from the peer at remote.
func askFrom(h http.Handler, remote string, header http.Header) *httptest.ResponseRecorder {
	r := httptest.NewRequest("GET", "/auth", nil)
	r.RemoteAddr = remote
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// hdr builds a header from name, value pairs, keeping the names' spelling.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h[kv[i]] = append(h[kv[i]], kv[i+1])
	}
	return h
}
