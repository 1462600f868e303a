package authserver_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyward/keyward/authserver"
)

func TestRefreshRotates(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	first := ts.globexToken(t)
	ts.Clock.Add(time.Minute)
	second := ts.refresh(t, first.str("refresh_token"))
	checkTokenResponse(t, ts, second, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
	if rt := second.str("refresh_token"); rt == "" || rt == first.str("refresh_token") {
		t.Fatalf("refresh_token %q: want a new one", rt)
	}
	third := ts.refresh(t, second.str("refresh_token"))
	checkTokenResponse(t, ts, third, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
}

func TestRefreshSingleUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		depth int // rotations before the reuse
		reuse int // which token of the chain is presented again
	}{
		{"reuse the first, its successor is revoked", 1, 0},
		{"reuse the first, every descendant is revoked", 3, 0},
		{"reuse one in the middle", 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
			chain := []string{ts.globexToken(t).str("refresh_token")}
			for range tc.depth {
				resp := ts.refresh(t, chain[len(chain)-1])
				if resp.status != http.StatusOK {
					t.Fatalf("status %d, body %s", resp.status, resp.raw)
				}
				chain = append(chain, resp.str("refresh_token"))
			}
			other := ts.globexToken(t).str("refresh_token") // another family

			checkError(t, ts.refresh(t, chain[tc.reuse]), http.StatusBadRequest, "invalid_grant")
			for _, rt := range chain {
				checkError(t, ts.refresh(t, rt), http.StatusBadRequest, "invalid_grant")
			}
			if resp := ts.refresh(t, other); resp.status != http.StatusOK {
				t.Fatalf("another grant's refresh token: status %d, body %s", resp.status, resp.raw)
			}
		})
	}
}

func TestRefreshExpiry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		ttl    time.Duration
		wait   time.Duration
		status int
	}{
		{"default, just before", 0, authserver.DefaultRefreshTTL - time.Second, http.StatusOK},
		{"default, at expiry", 0, authserver.DefaultRefreshTTL, http.StatusBadRequest},
		{"1h, just before", time.Hour, time.Hour - time.Second, http.StatusOK},
		{"1h, after", time.Hour, time.Hour + time.Minute, http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.RefreshTTL = tc.ttl; c.Algorithm = "ES256" })
			rt := ts.globexToken(t).str("refresh_token")
			ts.Clock.Add(tc.wait)
			resp := ts.refresh(t, rt)
			if tc.status != http.StatusOK {
				checkError(t, resp, tc.status, "invalid_grant")
				return
			}
			checkTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
			// The new refresh token has its own lifetime from now.
			ts.Clock.Add(tc.wait)
			if resp := ts.refresh(t, resp.str("refresh_token")); resp.status != http.StatusOK {
				t.Fatalf("successor: status %d, body %s", resp.status, resp.raw)
			}
		})
	}
}

func TestRefreshSweep(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
	for range 3 {
		ts.globexToken(t)
	}
	if n := authserver.RefreshFamiliesStored(ts.Server); n != 3 {
		t.Fatalf("stored %d, want 3", n)
	}
	ts.Clock.Add(authserver.DefaultRefreshTTL)
	ts.globexToken(t)
	if n := authserver.RefreshFamiliesStored(ts.Server); n != 1 {
		t.Fatalf("stored %d after expiry, want 1", n)
	}
}

func TestRefreshBelongsToClient(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	rt := ts.globexToken(t).str("refresh_token")
	checkError(t, ts.refresh(t, rt, "acme", "acme-secret"), http.StatusBadRequest, "invalid_grant")
	// Wrong credentials are invalid_client, before the token is looked at.
	checkError(t, ts.refresh(t, rt, "globex", "not-the-secret"), http.StatusUnauthorized, "invalid_client")
	// Naming another client without authenticating it is refused too.
	checkError(t, ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt, "client_id", "acme")}),
		http.StatusBadRequest, "invalid_grant")
	// None of that used the token up.
	if resp := ts.refresh(t, rt); resp.status != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.status, resp.raw)
	}
}

// TestRefreshWithoutClientAuthentication is seed 000's refresh flow:
// grant_type=refresh_token and refresh_token, nothing else. The token names
// its client; it stays single use, and reuse revokes its family.
func TestRefreshWithoutClientAuthentication(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
	first := ts.globexToken(t, "scope", "bookings:read")
	ts.Clock.Add(time.Minute)
	second := ts.refreshAlone(t, first.str("refresh_token"))
	checkTokenResponse(t, ts, second, "globex", "bookings:read", authserver.LifetimeToken)
	if rt := second.str("refresh_token"); rt == "" || rt == first.str("refresh_token") {
		t.Fatalf("refresh_token %q: want a new one", rt)
	}
	// The same in a JSON body, and with the client named but not
	// authenticated (client_id alone, or Basic with an empty password).
	third := ts.mustToken(t, request{path: authserver.PathToken, json: map[string]string{
		"grant_type": "refresh_token", "refresh_token": second.str("refresh_token")}})
	checkTokenResponse(t, ts, third, "globex", "bookings:read", authserver.LifetimeToken)
	fourth := ts.mustToken(t, request{path: authserver.PathToken, form: formOf(
		"grant_type", "refresh_token", "refresh_token", third.str("refresh_token"), "client_id", "globex")})
	fifth := ts.mustToken(t, request{path: authserver.PathToken, header: http.Header{"Authorization": {basicAuth("globex", "")}},
		form: formOf("grant_type", "refresh_token", "refresh_token", fourth.str("refresh_token"))})
	sixth := ts.mustToken(t, request{path: authserver.PathToken, header: http.Header{"Authorization": {"Basic Og=="}}, // ":"
		form: formOf("grant_type", "refresh_token", "refresh_token", fifth.str("refresh_token"))})
	// A narrower scope may be asked for; a wider one may not.
	checkError(t, ts.do(t, request{path: authserver.PathToken, form: formOf(
		"grant_type", "refresh_token", "refresh_token", sixth.str("refresh_token"), "scope", "bookings:create")}), http.StatusBadRequest, "invalid_scope")

	// Single use: presenting a used token again is refused and revokes the
	// family, the latest token included.
	checkError(t, ts.refreshAlone(t, first.str("refresh_token")), http.StatusBadRequest, "invalid_grant")
	checkError(t, ts.refreshAlone(t, sixth.str("refresh_token")), http.StatusBadRequest, "invalid_grant")

	// Unknown tokens, and every other grant, still need the real thing.
	checkError(t, ts.refreshAlone(t, "bm90LWEtdG9rZW4"), http.StatusBadRequest, "invalid_grant")
	checkError(t, ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "client_credentials")}),
		http.StatusUnauthorized, "invalid_client")
	checkError(t, ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "client_credentials", "client_id", "globex")}),
		http.StatusBadRequest, "invalid_request")
	checkError(t, ts.do(t, request{path: authserver.PathToken, header: http.Header{"Authorization": {basicAuth("globex", "")}},
		form: formOf("grant_type", "client_credentials")}), http.StatusBadRequest, "invalid_request")
	checkError(t, ts.do(t, request{path: authserver.PathToken, header: http.Header{"Authorization": {basicAuth("", "globex-secret")}},
		form: formOf("grant_type", "refresh_token", "refresh_token", "x")}), http.StatusBadRequest, "invalid_request")
}

// TestRefreshNamedClient: a request that names or authenticates a client
// must name the token's client; a refusal leaves the token usable.
func TestRefreshNamedClient(t *testing.T) {
	t.Parallel()
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.Clients = writeRegistry(t, testClient{"globex", "globex-secret", []string{"bookings:read"}},
			testClient{"hooli", "hooli-secret", []string{"bookings:read"}})
	})
	rt := ts.globexToken(t).str("refresh_token")
	for _, req := range []request{
		{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt, "client_id", "hooli")},
		{path: authserver.PathToken, header: http.Header{"Authorization": {basicAuth("hooli", "")}}, form: formOf("grant_type", "refresh_token", "refresh_token", rt)},
		{path: authserver.PathToken, basic: []string{"hooli", "hooli-secret"}, form: formOf("grant_type", "refresh_token", "refresh_token", rt)},
		{path: authserver.PathToken, json: map[string]string{"grant_type": "refresh_token", "refresh_token": rt, "client_id": "hooli", "client_secret": "hooli-secret"}},
		{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt, "client_id", "nobody")},
	} {
		checkError(t, ts.do(t, req), http.StatusBadRequest, "invalid_grant")
	}
	for _, req := range []request{
		{path: authserver.PathToken, basic: []string{"globex", "not-the-secret"}, form: formOf("grant_type", "refresh_token", "refresh_token", rt)},
		{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt, "client_id", "globex", "client_secret", "not-the-secret")},
	} {
		checkError(t, ts.do(t, req), http.StatusUnauthorized, "invalid_client")
	}
	resp := ts.mustToken(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt)})
	checkTokenResponse(t, ts, resp, "globex", "bookings:read", authserver.LifetimeToken)
}

// TestRefreshClientDisabled: a refresh token whose client the registry
// has disabled is refused, with or without client authentication, and its
// family stays revoked if the client comes back.
func TestRefreshClientDisabled(t *testing.T) {
	t.Parallel()
	file := newWritableRegistry(t, testClient{"globex", "globex-secret", []string{"bookings:read"}},
		testClient{"hooli", "hooli-secret", []string{"bookings:read"}})
	reg := openRegistry(t, file.write(t))
	ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256"; c.Clients = reg })
	rt := ts.globexToken(t).str("refresh_token")
	hooli := ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"hooli", "hooli-secret"}, form: formOf("grant_type", "client_credentials")})

	file.disabled["globex"] = true
	file.write(t)
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	checkError(t, ts.do(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", rt)}),
		http.StatusBadRequest, "invalid_grant")
	checkError(t, ts.refresh(t, rt), http.StatusUnauthorized, "invalid_client")

	file.disabled["globex"] = false
	file.write(t)
	if err := reg.Reload(); err != nil {
		t.Fatal(err)
	}
	checkError(t, ts.refresh(t, rt), http.StatusBadRequest, "invalid_grant")
	// Other clients' tokens are untouched.
	ts.mustToken(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", hooli.str("refresh_token"))})
}

func TestRefreshCredentialStyles(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	rt := ts.globexToken(t).str("refresh_token")
	resp := ts.mustToken(t, request{path: authserver.PathToken, json: map[string]string{
		"grant_type": "refresh_token", "refresh_token": rt, "client_id": "globex", "client_secret": "globex-secret"}})
	ts.mustToken(t, request{path: authserver.PathToken, form: formOf(
		"grant_type", "refresh_token", "refresh_token", resp.str("refresh_token"), "client_id", "globex", "client_secret", "globex-secret")})
}

func TestRefreshScopes(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	refresh := func(rt, scope string) response {
		form := formOf("grant_type", "refresh_token", "refresh_token", rt)
		if scope != "" {
			form.Set("scope", scope)
		}
		return ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"}, form: form})
	}

	narrow := ts.globexToken(t, "scope", "bookings:read")
	// Widening beyond the original grant is invalid_scope and leaves the token usable.
	checkError(t, refresh(narrow.str("refresh_token"), "bookings:create"), http.StatusBadRequest, "invalid_scope")
	checkError(t, refresh(narrow.str("refresh_token"), "bookings:read bookings:create"), http.StatusBadRequest, "invalid_scope")
	resp := refresh(narrow.str("refresh_token"), "")
	checkTokenResponse(t, ts, resp, "globex", "bookings:read", authserver.LifetimeToken)

	// Narrowing an access token keeps the refresh token's full scope (RFC 6749 §6).
	full := ts.globexToken(t)
	resp = refresh(full.str("refresh_token"), "bookings:create")
	checkTokenResponse(t, ts, resp, "globex", "bookings:create", authserver.LifetimeToken)
	resp = refresh(resp.str("refresh_token"), "")
	checkTokenResponse(t, ts, resp, "globex", "bookings:read bookings:create", authserver.LifetimeToken)
}

// startBounded starts a server with ES256 keys, the refresh-token bounds
// given (0 for the default) and a registry of the clients given, if any.
func startBounded(t *testing.T, maxRefresh, maxOwn int, cs ...testClient) *testServer {
	t.Helper()
	return start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.MaxRefreshTokens, c.MaxRefreshTokensPerClient = maxRefresh, maxOwn
		if cs != nil {
			c.Clients = writeRegistry(t, cs...)
		}
	})
}

// TestRefreshFamilyEviction: past MaxRefreshTokensPerClient the client's
// least recently used family (issued or rotated longest ago) is revoked,
// past MaxRefreshTokens the least recently used of all: none of its tokens
// works any more. Rotations add nothing to the store.
func TestRefreshFamilyEviction(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		max, own int
		// steps: "A globex" starts family A for globex (client
		// credentials); "A" rotates it, which must succeed.
		steps   []string
		evicted []string
		kept    []string
	}{
		{"per client, the least recently used", 10, 2,
			[]string{"A globex", "B globex", "A", "C globex"}, []string{"B"}, []string{"A", "C"}},
		{"per client, the oldest when none rotated", 10, 2,
			[]string{"A globex", "B globex", "C globex"}, []string{"A"}, []string{"B", "C"}},
		{"a flood from one client leaves another's alone", 10, 2,
			[]string{"H hooli", "A globex", "B globex", "C globex", "D globex"}, []string{"A", "B"}, []string{"H", "C", "D"}},
		{"in all, across clients", 3, 3,
			[]string{"A globex", "H hooli", "U umbrella", "A", "H", "B globex"}, []string{"U"}, []string{"A", "H", "B"}},
		{"one family allowed: rotations keep it", 1, 1,
			[]string{"A globex", "A", "A", "A", "A", "A"}, nil, []string{"A"}},
		{"one family allowed: a new grant revokes the old", 1, 1,
			[]string{"A globex", "A", "A", "H hooli"}, []string{"A"}, []string{"H"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startBounded(t, tc.max, tc.own, testClient{"globex", "globex-secret", nil}, testClient{"hooli", "hooli-secret", nil},
				testClient{"umbrella", "umbrella-secret", nil})
			live := map[string]string{}  // each family's live token
			first := map[string]string{} // and its first
			for _, step := range tc.steps {
				family, client, grant := strings.Cut(step, " ")
				if grant {
					live[family] = ts.mustToken(t, request{path: authserver.PathToken, basic: []string{client, client + "-secret"},
						form: formOf("grant_type", "client_credentials")}).str("refresh_token")
					first[family] = live[family]
					continue
				}
				resp := ts.refreshAlone(t, live[family])
				if resp.status != http.StatusOK {
					t.Fatalf("rotating %s: status %d, body %s", family, resp.status, resp.raw)
				}
				live[family] = resp.str("refresh_token")
			}
			if n, want := authserver.RefreshFamiliesStored(ts.Server), len(tc.kept); n != want {
				t.Errorf("%d families stored, want %d", n, want)
			}
			for _, family := range tc.evicted {
				for _, rt := range []string{live[family], first[family]} {
					resp := ts.refreshAlone(t, rt)
					checkError(t, resp, http.StatusBadRequest, "invalid_grant")
					if d := resp.str("error_description"); !strings.Contains(d, "unknown") {
						t.Errorf("evicted family %s: %q", family, d)
					}
				}
			}
			for _, family := range tc.kept {
				ts.mustToken(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", live[family])})
			}
		})
	}
}

// TestRefreshReuseAfterManyRotations is the attack of issue 14 item 6: an
// attacker redeems a stolen refresh token before its client does, then
// rotates the chain many times, so that the stolen token's "used" marker
// would be evicted by its own successors. The client's later use of it must
// still be seen as reuse, and must revoke the attacker's current token.
func TestRefreshReuseAfterManyRotations(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		max, own   int // Config.MaxRefreshTokens and MaxRefreshTokensPerClient
		rotations  int // by the attacker, after redeeming the stolen token
		otherGrant bool
	}{
		{"1,000 rotations at the default bounds", 0, 0, 1_000, false},
		{"one family allowed, 50 rotations", 1, 1, 50, false},
		{"two families per client, the other grant survives", 10, 2, 100, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startBounded(t, tc.max, tc.own)
			stolen := ts.globexToken(t).str("refresh_token")
			var other string
			if tc.otherGrant {
				other = ts.globexToken(t).str("refresh_token")
			}
			current := stolen
			for range 1 + tc.rotations {
				resp := ts.refreshAlone(t, current)
				if resp.status != http.StatusOK {
					t.Fatalf("the attacker's rotation: status %d, body %s", resp.status, resp.raw)
				}
				current = resp.str("refresh_token")
			}

			victim := ts.refresh(t, stolen)
			checkError(t, victim, http.StatusBadRequest, "invalid_grant")
			if d := victim.str("error_description"); !strings.Contains(d, "already used") {
				t.Errorf("the client's use of its stolen token: %q, want it seen as reuse", d)
			}
			attacker := ts.refreshAlone(t, current)
			checkError(t, attacker, http.StatusBadRequest, "invalid_grant")
			if tc.otherGrant {
				ts.mustToken(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", other)})
			}
		})
	}
}

// TestRefreshRace presents one refresh token many times at once: exactly
// one request gets its successor, the others are reuse (or find the family
// already revoked), and so the successor is revoked too.
func TestRefreshRace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		basic []string
	}{
		{"without client authentication", nil},
		{"authenticated", []string{"globex", "globex-secret"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := start(t, func(c *authserver.Config) { c.Algorithm = "ES256" })
			rt := ts.globexToken(t).str("refresh_token")
			const n = 8
			resps := make([]response, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					resps[i], errs[i] = ts.send(request{path: authserver.PathToken, basic: tc.basic,
						form: formOf("grant_type", "refresh_token", "refresh_token", rt)})
				})
			}
			wg.Wait()
			var successor string
			for i, resp := range resps {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				if resp.status == http.StatusOK {
					if successor != "" {
						t.Fatalf("two requests redeemed the same refresh token")
					}
					successor = resp.str("refresh_token")
					continue
				}
				checkError(t, resp, http.StatusBadRequest, "invalid_grant")
			}
			if successor == "" {
				t.Fatal("no request redeemed the refresh token")
			}
			checkError(t, ts.refresh(t, successor), http.StatusBadRequest, "invalid_grant")
		})
	}
}
