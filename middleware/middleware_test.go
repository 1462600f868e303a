package middleware_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

// authCase is one row of the table both frameworks must answer alike.
type authCase struct {
	name string
	req  request
	// status is the expected HTTP status.
	status int
	// challenge is the exact WWW-Authenticate value; "" means none.
	challenge string
	// code and description are the JSON error body, for refusals.
	code, description string
	// who is the caller the handler must see, for successes.
	who *who
}

// authCases builds the shared table against f's issuer.
func authCases(t *testing.T, f *fixture) []authCase {
	iss := f.iss
	token := func(claims jwt.MapClaims) string { return iss.Token(t, claims) }
	reader := token(jwt.MapClaims{"sub": "user-42", "client_id": "booking-app", "scope": "bookings:read profile"})
	reporter := token(jwt.MapClaims{"sub": "user-7", "client_id": "report-app", "scope": "reports:read"})
	both := token(jwt.MapClaims{"sub": "user-9", "client_id": "admin-app", "scp": []string{"bookings:read", "reports:read"}})
	past := time.Now().Add(-2 * time.Hour)
	expired := token(jwt.MapClaims{"scope": "bookings:read", "iat": past.Unix(), "nbf": past.Unix(), "exp": past.Add(time.Hour).Unix()})
	otherAPI := token(jwt.MapClaims{"scope": "bookings:read", "aud": "some-other-api"})
	stranger, err := keywardtest.NewKey("RS256") // never published
	if err != nil {
		t.Fatal(err)
	}
	unknownKey := iss.Sign(t, stranger, nil, iss.Claims(jwt.MapClaims{"scope": "bookings:read"}))
	forged := iss.Sign(t, stranger, map[string]any{"kid": iss.Key().ID}, iss.Claims(jwt.MapClaims{"scope": "bookings:read"}))
	// Sender-constrained tokens (RFC 7800 cnf): a DPoP binding is not
	// checked without DPoP, and a certificate's has no certificate here.
	dpopBound := token(jwt.MapClaims{"scope": "bookings:read", "cnf": map[string]any{"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}})
	certBound := token(jwt.MapClaims{"scope": "bookings:read", "cnf": map[string]any{"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg0"}})
	const bound = "the access token is bound to a key (cnf), and this server cannot verify that binding"
	const noCert = "the access token is bound to a client certificate (cnf x5t#S256), and the request has none"

	invalidToken := func(desc string) string { return challenge("invalid_token", desc) }
	invalidRequest := func(desc string) string { return challenge("invalid_request", desc) }
	const lacks = "the access token lacks a scope this request requires"
	const noneOf = "the access token has none of the scopes this request accepts; it needs one of them"
	readerWho := &who{Subject: "user-42", ClientID: "booking-app", Scopes: []string{"bookings:read", "profile"}, Method: "jwt"}

	return []authCase{
		{
			name: "no Authorization", req: request{target: "/bookings"},
			status: 401, challenge: bareChallenge, code: "unauthorized", description: "authentication is required",
		},
		{
			name: "no Authorization on Authenticate route", req: request{target: "/whoami"},
			status: 401, challenge: bareChallenge, code: "unauthorized", description: "authentication is required",
		},
		{
			name: "Basic scheme is no credentials", req: request{target: "/bookings", auth: []string{"Basic dXNlcjpodW50ZXIy"}},
			status: 401, challenge: bareChallenge, code: "unauthorized", description: "authentication is required",
		},
		{
			name: "lowercase bearer scheme", req: request{target: "/bookings", auth: []string{"bearer " + reader}},
			status: 200, who: readerWho,
		},
		{
			name: "uppercase BEARER scheme", req: request{target: "/whoami", auth: []string{"BEARER " + reader}},
			status: 200, who: readerWho,
		},
		{
			name: "two Authorization headers", req: request{target: "/bookings", auth: []string{bearer(reader), bearer(reader)}},
			status: 400, challenge: invalidRequest("the request has more than one Authorization header"),
			code: "invalid_request", description: "the request has more than one Authorization header",
		},
		{
			name: "token in the query", req: request{target: "/bookings?access_token=" + reader},
			status: 400, challenge: invalidRequest("access tokens are accepted only in the Authorization header"),
			code: "invalid_request", description: "access tokens are accepted only in the Authorization header",
		},
		{
			name: "token in the query besides the header", req: request{target: "/bookings?access_token=" + reader, auth: []string{bearer(reader)}},
			status: 400, challenge: invalidRequest("access tokens are accepted only in the Authorization header"),
			code: "invalid_request", description: "access tokens are accepted only in the Authorization header",
		},
		{
			name: "empty Bearer credentials", req: request{target: "/bookings", auth: []string{"Bearer"}},
			status: 400, challenge: invalidRequest("the Bearer credentials are empty"),
			code: "invalid_request", description: "the Bearer credentials are empty",
		},
		{
			name: "garbage token", req: request{target: "/bookings", auth: []string{bearer("not-a-jwt")}},
			status: 401, challenge: invalidToken("the access token is not a JWT"),
			code: "invalid_token", description: "the access token is not a JWT",
		},
		{
			name: "expired token", req: request{target: "/bookings", auth: []string{bearer(expired)}},
			status: 401, challenge: invalidToken("the access token expired"),
			code: "invalid_token", description: "the access token expired",
		},
		{
			name: "wrong audience", req: request{target: "/bookings", auth: []string{bearer(otherAPI)}},
			status: 401, challenge: invalidToken("the access token is not meant for this API"),
			code: "invalid_token", description: "the access token is not meant for this API",
		},
		{
			name: "signed by an unpublished key", req: request{target: "/bookings", auth: []string{bearer(unknownKey)}},
			status: 401, challenge: invalidToken("the access token is signed with an unknown key"),
			code: "invalid_token", description: "the access token is signed with an unknown key",
		},
		{
			name: "forged signature under a published kid", req: request{target: "/bookings", auth: []string{bearer(forged)}},
			status: 401, challenge: invalidToken("the access token's signature is invalid"),
			code: "invalid_token", description: "the access token's signature is invalid",
		},
		{
			name: "DPoP-bound token (cnf jkt)", req: request{target: "/bookings", auth: []string{bearer(dpopBound)}},
			status: 401, challenge: invalidToken(bound), code: "invalid_token", description: bound,
		},
		{
			name: "certificate-bound token (cnf x5t#S256) on Authenticate route", req: request{target: "/whoami", auth: []string{bearer(certBound)}},
			status: 401, challenge: invalidToken(noCert), code: "invalid_token", description: noCert,
		},
		{
			name: "DPoP-bound token, presented again", req: request{target: "/composed", auth: []string{bearer(dpopBound)}},
			status: 401, challenge: invalidToken(bound), code: "invalid_token", description: bound,
		},
		{
			name: "missing scope", req: request{target: "/bookings", auth: []string{bearer(reporter)}},
			status: 403, challenge: challenge("insufficient_scope", lacks) + `, scope="bookings:read"`,
			code: "insufficient_scope", description: lacks,
		},
		{
			name: "All with one of two scopes", req: request{target: "/reports", auth: []string{bearer(reader)}},
			status: 403, challenge: challenge("insufficient_scope", lacks) + `, scope="bookings:read reports:read"`,
			code: "insufficient_scope", description: lacks,
		},
		{
			name: "All with both scopes", req: request{target: "/reports", auth: []string{bearer(both)}},
			status: 200, who: &who{Subject: "user-9", ClientID: "admin-app", Scopes: []string{"bookings:read", "reports:read"}, Method: "jwt"},
		},
		{
			name: "Any with the first scope", req: request{target: "/either", auth: []string{bearer(reporter)}},
			status: 200, who: &who{Subject: "user-7", ClientID: "report-app", Scopes: []string{"reports:read"}, Method: "jwt"},
		},
		{
			name: "Any with the second scope", req: request{target: "/either", auth: []string{bearer(reader)}},
			status: 200, who: readerWho,
		},
		{
			name: "Any with neither scope", req: request{target: "/either", auth: []string{bearer(token(jwt.MapClaims{"scope": "profile"}))}},
			status: 403, challenge: challenge("insufficient_scope", noneOf) + `, scope="bookings:read reports:read"`,
			code: "insufficient_scope", description: noneOf,
		},
		{
			name: "valid token", req: request{target: "/bookings", auth: []string{bearer(reader)}},
			status: 200, who: readerWho,
		},
		{
			name: "valid token on Authenticate route", req: request{target: "/whoami", auth: []string{bearer(reporter)}},
			status: 200, who: &who{Subject: "user-7", ClientID: "report-app", Scopes: []string{"reports:read"}, Method: "jwt"},
		},
		{
			name: "composed Authenticate and Require", req: request{target: "/composed", auth: []string{bearer(reader)}},
			status: 200, who: readerWho,
		},
		{
			name: "composed Authenticate and Require, missing scope", req: request{target: "/composed", auth: []string{bearer(reporter)}},
			status: 403, challenge: challenge("insufficient_scope", lacks) + `, scope="bookings:read"`,
			code: "insufficient_scope", description: lacks,
		},
		{
			name: "composed without credentials", req: request{target: "/composed"},
			status: 401, challenge: bareChallenge, code: "unauthorized", description: "authentication is required",
		},
		{
			name: "HEAD without credentials has no body", req: request{method: http.MethodHead, target: "/bookings"},
			status: 401, challenge: bareChallenge,
		},
		{
			name: "HEAD with a bad token has no body", req: request{method: http.MethodHead, target: "/bookings", auth: []string{bearer("x.y.z")}},
			status: 401, challenge: invalidToken("the access token's header is not base64url"),
		},
	}
}

// frameworks builds each framework's app around one Middleware.
var frameworks = []struct {
	name string
	app  func(*middleware.Middleware) http.Handler
}{
	{"net/http", netHTTPApp},
	{"echo", func(m *middleware.Middleware) http.Handler { return echoApp(m) }},
}

// TestAuthTable runs the shared table through both frameworks, over real TCP
// and in process.
func TestAuthTable(t *testing.T) {
	f := newFixture(t, "RS256")
	cases := authCases(t, f)
	for _, fw := range frameworks {
		t.Run(fw.name, func(t *testing.T) {
			app := fw.app(middleware.New(f.auth, middleware.Options{}))
			clients := []struct {
				name string
				c    client
			}{
				{"tcp", newTCPClient(t, app)},
				{"recorder", recorderClient{h: app}},
			}
			for _, cl := range clients {
				t.Run(cl.name, func(t *testing.T) {
					for _, tc := range cases {
						t.Run(tc.name, func(t *testing.T) {
							checkCase(t, tc, cl.c.do(t, tc.req))
						})
					}
				})
			}
		})
	}
}

func checkCase(t *testing.T, tc authCase, res response) {
	t.Helper()
	if res.status != tc.status {
		t.Fatalf("status = %d, want %d; body %q", res.status, tc.status, res.body)
	}
	gotChallenge := res.header.Values("WWW-Authenticate")
	switch {
	case tc.challenge == "" && len(gotChallenge) != 0:
		t.Errorf("WWW-Authenticate = %q, want none", gotChallenge)
	case tc.challenge != "" && !slices.Equal(gotChallenge, []string{tc.challenge}):
		t.Errorf("WWW-Authenticate = %q,\n                    want %q", gotChallenge, tc.challenge)
	}
	if tc.status == http.StatusOK {
		var got who
		if err := json.Unmarshal(res.body, &got); err != nil {
			t.Fatalf("body %q: %v", res.body, err)
		}
		if got.Subject != tc.who.Subject || got.ClientID != tc.who.ClientID || !slices.Equal(got.Scopes, tc.who.Scopes) || got.Method != tc.who.Method {
			t.Errorf("handler saw %+v, want %+v", got, *tc.who)
		}
		return
	}
	if ct := res.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := res.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", cc)
	}
	if tc.req.method == http.MethodHead {
		if len(res.body) != 0 {
			t.Errorf("HEAD response has a body: %q", res.body)
		}
		return
	}
	code, desc := decodeError(t, res.body)
	if code != tc.code || desc != tc.description {
		t.Errorf("body = {%q, %q}, want {%q, %q}", code, desc, tc.code, tc.description)
	}
	if cl := res.header.Get("Content-Length"); cl != strconv.Itoa(len(res.body)) {
		t.Errorf("Content-Length = %q, body is %d bytes", cl, len(res.body))
	}
	// No credential the request carried comes back.
	for _, v := range tc.req.auth {
		_, cred, _ := strings.Cut(v, " ")
		if len(cred) >= 8 && (strings.Contains(string(res.body), cred) || strings.Contains(strings.Join(gotChallenge, ""), cred)) {
			t.Errorf("response repeats the credentials %q", cred)
		}
	}
	if _, query, ok := strings.Cut(tc.req.target, "access_token="); ok && strings.Contains(string(res.body), query) {
		t.Errorf("response repeats the query token")
	}
}
