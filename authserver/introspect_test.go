package authserver_test

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/syncbuf"

	"github.com/keyward/keyward/authserver"
)

// rsSecret is the introspecting resource server's secret: ':', '+', '%',
// '&', '=', '/', a space and non-ASCII, each of which RFC 6749 §2.3.1's
// form-encoding changes, so Basic only works when the server decodes it.
const rsSecret = "p:a+s%s&w=o/r d é"

// introspectionClients are the clients of the introspection tests: opaque
// gets opaque tokens, jwtapp JWTs, rs may introspect and nosy may not.
var introspectionClients = []testClient{
	{"opaque", "opaque-secret", []string{"bookings:read", "reports:read"}},
	{"jwtapp", "jwtapp-secret", []string{"bookings:read"}},
	{"rs", rsSecret, nil},
	{"nosy", "nosy-secret", nil},
}

var introspectionOptions = map[string]authserver.ClientOptions{
	"opaque": {TokenFormat: authserver.TokenFormatOpaque},
	"jwtapp": {TokenFormat: authserver.TokenFormatJWT},
	"rs":     {Introspect: true},
}

// startIntrospection starts an ES256 server with introspectionClients and
// introspectionOptions, then mutate's changes.
func startIntrospection(t *testing.T, mutate func(*authserver.Config)) (*testServer, *writableRegistry) {
	t.Helper()
	file := newWritableRegistry(t, introspectionClients...)
	reg := openRegistry(t, file.write(t))
	ts := start(t, func(c *authserver.Config) {
		c.Algorithm = "ES256"
		c.Clients = reg
		c.ClientOptions = introspectionOptions
		if mutate != nil {
			mutate(c)
		}
	})
	return ts, file
}

// introspect asks about token as rs with Basic.
func (ts *testServer) introspect(t testing.TB, token string) response {
	t.Helper()
	resp := ts.do(t, request{path: authserver.PathIntrospect, basic: []string{"rs", rsSecret}, form: formOf("token", token)})
	if resp.status != http.StatusOK {
		t.Fatalf("introspection: status %d, body %s", resp.status, resp.raw)
	}
	checkIntrospectionHeaders(t, resp)
	return resp
}

func checkIntrospectionHeaders(t testing.TB, resp response) {
	t.Helper()
	for name, want := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"} {
		if got := resp.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// checkInactive checks that resp is {"active":false} and nothing else
// (RFC 7662 §2.2: nothing more may be said of an inactive token).
func checkInactive(t testing.TB, resp response) {
	t.Helper()
	if string(resp.raw) != "{\"active\":false}\n" {
		t.Errorf("got %s, want {\"active\":false} alone", resp.raw)
	}
}

// checkOpaqueShape checks that token is shaped as the server's opaque tokens
// are documented to be.
func checkOpaqueShape(t testing.TB, token string) {
	t.Helper()
	rest, ok := strings.CutPrefix(token, authserver.OpaqueTokenPrefix)
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if !ok || err != nil || len(b) != 32 || strings.Contains(token, ".") {
		t.Errorf("token %q is not %s and 32 bytes of base64url without a dot", token, authserver.OpaqueTokenPrefix)
	}
}

// activeOf is the introspection response of an active token of ts, as
// compared to the decoded body.
func activeOf(ts *testServer, clientID, scope string, iat time.Time, lifetime time.Duration) map[string]any {
	m := map[string]any{
		"active":     true,
		"client_id":  clientID,
		"sub":        clientID,
		"iat":        jsonNumber(iat.Unix()),
		"nbf":        jsonNumber(iat.Unix()),
		"exp":        jsonNumber(iat.Add(lifetime).Unix()),
		"iss":        ts.URL,
		"aud":        "bookings-api",
		"token_type": "Bearer",
	}
	if scope != "" {
		m["scope"] = scope
	}
	return m
}

// TestOpaqueIssuance: a client whose token_format is opaque gets opaque
// tokens from every endpoint and grant, each live for the endpoint's
// lifetime and described by introspection; the refresh_token grant keeps
// the format and the narrowed scope.
func TestOpaqueIssuance(t *testing.T) {
	t.Parallel()
	ts, _ := startIntrospection(t, nil)
	tests := []struct {
		name     string
		req      request
		lifetime time.Duration
		scope    string
	}{
		{"token basic", request{path: authserver.PathToken, basic: []string{"opaque", "opaque-secret"}, form: formOf("grant_type", "client_credentials")},
			authserver.LifetimeToken, "bookings:read reports:read"},
		{"token json", request{path: authserver.PathToken, json: map[string]string{"grant_type": "client_credentials", "client_id": "opaque", "client_secret": "opaque-secret", "scope": "reports:read"}},
			authserver.LifetimeToken, "reports:read"},
		{"v2", request{path: authserver.PathTokenV2, basic: []string{"opaque", "opaque-secret"}, form: formOf("grant_type", "client_credentials")},
			authserver.LifetimeTokenV2, "bookings:read reports:read"},
		{"partner", request{path: authserver.PathPartnerToken, json: map[string]string{"grant_type": "client_credentials", "client_id": "opaque", "client_secret": "opaque-secret"}},
			authserver.LifetimePartnerToken, "bookings:read reports:read"},
		{"connect", request{path: authserver.PathConnectToken, form: formOf("grant_type", "client_credentials", "response_type", "token", "client_id", "opaque", "client_secret", "opaque-secret")},
			authserver.LifetimeConnectToken, "bookings:read reports:read"},
	}
	seen := map[string]bool{}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.mustToken(t, tc.req)
			token := resp.str("access_token")
			checkOpaqueShape(t, token)
			if seen[token] {
				t.Errorf("token %q issued twice", token)
			}
			seen[token] = true
			if resp.body["expires_in"] != jsonNumber(int64(tc.lifetime/time.Second)) || resp.str("token_type") != "Bearer" {
				t.Errorf("response %s", resp.raw)
			}
			got := ts.introspect(t, token)
			if want := activeOf(ts, "opaque", tc.scope, ts.Clock.Now(), tc.lifetime); !reflect.DeepEqual(got.body, want) {
				t.Errorf("introspection\n got %v\nwant %v", got.body, want)
			}
		})
	}

	t.Run("refresh grant", func(t *testing.T) {
		first := ts.mustToken(t, tests[0].req)
		ts.Clock.Add(time.Minute)
		for _, authenticated := range []bool{true, false} { // with client authentication, and without (seed 000)
			req := request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", first.str("refresh_token"), "scope", "bookings:read")}
			if authenticated {
				req.basic = []string{"opaque", "opaque-secret"}
			}
			next := ts.mustToken(t, req)
			checkOpaqueShape(t, next.str("access_token"))
			got := ts.introspect(t, next.str("access_token"))
			if want := activeOf(ts, "opaque", "bookings:read", ts.Clock.Now(), authserver.LifetimeToken); !reflect.DeepEqual(got.body, want) {
				t.Errorf("introspection\n got %v\nwant %v", got.body, want)
			}
			first = next
		}
	})

	t.Run("jwt stays jwt", func(t *testing.T) {
		resp := ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"jwtapp", "jwtapp-secret"}, form: formOf("grant_type", "client_credentials")})
		header, _ := ts.verify(t, resp.str("access_token"))
		if header["typ"] != "at+jwt" {
			t.Errorf("header %v", header)
		}
	})
}

// TestIntrospectionAnswers: what introspection says of live, expired,
// unknown, malformed and foreign tokens; only a live token of this server
// (opaque, or a JWT it signed with a key it still publishes) is active.
func TestIntrospectionAnswers(t *testing.T) {
	t.Parallel()
	other, _ := startIntrospection(t, nil) // another server, other keys
	foreignJWT := other.mustToken(t, request{path: authserver.PathToken, basic: []string{"jwtapp", "jwtapp-secret"}, form: formOf("grant_type", "client_credentials")}).str("access_token")
	foreignOpaque := other.mustToken(t, request{path: authserver.PathToken, basic: []string{"opaque", "opaque-secret"}, form: formOf("grant_type", "client_credentials")}).str("access_token")

	opaqueToken := func(ts *testServer) response {
		return ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"opaque", "opaque-secret"}, form: formOf("grant_type", "client_credentials")})
	}
	jwtToken := func(ts *testServer) response {
		return ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"jwtapp", "jwtapp-secret"}, form: formOf("grant_type", "client_credentials")})
	}
	opaqueAccess := func(ts *testServer, _ *writableRegistry) string { return opaqueToken(ts).str("access_token") }
	jwtAccess := func(ts *testServer, _ *writableRegistry) string { return jwtToken(ts).str("access_token") }
	tests := []struct {
		name    string
		token   func(ts *testServer, file *writableRegistry) string // may change the registry
		advance time.Duration                                       // the clock, after token
		active  string                                              // the token's client if active, "" if inactive
	}{
		{"opaque live", opaqueAccess, 0, "opaque"},
		{"opaque at its last second", opaqueAccess, authserver.LifetimeToken - time.Second, "opaque"},
		{"opaque expired", opaqueAccess, authserver.LifetimeToken, ""},
		{"jwt live", jwtAccess, 0, "jwtapp"},
		{"jwt at its last second", jwtAccess, authserver.LifetimeToken - time.Second, "jwtapp"},
		{"jwt expired", jwtAccess, authserver.LifetimeToken, ""},
		{"jwt of a rotated key", func(ts *testServer, _ *writableRegistry) string {
			tok := jwtAccess(ts, nil)
			if _, err := ts.RotateKey(); err != nil {
				t.Fatal(err)
			}
			return tok
		}, 0, "jwtapp"},
		{"jwt tampered", func(ts *testServer, _ *writableRegistry) string {
			parts := strings.Split(jwtToken(ts).str("access_token"), ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"scope":"bookings:read"`, `"scope":"bookings:admin"`, 1)))
			return strings.Join(parts, ".")
		}, 0, ""},
		{"jwt of another server", func(*testServer, *writableRegistry) string { return foreignJWT }, 0, ""},
		{"opaque of another server", func(*testServer, *writableRegistry) string { return foreignOpaque }, 0, ""},
		{"unknown opaque", func(*testServer, *writableRegistry) string {
			return authserver.OpaqueTokenPrefix + base64.RawURLEncoding.EncodeToString([]byte(rand.Text()[:26]+"012345"))
		}, 0, ""},
		{"refresh token", func(ts *testServer, _ *writableRegistry) string { return opaqueToken(ts).str("refresh_token") }, 0, ""},
		{"opaque token with a dot", func(ts *testServer, _ *writableRegistry) string {
			tok := opaqueToken(ts).str("access_token")
			return tok[:20] + "." + tok[21:]
		}, 0, ""},
		{"opaque token too long", func(ts *testServer, _ *writableRegistry) string { return opaqueToken(ts).str("access_token") + "A" }, 0, ""},
		{"garbage", func(*testServer, *writableRegistry) string { return "not a token at all" }, 0, ""},
		{"three dots", func(*testServer, *writableRegistry) string { return "a.b.c.d" }, 0, ""},
		{"two dots", func(*testServer, *writableRegistry) string { return "a.b.c" }, 0, ""},
		{"client disabled since", func(ts *testServer, file *writableRegistry) string {
			tok := opaqueToken(ts).str("access_token")
			file.disabled["opaque"] = true
			file.write(t)
			if err := ts.Cfg.Clients.Reload(); err != nil {
				t.Fatal(err)
			}
			return tok
		}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts, file := startIntrospection(t, nil)
			issued := ts.Clock.Now()
			token := tc.token(ts, file)
			ts.Clock.Add(tc.advance)
			resp := ts.introspect(t, token)
			if tc.active == "" {
				checkInactive(t, resp)
				return
			}
			want := activeOf(ts, tc.active, "bookings:read", issued, authserver.LifetimeToken)
			if tc.active == "opaque" {
				want["scope"] = "bookings:read reports:read"
			} else {
				ts.Clock.Add(-tc.advance)
				_, claims := ts.verify(t, token)
				want["jti"] = claims["jti"]
			}
			if !reflect.DeepEqual(resp.body, want) {
				t.Errorf("introspection\n got %v\nwant %v", resp.body, want)
			}
		})
	}
}

// TestIntrospectionRequests: client authentication (both methods, Basic
// form-encoded), the permission to introspect, and the request's shape.
func TestIntrospectionRequests(t *testing.T) {
	t.Parallel()
	ts, _ := startIntrospection(t, nil)
	token := ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"opaque", "opaque-secret"}, form: formOf("grant_type", "client_credentials")}).str("access_token")
	rawBasic := "Basic " + base64.StdEncoding.EncodeToString([]byte("rs:"+rsSecret)) // not form-encoded: "%s&" is no escape
	tests := []struct {
		name   string
		req    request
		status int
		code   string // error code; "" for an active answer
	}{
		{"basic", request{basic: []string{"rs", rsSecret}, form: formOf("token", token)}, 200, ""},
		{"post", request{form: formOf("token", token, "client_id", "rs", "client_secret", rsSecret)}, 200, ""},
		{"basic and client_id", request{basic: []string{"rs", rsSecret}, form: formOf("token", token, "client_id", "rs")}, 200, ""},
		{"hint access_token", request{basic: []string{"rs", rsSecret}, form: formOf("token", token, "token_type_hint", "access_token")}, 200, ""},
		{"hint refresh_token", request{basic: []string{"rs", rsSecret}, form: formOf("token", token, "token_type_hint", "refresh_token")}, 200, ""},
		{"hint unknown", request{basic: []string{"rs", rsSecret}, form: formOf("token", token, "token_type_hint", "something_else")}, 200, ""},
		{"basic not form-encoded", request{header: http.Header{"Authorization": {rawBasic}}, form: formOf("token", token)}, 400, "invalid_request"},
		{"wrong secret basic", request{basic: []string{"rs", "not-the-secret"}, form: formOf("token", token)}, 401, "invalid_client"},
		{"wrong secret post", request{form: formOf("token", token, "client_id", "rs", "client_secret", "not-the-secret")}, 401, "invalid_client"},
		{"unknown client", request{basic: []string{"stranger", "not-the-secret"}, form: formOf("token", token)}, 401, "invalid_client"},
		{"no client authentication", request{form: formOf("token", token)}, 401, "invalid_client"},
		{"client_id alone", request{form: formOf("token", token, "client_id", "rs")}, 400, "invalid_request"},
		{"bearer", request{header: http.Header{"Authorization": {"Bearer " + token}}, form: formOf("token", token)}, 401, "invalid_client"},
		{"not allowed to introspect", request{basic: []string{"nosy", "nosy-secret"}, form: formOf("token", token)}, 403, "unauthorized_client"},
		{"token's own client", request{basic: []string{"opaque", "opaque-secret"}, form: formOf("token", token)}, 403, "unauthorized_client"},
		{"token missing", request{basic: []string{"rs", rsSecret}, form: formOf("token_type_hint", "access_token")}, 400, "invalid_request"},
		{"token empty", request{basic: []string{"rs", rsSecret}, form: formOf("token", "")}, 400, "invalid_request"},
		{"token repeated", request{basic: []string{"rs", rsSecret}, form: formOf("token", token, "token", token)}, 400, "invalid_request"},
		{"token in the query", request{basic: []string{"rs", rsSecret}, form: formOf("client_id", "rs"), query: "token=" + token}, 400, "invalid_request"},
		{"json body", request{basic: []string{"rs", rsSecret}, json: map[string]string{"token": token}}, 400, "invalid_request"},
		{"secret in both", request{basic: []string{"rs", rsSecret}, form: formOf("token", token, "client_secret", rsSecret)}, 400, "invalid_request"},
		{"too large", request{basic: []string{"rs", rsSecret}, form: formOf("token", strings.Repeat("A", authserver.MaxBodyBytes))}, 413, "invalid_request"},
		{"GET", request{method: http.MethodGet, basic: []string{"rs", rsSecret}}, 405, "invalid_request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.path = authserver.PathIntrospect
			resp := ts.do(t, tc.req)
			if tc.code != "" {
				checkError(t, resp, tc.status, tc.code)
				challenge := resp.header.Get("WWW-Authenticate")
				if want := `Basic realm="` + ts.URL + `"`; (tc.status == 401) != (challenge == want) {
					t.Errorf("WWW-Authenticate %q on a %d", challenge, tc.status)
				}
				if strings.Contains(string(resp.raw), token) {
					t.Errorf("the refusal echoes the token: %s", resp.raw)
				}
				return
			}
			checkIntrospectionHeaders(t, resp)
			if resp.status != tc.status || resp.body["active"] != true || resp.str("client_id") != "opaque" {
				t.Errorf("status %d, body %s", resp.status, resp.raw)
			}
		})
	}
}

// TestOpaqueTokenBound: the store holds at most MaxOpaqueTokens; issuing
// past it drops the expired tokens first, else the one closest to its
// expiry, which introspection then calls inactive.
func TestOpaqueTokenBound(t *testing.T) {
	t.Parallel()
	ts, _ := startIntrospection(t, func(c *authserver.Config) { c.MaxOpaqueTokens = 3 })
	issue := func(path string) string {
		return ts.mustToken(t, request{path: path, basic: []string{"opaque", "opaque-secret"}, form: formOf("grant_type", "client_credentials")}).str("access_token")
	}
	check := func(step string, stored int, active, inactive []string) {
		t.Helper()
		if got := authserver.OpaqueTokensStored(ts.Server); got != stored {
			t.Errorf("%s: %d tokens stored, want %d", step, got, stored)
		}
		for _, tok := range active {
			if resp := ts.introspect(t, tok); resp.body["active"] != true {
				t.Errorf("%s: a token that should be live is inactive", step)
			}
		}
		for _, tok := range inactive {
			checkInactive(t, ts.introspect(t, tok))
		}
	}
	short1 := issue(authserver.PathToken) // 15 minutes
	long1 := issue(authserver.PathTokenV2)
	long2 := issue(authserver.PathTokenV2) // 1 hour
	check("full", 3, []string{short1, long1, long2}, nil)

	long3 := issue(authserver.PathTokenV2)
	check("none expired: the closest to its expiry goes", 3, []string{long1, long2, long3}, []string{short1})

	ts.Clock.Add(authserver.LifetimeTokenV2) // every token expires
	last := issue(authserver.PathToken)
	check("every expired token goes", 1, []string{last}, []string{long1, long2, long3})
}

// TestIntrospectionLogs: issuing and introspecting opaque and JWT tokens,
// with successes and refusals, logs neither the tokens nor the secrets.
func TestIntrospectionLogs(t *testing.T) {
	t.Parallel()
	var logs syncbuf.Buffer
	ts, _ := startIntrospection(t, func(c *authserver.Config) {
		c.Logger = debugLogger(&logs)
	})
	opaque := ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"opaque", "opaque-secret"}, form: formOf("grant_type", "client_credentials")})
	jwtResp := ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"jwtapp", "jwtapp-secret"}, form: formOf("grant_type", "client_credentials")})
	refreshed := ts.mustToken(t, request{path: authserver.PathToken, form: formOf("grant_type", "refresh_token", "refresh_token", opaque.str("refresh_token"))})
	secrets := []string{"opaque-secret", "jwtapp-secret", rsSecret, "nosy-secret", "not-the-secret",
		opaque.str("access_token"), opaque.str("refresh_token"), jwtResp.str("access_token"), refreshed.str("access_token"), refreshed.str("refresh_token")}
	for _, tok := range []string{opaque.str("access_token"), jwtResp.str("access_token"), refreshed.str("access_token"), "kwat_unknown"} {
		ts.introspect(t, tok)
		ts.do(t, request{path: authserver.PathIntrospect, basic: []string{"nosy", "nosy-secret"}, form: formOf("token", tok)})
		ts.do(t, request{path: authserver.PathIntrospect, basic: []string{"rs", "not-the-secret"}, form: formOf("token", tok)})
	}

	out := logs.String()
	for _, s := range secrets {
		// The secret part alone too: a log that cut the prefix off would still leak.
		for _, leak := range []string{s, strings.TrimPrefix(s, authserver.OpaqueTokenPrefix)} {
			if strings.Contains(out, leak) {
				t.Errorf("the log holds %q:\n%s", leak, out)
			}
		}
	}
	for _, want := range []string{
		`msg="token issued" endpoint=/oauth/token grant_type=client_credentials client_id=opaque remote_addr=127.0.0.1 scope="bookings:read reports:read" expires_in=900 token_format=opaque`,
		`msg="token issued" endpoint=/oauth/token grant_type=refresh_token client_id=opaque remote_addr=127.0.0.1 scope="bookings:read reports:read" expires_in=900 token_format=opaque`,
		`msg="token issued" endpoint=/oauth/token grant_type=client_credentials client_id=jwtapp remote_addr=127.0.0.1 scope=bookings:read expires_in=900 token_format=jwt kid=`,
		`msg="token introspected" endpoint=/oauth/introspect client_id=rs remote_addr=127.0.0.1 active=true token_format=opaque token_client_id=opaque`,
		`msg="token introspected" endpoint=/oauth/introspect client_id=rs remote_addr=127.0.0.1 active=true token_format=jwt token_client_id=jwtapp`,
		`msg="token introspected" endpoint=/oauth/introspect client_id=rs remote_addr=127.0.0.1 active=false token_format=opaque token_client_id=""`,
		`msg="introspection request refused" endpoint=/oauth/introspect client_id=nosy remote_addr=127.0.0.1 error=unauthorized_client`,
		`msg="introspection request refused" endpoint=/oauth/introspect client_id=rs remote_addr=127.0.0.1 error=invalid_client`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %s:\n%s", want, out)
		}
	}
}

// TestClientOptions: the client options file and Config.ClientOptions
// refuse what they cannot mean, naming the line and the key.
func TestClientOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, file string
		want       map[string]authserver.ClientOptions
		err        string
	}{
		{"both", "clients:\n  - client_id: a\n    token_format: opaque\n  - client_id: rs\n    introspect: true\n  - client_id: j\n    token_format: jwt\n    introspect: false\n",
			map[string]authserver.ClientOptions{"a": {TokenFormat: "opaque"}, "rs": {Introspect: true}, "j": {TokenFormat: "jwt"}}, ""},
		{"empty list", "clients: []\n", map[string]authserver.ClientOptions{}, ""},
		{"bad format", "clients:\n  - client_id: a\n    token_format: reference\n", nil, `line 3: token_format: "reference" is not a token format (use jwt or opaque)`},
		{"format case", "clients:\n  - client_id: a\n    token_format: Opaque\n", nil, `line 3: token_format: "Opaque" is not a token format`},
		{"format list", "clients:\n  - client_id: a\n    token_format: [opaque]\n", nil, "line 3: token_format must be a single value"},
		{"unknown key", "clients:\n  - client_id: a\n    token_fromat: opaque\n", nil, `line 3: unknown key "token_fromat"; did you mean "token_format"?`},
		{"introspect not bool", "clients:\n  - client_id: a\n    introspect: \"true\"\n", nil, "line 3: introspect must be true or false"},
		{"introspect yes", "clients:\n  - client_id: a\n    introspect: yes\n", nil, "line 3: introspect must be true or false"},
		{"no client_id", "clients:\n  - token_format: opaque\n", nil, "line 2: client_id is missing or empty"},
		{"twice", "clients:\n  - client_id: a\n  - client_id: a\n", nil, `line 3: client "a" is listed twice (first at line 2)`},
		{"duplicate key", "clients:\n  - client_id: a\n    introspect: true\n    introspect: false\n", nil, `line 4: key "introspect" is set twice`},
		{"no clients", "other: 1\n", nil, `line 1: unknown key "other"`},
		{"not a list", "clients: a\n", nil, "line 1: clients must be a list"},
		{"empty file", "", nil, "the file is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := authserver.ParseClientOptions([]byte(tc.file))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}

	t.Run("Config", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			cfg  authserver.Config
			err  string
		}{
			{"bad format", authserver.Config{ClientOptions: map[string]authserver.ClientOptions{"acme": {TokenFormat: "paseto"}}},
				`authserver: ClientOptions["acme"].TokenFormat: "paseto" is not a token format (use jwt or opaque)`},
			{"negative bound", authserver.Config{MaxOpaqueTokens: -1}, "authserver: MaxOpaqueTokens must be 0 (the default, 100000) or more, not -1"},
		} {
			tc.cfg.Issuer, tc.cfg.Audience, tc.cfg.Clients = "http://127.0.0.1:9000", "bookings-api", testRegistry(t)
			if _, err := authserver.New(tc.cfg); err == nil || err.Error() != tc.err {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
			}
		}
	})

	t.Run("file", func(t *testing.T) {
		got, err := authserver.ReadClientOptions("../testdata/authserver/client-options.yaml")
		if err != nil || got["keyward-rs"] != (authserver.ClientOptions{Introspect: true}) || got["opaque-app"].TokenFormat != authserver.TokenFormatOpaque {
			t.Errorf("got %v, %v", got, err)
		}
		if _, err := authserver.ReadClientOptions("no-such-file.yaml"); err == nil || !strings.Contains(err.Error(), "no-such-file.yaml") {
			t.Errorf("error %v does not name the file", err)
		}
	})
}
