package authserver_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/internal/syncbuf"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
)

// via is an X-Forwarded-For header naming addrs.
func via(addrs ...string) http.Header {
	return http.Header{"X-Forwarded-For": addrs}
}

// TestThrottleBehindTrustedProxy is the authorization server's side of a
// resource server exchanging its callers' credentials: to this server they
// all come from the resource server's address, which sends each caller's
// address in X-Forwarded-For. Trusting it, the throttle holds back a
// guesser alone: the real client, from another address, still gets its
// tokens, and so does every other client that was never verified before.
func TestThrottleBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.TrustedProxies = []string{"127.0.0.1/32"} // the resource server: this test's client
		c.Clients = writeRegistry(t, testClient{"acme", "acme-secret", []string{"bookings:read"}},
			testClient{"globex", "globex-secret", nil}, testClient{"hooli", "hooli-secret", nil})
	})
	cc := formOf("grant_type", "client_credentials")
	guesser := via("203.0.113.66")

	// 10 wrong guesses for acme from one caller, then it is held back.
	ts.guess(t, repeat(10, func(i int) request {
		return request{path: authserver.PathToken, basic: []string{"acme", fmt.Sprint("guess-", i)}, form: cc, header: guesser}
	})...)
	resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"acme", "acme-secret"}, form: cc, header: guesser})
	checkError(t, resp, http.StatusTooManyRequests, "too_many_requests")
	checkRetryAfter(t, resp)
	// The real acme, never verified before, from another caller: a token.
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"acme", "acme-secret"}, form: cc, header: via("198.51.100.7")})

	// 40 more guesses, for unknown ids, spend the guesser's address budget (50).
	ts.guess(t, repeat(40, func(i int) request {
		return request{path: authserver.PathToken, basic: []string{fmt.Sprint("nobody-", i), "x"}, form: cc, header: guesser}
	})...)
	resp = ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: cc, header: guesser})
	checkError(t, resp, http.StatusTooManyRequests, "too_many_requests")
	// Clients never verified before, from other callers and from the
	// proxy itself, are not held back.
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: cc, header: via("198.51.100.8")})
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"hooli", "hooli-secret"}, form: cc})

	// IPv6 callers count by their /64.
	ts.guess(t, repeat(10, func(i int) request {
		return request{path: authserver.PathToken, basic: []string{"hooli", fmt.Sprint("guess-", i)}, form: cc, header: via(fmt.Sprintf("2001:db8:0:1::%x", i+1))}
	})...)
	resp = ts.do(t, request{path: authserver.PathToken, basic: []string{"hooli", "guess"}, form: cc, header: via("[2001:db8:0:1:ffff::1]:4711")})
	checkError(t, resp, http.StatusTooManyRequests, "too_many_requests")
	resp = ts.do(t, request{path: authserver.PathToken, basic: []string{"hooli", "guess"}, form: cc, header: via("2001:db8:0:2::1")})
	checkError(t, resp, http.StatusUnauthorized, "invalid_client")

	// The windows run on Config.Now.
	ts.Clock.Add(time.Minute)
	resp = ts.do(t, request{path: authserver.PathToken, basic: []string{"acme", "guess"}, form: cc, header: guesser})
	checkError(t, resp, http.StatusUnauthorized, "invalid_client")
}

// TestThrottleIgnoresUntrustedForwardedFor: from a peer that is not a
// trusted proxy, X-Forwarded-For is ignored, so a guesser cannot escape the
// throttle by forging it.
func TestThrottleIgnoresUntrustedForwardedFor(t *testing.T) {
	t.Parallel()
	for name, trusted := range map[string][]string{
		"no trusted proxies":       nil,
		"another proxy is trusted": {"10.0.0.0/8", "::1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var logs syncbuf.Buffer
			ts := start(t, func(c *authserver.Config) {
				c.Algorithm = "ES256"
				c.TrustedProxies = trusted
				c.Clients = writeRegistry(t, testClient{"acme", "acme-secret", nil})
				c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			})
			cc := formOf("grant_type", "client_credentials")
			ts.guess(t, repeat(10, func(i int) request {
				return request{path: authserver.PathToken, basic: []string{"acme", fmt.Sprint("guess-", i)}, form: cc, header: via(fmt.Sprint("198.51.100.", i))}
			})...)
			resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"acme", "acme-secret"}, form: cc, header: via("198.51.100.200")})
			checkError(t, resp, http.StatusTooManyRequests, "too_many_requests")
			if strings.Contains(logs.String(), "client_addr") {
				t.Errorf("an untrusted X-Forwarded-For was used:\n%s", logs.String())
			}
		})
	}
}

// TestForwardedForAddress: which address of X-Forwarded-For a trusted
// proxy's request is counted against, as the log reports it.
func TestForwardedForAddress(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.TrustedProxies = []string{"127.0.0.1", "10.0.0.0/8", "::ffff:192.0.2.0/120", " 2001:db8:ff::/48"}
		c.Clients = writeRegistry(t, testClient{"acme", "acme-secret", nil})
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	tests := []struct {
		name   string
		header []string
		want   string // the client_addr logged; "" for the peer (none logged)
	}{
		{"one caller", []string{"198.51.100.9"}, "198.51.100.9"},
		{"behind another trusted proxy", []string{"198.51.100.9, 10.1.2.3"}, "198.51.100.9"},
		{"forged addresses left of the caller", []string{"203.0.113.1, 198.51.100.9, 10.1.2.3"}, "198.51.100.9"},
		{"over two headers", []string{"203.0.113.1", "198.51.100.9,10.1.2.3"}, "198.51.100.9"},
		{"every address trusted", []string{"10.9.9.9, 10.1.2.3"}, "10.9.9.9"},
		{"IPv4-mapped", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"mapped trusted prefix", []string{"198.51.100.9, 192.0.2.5"}, "198.51.100.9"},
		{"with a port", []string{"198.51.100.9:4711"}, "198.51.100.9"},
		{"IPv6 with a port", []string{"[2001:db8::9]:4711"}, "2001:db8::9"},
		{"IPv6 in brackets", []string{"[2001:db8::9]"}, "2001:db8::9"},
		{"IPv6 with a zone", []string{"fe80::1%eth0"}, "fe80::1"},
		{"trusted IPv6 proxy", []string{"2001:db8::9, 2001:db8:ff:1::1"}, "2001:db8::9"},
		{"empty entries", []string{"198.51.100.9, ,10.1.2.3,"}, "198.51.100.9"},
		{"garbage behind a trusted proxy", []string{"198.51.100.9, unknown, 10.1.2.3"}, "10.1.2.3"},
		{"garbage", []string{"unknown"}, ""},
		{"a host name", []string{"client.example.com"}, ""},
		{"empty", []string{""}, ""},
		{"none", nil, ""},
	}
	for _, tc := range tests {
		before := len(logs.String())
		req := request{path: authserver.PathTokenV2, basic: []string{"acme", "acme-secret"}, form: formOf("grant_type", "client_credentials")}
		if tc.header != nil {
			req.header = via(tc.header...)
		}
		ts.mustToken(t, req)
		line := logs.String()[before:]
		if !strings.Contains(line, `msg="token issued"`) || !strings.Contains(line, "remote_addr=127.0.0.1") {
			t.Fatalf("%s: log %q", tc.name, line)
		}
		got := ""
		if _, rest, ok := strings.Cut(line, " client_addr="); ok {
			got, _, _ = strings.Cut(rest, " ")
		}
		if got != tc.want {
			t.Errorf("%s: X-Forwarded-For %q counted as %q, want %q", tc.name, tc.header, got, tc.want)
		}
	}
}

// TestExchangeBehindTrustedProxy runs the exchange client, as a resource
// server in exchange mode does, against this server trusting it: each
// exchange carries its caller's address (exchange.WithCallerAddr), the
// guesser's exchanges are refused with 429 and the server's own
// Retry-After (an *exchange.RetryError), and the real client, from another
// address, still gets its token.
func TestExchangeBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	for _, c := range []*exchange.Client{
		{TokenURL: authserver.PathTokenV2, Style: exchange.StyleBasic},
		{TokenURL: authserver.PathPartnerToken, Style: exchange.StyleJSON},
		{TokenURL: authserver.PathConnectToken, Style: exchange.StyleForm, Params: url.Values{"response_type": {"token"}}},
	} {
		t.Run(string(c.Style), func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) {
				c.Algorithm = "ES256"
				c.TrustedProxies = []string{"127.0.0.0/8", "::1"}
				c.Clients = writeRegistry(t, testClient{"acme", "acme-secret", []string{"bookings:read"}})
			})
			c.TokenURL = ts.URL + c.TokenURL
			guesser := exchange.WithCallerAddr(context.Background(), "203.0.113.66:40000")
			errs := make([]error, 10)
			inFours(10, func(i int) { _, errs[i] = c.Exchange(guesser, "acme", fmt.Sprint("guess-", i)) })
			for i, err := range errs {
				if !errors.Is(err, exchange.ErrRejected) {
					t.Fatalf("guess %d: %v, want ErrRejected", i, err)
				}
			}
			_, err := c.Exchange(guesser, "acme", "acme-secret")
			var re *exchange.RetryError
			if !errors.Is(err, exchange.ErrUnavailable) || !errors.As(err, &re) ||
				re.Status != http.StatusTooManyRequests || re.RetryAfter != time.Minute {
				t.Fatalf("guesser's exchange: %v, want a RetryError of 429 after 1m0s", err)
			}
			tok, err := c.Exchange(exchange.WithCallerAddr(context.Background(), "198.51.100.7"), "acme", "acme-secret")
			if err != nil {
				t.Fatalf("the real client's exchange: %v", err)
			}
			if tok.Scope != "bookings:read" {
				t.Errorf("scope %q", tok.Scope)
			}
		})
	}
}

// TestExchangeModeGuesserCannotLockOut is the whole chain: a Keyward API in
// exchange mode (dualauth trading client credentials at this server's token
// endpoint) behind which a guesser and the real client call from different
// addresses. The API forwards each caller's address; the authorization
// server, trusting the API as a proxy, throttles the guesser alone: the
// guesser ends at 429 with the endpoint's Retry-After, the real client and
// a never-verified client still get in.
func TestExchangeModeGuesserCannotLockOut(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.TrustedProxies = []string{"127.0.0.0/8", "::1"}
		c.Clients = writeRegistry(t, testClient{"acme", "acme-secret", []string{"bookings:read"}}, testClient{"globex", "globex-secret", []string{"bookings:read"}})
	})
	keys, err := jwks.NewDiscovered(t.Context(), ts.URL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	api, err := keywardtest.Config{
		Config: dualauth.Config{Mode: dualauth.ModeCredentials},
		JWT:    jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: ts.URL, Audiences: []string{"bookings-api"}, Keys: keys}}},
		Clients: clientauth.Config{
			Exchange: &exchange.Client{TokenURL: ts.URL + authserver.PathTokenV2, Style: exchange.StyleBasic, Scope: "bookings:read"},
			// The API's own gate is wide, so that the authorization
			// server's answers are what this test sees.
			Throttle: clientauth.Throttle{MaxClientFailures: 1000, MaxAddrFailures: 1000},
		},
	}.Build()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = api.Close() })
	try := func(addr, id, secret string) *dualauth.Error {
		r := httptest.NewRequest(http.MethodGet, "/bookings", nil)
		r.RemoteAddr = addr
		r.Header.Set("client_id", id)
		r.Header.Set("client_secret", secret)
		_, err := api.Authenticate(r)
		if err == nil {
			return nil
		}
		var e *dualauth.Error
		if !errors.As(err, &e) {
			t.Fatalf("not a *dualauth.Error: %v", err)
		}
		return e
	}
	var last *dualauth.Error
	for i := range 12 {
		last = try("203.0.113.66:40000", "acme", fmt.Sprint("guess-", i))
		if last == nil || last.Status >= 500 {
			t.Fatalf("guess %d: %v", i, last)
		}
	}
	if last.Status != http.StatusTooManyRequests || last.RetryAfter < time.Second {
		t.Fatalf("the guesser after 12 guesses: %d %s, Retry-After %s; want 429 with the endpoint's Retry-After", last.Status, last.Code, last.RetryAfter)
	}
	if e := try("198.51.100.7:1234", "acme", "acme-secret"); e != nil {
		t.Fatalf("the real acme from another address: %v", e)
	}
	if e := try("198.51.100.8:1234", "globex", "globex-secret"); e != nil {
		t.Fatalf("a client never verified before: %v", e)
	}
}
