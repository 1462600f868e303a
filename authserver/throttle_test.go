package authserver_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
)

func checkRetryAfter(t *testing.T, resp response) {
	t.Helper()
	if s, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
		t.Errorf("Retry-After %q, want 1 to 60 seconds", resp.header.Get("Retry-After"))
	}
}

func TestThrottlePerClient(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.Clients = writeRegistry(t, testClient{"globex", "globex-secret", nil}, testClient{"umbrella", "umbrella-secret", nil},
			testClient{"hooli", "hooli-secret", nil})
	})
	cc := formOf("grant_type", "client_credentials")
	// umbrella authenticates once: its verified credentials are remembered.
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"umbrella", "umbrella-secret"}, form: cc})

	for _, id := range []string{"globex", "umbrella"} {
		ts.guess(t, repeat(10, func(i int) request {
			return request{path: authserver.PathToken, basic: []string{id, fmt.Sprint("not-the-secret-", i)}, form: cc}
		})...)
	}
	for _, req := range []request{
		{path: authserver.PathToken, basic: []string{"globex", "not-the-secret"}, form: cc},
		{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: cc},
		{path: authserver.PathConnectToken, form: formOf("grant_type", "client_credentials", "response_type", "token", "client_id", "globex", "client_secret", "globex-secret")},
		{path: authserver.PathToken, basic: []string{"umbrella", "not-the-secret"}, form: cc},
	} {
		resp := ts.do(t, req)
		checkError(t, resp, http.StatusTooManyRequests, "too_many_requests")
		checkRetryAfter(t, resp)
	}
	// A client whose credentials were verified before is never held back, so
	// a guesser cannot lock it out.
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"umbrella", "umbrella-secret"}, form: cc})
	// Counters are per client id: hooli is not held back.
	resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"hooli", "not-the-secret"}, form: cc})
	checkError(t, resp, http.StatusUnauthorized, "invalid_client")
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"hooli", "hooli-secret"}, form: cc})
	// The window runs on Config.Now: just before its end globex is still
	// held back, at its end it is not.
	ts.Clock.Add(time.Minute - time.Second)
	checkError(t, ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: cc}), http.StatusTooManyRequests, "too_many_requests")
	ts.Clock.Add(time.Second)
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: cc})
}

func TestThrottlePerAddress(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.Clients = writeRegistry(t, testClient{"partner", "partner-secret", []string{"bookings:read"}})
	})
	cc := formOf("grant_type", "client_credentials")
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"partner", "partner-secret"}, form: cc})

	// 50 failures from 127.0.0.1, each for another client id. (Sent four
	// at a time: an address may have only a few checks in flight, and more
	// concurrent ones are answered 429 at once; see TestThrottleInFlight.)
	ts.guess(t, repeat(50, func(i int) request {
		return request{path: authserver.PathToken, basic: []string{fmt.Sprint("guess-", i), "not-the-secret"}, form: cc}
	})...)
	resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"guess-51", "not-the-secret"}, form: cc})
	checkError(t, resp, http.StatusTooManyRequests, "too_many_requests")
	checkRetryAfter(t, resp)
	// The client verified before still gets tokens.
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"partner", "partner-secret"}, form: cc})
	// However long that took, the window only ends when the clock says so.
	ts.Clock.Add(time.Minute)
	resp = ts.do(t, request{path: authserver.PathToken, basic: []string{"guess-52", "not-the-secret"}, form: cc})
	checkError(t, resp, http.StatusUnauthorized, "invalid_client")
}

// TestThrottleInFlight: concurrent guesses from one address cannot all be
// checked at once; those over the bound are answered 429 without a hash.
func TestThrottleInFlight(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.Clients = writeRegistry(t, testClient{"partner", "partner-secret", []string{"bookings:read"}})
	})
	cc := formOf("grant_type", "client_credentials")
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 30 {
		wg.Go(func() {
			resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"partner", fmt.Sprint("guess-", i)}, form: cc})
			mu.Lock()
			statuses[resp.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusUnauthorized] > 10 || statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests] != 30 {
		t.Fatalf("statuses = %v, want at most 10 checked (401) and the rest 429", statuses)
	}
}
