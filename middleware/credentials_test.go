package middleware_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
	"github.com/keyward/keyward/middleware/echokw"
	"github.com/keyward/keyward/scopes"
)

// credFixture is an authenticator over a real test issuer and the test
// client registry (testdata/clients/clients.yaml: globex / globex-secret is
// argon2id and fast; initech is disabled).
type credFixture struct {
	iss  *keywardtest.Issuer
	auth *dualauth.Authenticator
}

func newCredFixture(t *testing.T, mode dualauth.Mode, edit func(*keywardtest.Config)) *credFixture {
	t.Helper()
	f := newFixture(t)
	reg, err := clients.Open("../testdata/clients/clients.yaml", clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := keywardtest.Config{
		Config:  dualauth.Config{Mode: mode, Realm: realm},
		JWT:     jwtauth.Config{Issuers: []jwtauth.Issuer{{Issuer: f.iss.URL, Audiences: []string{f.iss.Audience}, Keys: f.keys}}},
		Clients: clientauth.Config{Verifier: reg, Throttle: clientauth.Throttle{MaxClientFailures: 2}},
	}
	if edit != nil {
		edit(&cfg)
	}
	a, err := cfg.Build()
	if err != nil {
		t.Fatal(err)
	}
	return &credFixture{iss: f.iss, auth: a}
}

func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(id+":"+secret))
}

const basicChallenge = `Basic realm="bookings-api"`

// handlers returns the same protected route on net/http and on Echo.
func handlers(kw *middleware.Middleware, req scopes.Requirement) map[string]http.Handler {
	ok := func(p *dualauth.Principal) []byte {
		b, _ := json.Marshal(p)
		return b
	}
	e := echo.New()
	e.GET("/r", func(c echo.Context) error {
		p, _ := echokw.Principal(c)
		return c.JSONBlob(http.StatusOK, ok(p))
	}, ek(kw).Authenticate(), ek(kw).Require(req))
	return map[string]http.Handler{
		"net/http": kw.Authenticate(kw.Require(req)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, _ := dualauth.FromContext(r.Context())
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(ok(p))
		}))),
		"echo": e,
	}
}

func TestCredentialResponses(t *testing.T) {
	type want struct {
		status     int
		challenges []string
		errorCode  string
		retryAfter bool
	}
	dual := newCredFixture(t, dualauth.ModeDual, nil)
	credOnly := newCredFixture(t, dualauth.ModeCredentials, nil)
	noBasic := newCredFixture(t, dualauth.ModeCredentials, func(c *keywardtest.Config) { c.DisableBasic = true })
	dualNoBasic := newCredFixture(t, dualauth.ModeDual, func(c *keywardtest.Config) { c.DisableBasic = true })
	headers := func(id, secret string) map[string]string {
		return map[string]string{"client_id": id, "client_secret": secret}
	}
	tests := []struct {
		name    string
		f       *credFixture
		auth    string
		headers map[string]string
		want    want
	}{
		{"dual: nothing offers both schemes", dual, "", nil, want{401, []string{bareChallenge, basicChallenge}, "unauthorized", false}},
		{"dual: client headers", dual, "", headers("globex", "globex-secret"), want{200, nil, "", false}},
		{"dual: basic", dual, basicAuth("globex", "globex-secret"), nil, want{200, nil, "", false}},
		{"dual: wrong secret", dual, "", headers("globex", "nope"), want{401, []string{basicChallenge}, "invalid_client", false}},
		{"dual: disabled client", dual, basicAuth("initech", "initech-secret"), nil, want{401, []string{basicChallenge}, "invalid_client", false}},
		{"dual: bearer and headers", dual, "Bearer x.y.z", headers("globex", "globex-secret"), want{400, []string{challenge("invalid_request", "the request carries more than one kind of credentials")}, "invalid_request", false}},
		{"dual: half a pair", dual, "", map[string]string{"client_id": "globex"}, want{400, nil, "invalid_request", false}},
		{"credentials: nothing offers Basic only", credOnly, "", nil, want{401, []string{basicChallenge}, "unauthorized", false}},
		{"credentials: a bearer token is no credentials", credOnly, "Bearer x.y.z", nil, want{401, []string{basicChallenge}, "unauthorized", false}},
		{"credentials without Basic: nothing", noBasic, "", nil, want{401, nil, "unauthorized", false}},
		{"dual without Basic: wrong secret still gets a challenge", dualNoBasic, "", headers("globex", "nope"), want{401, []string{bareChallenge}, "invalid_client", false}},
		{"credentials without Basic: Basic is no credentials", noBasic, basicAuth("globex", "globex-secret"), nil, want{401, nil, "unauthorized", false}},
	}
	for _, tt := range tests {
		for fw, h := range handlers(middleware.New(tt.f.auth, middleware.Options{}), scopes.All("bookings:read")) {
			t.Run(tt.name+"/"+fw, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodGet, "/r", nil)
				if tt.auth != "" {
					r.Header.Set("Authorization", tt.auth)
				}
				for k, v := range tt.headers {
					r.Header.Set(k, v)
				}
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != tt.want.status {
					t.Fatalf("status = %d, want %d; body %s", w.Code, tt.want.status, w.Body)
				}
				if tt.want.status == 200 {
					var p map[string]any
					if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p["method"] != "credentials" {
						t.Fatalf("principal = %s", w.Body)
					}
					return
				}
				if got := w.Header().Values("WWW-Authenticate"); tt.want.challenges != nil && strings.Join(got, "|") != strings.Join(tt.want.challenges, "|") {
					t.Fatalf("WWW-Authenticate = %q, want %q", got, tt.want.challenges)
				} else if tt.want.challenges == nil && tt.want.status == 401 && len(got) != 0 {
					t.Fatalf("WWW-Authenticate = %q, want none", got)
				}
				var body map[string]string
				if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != tt.want.errorCode {
					t.Fatalf("body = %s, want error %q", w.Body, tt.want.errorCode)
				}
				for _, secret := range []string{"globex-secret", "initech-secret", "nope"} {
					if strings.Contains(w.Body.String(), secret) || strings.Contains(strings.Join(w.Header().Values("WWW-Authenticate"), " "), secret) {
						t.Fatalf("response quotes the secret %q", secret)
					}
				}
			})
		}
	}
}

// TestInsufficientScopeChallenge: a 403 answers in the scheme the caller
// used: Bearer with error and scope for a token (RFC 6750 §3.1), a bare
// Basic challenge for HTTP Basic (RFC 7617 has no error parameters), and
// no challenge for the client headers, which are no HTTP authentication
// scheme. The JSON body says insufficient_scope in every case.
func TestInsufficientScopeChallenge(t *testing.T) {
	dual := newCredFixture(t, dualauth.ModeDual, nil)
	credOnly := newCredFixture(t, dualauth.ModeCredentials, nil)
	dualNoBasic := newCredFixture(t, dualauth.ModeDual, func(c *keywardtest.Config) { c.DisableBasic = true })
	headers := func(r *http.Request) {
		r.Header.Set("client_id", "globex")
		r.Header.Set("client_secret", "globex-secret")
	}
	basic := func(r *http.Request) { r.Header.Set("Authorization", basicAuth("globex", "globex-secret")) }
	bearerOf := func(f *credFixture) func(r *http.Request) {
		token := f.iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
	}
	const bearerLacks = `Bearer realm="bookings-api", error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="reports:read"`
	tests := []struct {
		name       string
		f          *credFixture
		creds      func(r *http.Request)
		challenges []string // exactly these; nil means none
	}{
		{"dual: Bearer", dual, bearerOf(dual), []string{bearerLacks}},
		{"dual: Basic", dual, basic, []string{basicChallenge}},
		{"dual: client headers", dual, headers, nil},
		{"credentials: Basic", credOnly, basic, []string{basicChallenge}},
		{"credentials: client headers", credOnly, headers, nil},
		{"dual without Basic: client headers", dualNoBasic, headers, nil},
		{"dual without Basic: client headers beside an ignored Basic", dualNoBasic, func(r *http.Request) {
			headers(r)
			r.Header.Set("Authorization", basicAuth("globex", "globex-secret"))
		}, nil},
	}
	for _, tt := range tests {
		for fw, h := range handlers(middleware.New(tt.f.auth, middleware.Options{}), scopes.All("reports:read")) {
			t.Run(tt.name+"/"+fw, func(t *testing.T) {
				r := httptest.NewRequest(http.MethodGet, "/r", nil)
				tt.creds(r)
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusForbidden {
					t.Fatalf("status = %d, want 403; body %s", w.Code, w.Body)
				}
				if got := w.Header().Values("WWW-Authenticate"); strings.Join(got, "|") != strings.Join(tt.challenges, "|") {
					t.Fatalf("WWW-Authenticate = %q, want %q", got, tt.challenges)
				}
				if code, _ := decodeError(t, w.Body.Bytes()); code != "insufficient_scope" {
					t.Fatalf("body error = %q, want insufficient_scope", code)
				}
			})
		}
	}
}

func TestCredentialScopesAndThrottle(t *testing.T) {
	var logs bytes.Buffer
	f := newCredFixture(t, dualauth.ModeDual, nil)
	kw := middleware.New(f.auth, middleware.Options{Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	h := kw.Require(scopes.All("reports:read"))(http.NotFoundHandler())
	do := func(id, secret string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("client_id", id)
		r.Header.Set("client_secret", secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	// globex has bookings:read and bookings:create, not reports:read.
	if w := do("globex", "globex-secret"); w.Code != http.StatusForbidden || w.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("missing scope = %d %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
	for range 2 {
		if w := do("globex", "guess-1"); w.Code != http.StatusUnauthorized {
			t.Fatalf("guess = %d, want 401", w.Code)
		}
	}
	w := do("globex", "guess-2")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" || len(w.Header().Values("WWW-Authenticate")) != 0 {
		t.Fatalf("throttled = %d Retry-After %q WWW-Authenticate %q", w.Code, w.Header().Get("Retry-After"), w.Header().Values("WWW-Authenticate"))
	}
	for _, secret := range []string{"globex-secret", "guess-1", "guess-2"} {
		if strings.Contains(logs.String(), secret) {
			t.Fatalf("the log contains the secret %q", secret)
		}
	}
}

func TestOnlyRestrictsARoute(t *testing.T) {
	f := newCredFixture(t, dualauth.ModeDual, nil)
	kw := middleware.New(f.auth, middleware.Options{})
	jwtOnly := kw.Only(dualauth.ModeJWT)
	admin := jwtOnly.Require(scopes.All("bookings:read"))(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	}))
	// Behind a dual-mode Authenticate, as a whole API would be.
	h := kw.Authenticate(admin)
	do := func(set func(r *http.Request)) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		set(r)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	w := do(func(r *http.Request) {
		r.Header.Set("client_id", "globex")
		r.Header.Set("client_secret", "globex-secret")
	})
	if w.Code != http.StatusUnauthorized || strings.Join(w.Header().Values("WWW-Authenticate"), "|") != bareChallenge {
		t.Fatalf("client credentials on a JWT-only route = %d %q", w.Code, w.Header().Values("WWW-Authenticate"))
	}
	token := f.iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	if w := do(func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }); w.Code != http.StatusTeapot {
		t.Fatalf("bearer on a JWT-only route = %d", w.Code)
	}

	reg, err := clients.Open("../testdata/clients/clients.yaml", clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	noIssuers, err := keywardtest.Config{Config: dualauth.Config{Mode: dualauth.ModeCredentials}, Clients: clientauth.Config{Verifier: reg}}.Build()
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Only(ModeJWT) on an authenticator without issuers did not panic")
		}
	}()
	middleware.New(noIssuers, middleware.Options{}).Only(dualauth.ModeJWT)
}
