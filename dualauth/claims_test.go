package dualauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/exchange"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

// A handler reads the claims it needs as a type of its own.
func ExamplePrincipal_DecodeClaims() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keys, _ := jwks.NewStatic("issuer.pem", key.Public())
	authn, _ := build(testConfig{
		Issuers: []jwtauth.Issuer{{Issuer: "https://auth.example.com", Audiences: []string{"bookings-api"}, Keys: keys}},
	})
	raw, _ := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": "https://auth.example.com", "aud": []string{"bookings-api", "reports-api"}, "sub": "user-42",
		"tenant_id": "t-7", "roles": []string{"agent", "admin"}, "exp": time.Now().Add(time.Minute).Unix(),
	}).SignedString(key)

	type bookingClaims struct {
		TenantID string           `json:"tenant_id"`
		Roles    []string         `json:"roles"`
		Audience jwt.ClaimStrings `json:"aud"` // one string or an array
	}
	h := middleware.New(authn, middleware.Options{}).Authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := dualauth.FromContext(r.Context())
		var c bookingClaims
		if err := p.DecodeClaims(&c); err != nil {
			http.Error(w, "unexpected claims", http.StatusForbidden)
			return
		}
		fmt.Println(p.Subject, c.TenantID, c.Roles, c.Audience)
	}))

	r := httptest.NewRequest("GET", "/v1/bookings", nil)
	r.Header.Set("Authorization", "Bearer "+raw)
	h.ServeHTTP(httptest.NewRecorder(), r)
	// Output:
	// user-42 t-7 [agent admin] [bookings-api reports-api]
}

// userClaims is what an application reads from its tokens.
type userClaims struct {
	jwt.RegisteredClaims
	TenantID string          `json:"tenant_id"`
	Roles    []string        `json:"roles"`
	Account  int64           `json:"account"`
	Note     string          `json:"note"`
	Plan     *string         `json:"plan"`
	Realm    map[string]any  `json:"realm_access"`
	Extra    json.RawMessage `json:"extra"`
}

// TestDecodeClaims decodes the claims of real signed tokens, first from a
// fresh verification and then from the verified-token cache: both decode
// alike, and what one decode holds does not leak into the next.
func TestDecodeClaims(t *testing.T) {
	const big = int64(1<<53 + 1) // not exact as a float64
	note := "quote \" backslash \\ newline \n nul \x00 é \u2028 <&>"
	for _, tc := range []struct {
		name    string
		claims  jwt.MapClaims // on top of the issuer's defaults
		prefill userClaims
		check   func(t *testing.T, p *dualauth.Principal, c userClaims)
		wantErr string // in the error; empty: none
	}{{
		name:   "custom claims",
		claims: jwt.MapClaims{"tenant_id": "t-7", "roles": []string{"agent", "admin"}, "account": big, "note": note, "realm_access": map[string]any{"roles": []string{"user"}}},
		check: func(t *testing.T, p *dualauth.Principal, c userClaims) {
			if c.TenantID != "t-7" || !reflect.DeepEqual(c.Roles, []string{"agent", "admin"}) || c.Account != big || c.Note != note {
				t.Errorf("decoded %q %q %d %q", c.TenantID, c.Roles, c.Account, c.Note)
			}
			if fmt.Sprint(c.Realm) != "map[roles:[user]]" {
				t.Errorf("realm_access = %v", c.Realm)
			}
		},
	}, {
		name:   "registered claims agree with the Principal",
		claims: jwt.MapClaims{"sub": "user-42", "aud": "keyward-test"},
		check: func(t *testing.T, p *dualauth.Principal, c userClaims) {
			if c.Subject != p.Subject || c.Issuer != p.Issuer || c.ExpiresAt == nil || !c.ExpiresAt.Equal(p.ExpiresAt) || c.ID == "" {
				t.Errorf("registered claims %+v, principal %+v", c.RegisteredClaims, p)
			}
			if !reflect.DeepEqual(c.Audience, jwt.ClaimStrings{"keyward-test"}) {
				t.Errorf("aud = %q", c.Audience)
			}
		},
	}, {
		name:   "aud as an array",
		claims: jwt.MapClaims{"aud": []string{"other-api", "keyward-test"}},
		check: func(t *testing.T, p *dualauth.Principal, c userClaims) {
			if !reflect.DeepEqual(c.Audience, jwt.ClaimStrings{"other-api", "keyward-test"}) {
				t.Errorf("aud = %q", c.Audience)
			}
		},
	}, {
		name:    "absent claims keep their fields, unknown ones are ignored",
		claims:  jwt.MapClaims{"unknown": []any{1, "x"}, "Unrelated": true},
		prefill: userClaims{TenantID: "default", Roles: []string{"guest"}},
		check: func(t *testing.T, p *dualauth.Principal, c userClaims) {
			if c.TenantID != "default" || !reflect.DeepEqual(c.Roles, []string{"guest"}) || c.Plan != nil || c.Extra != nil {
				t.Errorf("decoded %q %q %v %s", c.TenantID, c.Roles, c.Plan, c.Extra)
			}
		},
	}, {
		name:   "a null claim",
		claims: jwt.MapClaims{"plan": "free", "extra": map[string]any{"n": 1.5}},
		check: func(t *testing.T, p *dualauth.Principal, c userClaims) {
			if c.Plan == nil || *c.Plan != "free" || string(c.Extra) != `{"n":1.5}` {
				t.Errorf("plan %v, extra %s", c.Plan, c.Extra)
			}
		},
	}, {
		name:    "a claim of another type",
		claims:  jwt.MapClaims{"roles": "admin", "tenant_id": "t-7"},
		wantErr: "cannot unmarshal string into Go struct field userClaims.roles",
		check: func(t *testing.T, p *dualauth.Principal, c userClaims) {
			if c.TenantID != "t-7" || c.Roles != nil {
				t.Errorf("decoded %q %q", c.TenantID, c.Roles)
			}
		},
	}, {
		name:    "names that differ only in case",
		claims:  jwt.MapClaims{"roles": []string{"user"}, "Roles": []string{"admin"}},
		wantErr: `names that differ only in case ("Roles" and "roles")`,
	}, {
		name:    "names that differ only in Unicode case",
		claims:  jwt.MapClaims{"sub": "user-42", "ſub": "admin"}, // U+017F folds to s
		wantErr: "names that differ only in case",
	}, {
		name:    "nested names that differ only in case",
		claims:  jwt.MapClaims{"realm_access": map[string]any{"roles": []string{"user"}, "ROLES": []string{"admin"}}},
		wantErr: "names that differ only in case",
	}, {
		name:   "names with capitals that do not collide",
		claims: jwt.MapClaims{"TenantID": "t-9", "Kelvin\u212a": 1, "kelvin": 2},
		check: func(t *testing.T, p *dualauth.Principal, c userClaims) {
			if c.TenantID != "" {
				t.Errorf("tenant_id decoded from TenantID: %q", c.TenantID)
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newCacheSetup(t, jwtauth.TokenCache{})
			raw := s.iss.Token(t, tc.claims)
			for _, use := range []string{"fresh", "cached"} {
				p, err := s.auth.Verify(t.Context(), raw, "")
				if err != nil {
					t.Fatal(err)
				}
				if hits := s.auth.TokenCacheStatus().Hits; (hits == 1) != (use == "cached") {
					t.Fatalf("%s use: %d cache hits", use, hits)
				}
				c := tc.prefill
				c.Roles = append([]string(nil), tc.prefill.Roles...)
				err = p.DecodeClaims(&c)
				switch {
				case tc.wantErr == "" && err != nil:
					t.Fatalf("%s use: %v", use, err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Fatalf("%s use: error %v, want one saying %q", use, err, tc.wantErr)
				}
				if tc.check != nil {
					tc.check(t, p, c)
				}
				// What a careless handler might do to its decoded claims.
				for i := range c.Roles {
					c.Roles[i] = "root"
				}
				if c.Realm != nil {
					c.Realm["roles"] = "root"
				}
			}
		})
	}
}

// TestDecodeClaimsTypeError: a claim of the wrong type is reported as
// encoding/json reports it, reachable through errors.As.
func TestDecodeClaimsTypeError(t *testing.T) {
	s := newCacheSetup(t, jwtauth.TokenCache{})
	p, err := s.auth.Verify(t.Context(), s.iss.Token(t, jwt.MapClaims{"account": "not a number"}), "")
	if err != nil {
		t.Fatal(err)
	}
	var c userClaims
	var typeErr *json.UnmarshalTypeError
	if err := p.DecodeClaims(&c); !errors.As(err, &typeErr) || typeErr.Field != "account" {
		t.Fatalf("error %v (%T), want a *json.UnmarshalTypeError for account", err, err)
	}
}

// lowering is a claim type whose UnmarshalJSON lower-cases its input where
// it lies, as the json.Unmarshaler contract lets it.
type lowering string

func (l *lowering) UnmarshalJSON(b []byte) error {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	*l = lowering(b)
	return nil
}

// TestDecodeClaimsLeavesTheCacheAlone: a target that writes to the JSON it
// is handed changes nothing the next request with the same token sees.
func TestDecodeClaimsLeavesTheCacheAlone(t *testing.T) {
	s := newCacheSetup(t, jwtauth.TokenCache{})
	token := s.iss.Token(t, jwt.MapClaims{"role": "ADMIN"})
	for i := range 2 {
		p, err := s.auth.Verify(t.Context(), token, "")
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := p.Claim("role"); got != "ADMIN" {
			t.Fatalf("use %d: role = %v, want ADMIN", i+1, got)
		}
		var c struct {
			Role lowering `json:"role"`
		}
		if err := p.DecodeClaims(&c); err != nil || c.Role != `"admin"` {
			t.Fatalf("use %d: DecodeClaims = %q, %v", i+1, c.Role, err)
		}
	}
}

// TestDecodeClaimsTargets: targets json.Unmarshal accepts work, others
// are an error, never a panic.
func TestDecodeClaimsTargets(t *testing.T) {
	s := newCacheSetup(t, jwtauth.TokenCache{})
	p, err := s.auth.Verify(t.Context(), s.iss.Token(t, jwt.MapClaims{"tenant_id": "t-7", "account": 12}), "")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	var anything any
	for _, tc := range []struct {
		name   string
		target any
		ok     bool
		check  func() bool
	}{
		{"struct value", userClaims{}, false, nil},
		{"nil", nil, false, nil},
		{"nil pointer", (*userClaims)(nil), false, nil},
		{"map value", map[string]any{}, false, nil},
		{"string pointer", new(string), false, nil},
		{"map pointer", &m, true, func() bool { return string(m["tenant_id"]) == `"t-7"` && string(m["account"]) == "12" }},
		{"any pointer", &anything, true, func() bool { return anything.(map[string]any)["tenant_id"] == "t-7" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.DecodeClaims(tc.target)
			if (err == nil) != tc.ok {
				t.Fatalf("DecodeClaims(%T) = %v, want ok %v", tc.target, err, tc.ok)
			}
			if tc.check != nil && !tc.check() {
				t.Fatalf("decoded %v / %v", m, anything)
			}
		})
	}
	var nobody *dualauth.Principal
	if err := nobody.DecodeClaims(&anything); err == nil {
		t.Fatal("a nil Principal decoded claims")
	}
}

// TestDecodeClaimsCredentials: a client checked against the registry has
// no claims (the target is left as it was, no error); one whose
// credentials were exchanged has the claims of the token it got, also when
// the pair cache answers.
func TestDecodeClaimsCredentials(t *testing.T) {
	type tokenClaims struct {
		Subject  string `json:"sub"`
		ClientID string `json:"client_id"`
		Scope    string `json:"scope"`
		TenantID string `json:"tenant_id"`
	}
	registry := newCredSetup(t, dualauth.ModeDual, nil).auth
	iss := newCacheSetup(t, jwtauth.TokenCache{}).iss
	var calls, status atomic.Int64
	endpoint := tokenEndpoint(t, iss, exchange.StyleBasic, &calls, &status)
	exchanged := newAuthenticator(t, func(c *testConfig) {
		c.Mode = dualauth.ModeDual
		c.Credentials.Exchange = &exchange.Client{TokenURL: endpoint.URL, Style: exchange.StyleBasic}
	}, iss)
	for _, tc := range []struct {
		name string
		auth *dualauth.Authenticator
		want tokenClaims
	}{
		{"registry", registry, tokenClaims{TenantID: "default"}},
		{"exchange", exchanged, tokenClaims{Subject: "acme", ClientID: "acme", Scope: "bookings:read", TenantID: "default"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second from the cache of verified pairs
				p, err := tc.auth.Authenticate(request{headers: map[string]string{"client_id": "acme", "client_secret": "acme-secret"}}.build())
				if err != nil {
					t.Fatal(err)
				}
				c := tokenClaims{TenantID: "default"}
				if err := p.DecodeClaims(&c); err != nil || p.Method != dualauth.MethodCredentials || c != tc.want {
					t.Fatalf("%s: decoded %+v, %v; want %+v", p.Method, c, err, tc.want)
				}
			}
		})
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("token endpoint called %d times, want 1", n)
	}
}

// BenchmarkDecodeClaims decodes a typical access token's claims (the
// registered ones, scope, tenant_id and roles) into a struct of the
// application's, of a token the cache holds; "Claim" reads the same two
// custom claims by walking the map, for comparison.
func BenchmarkDecodeClaims(b *testing.B) {
	iss := keywardtest.NewIssuer(b, "ES256")
	a := authenticatorFor(b, iss, nil)
	raw := iss.Token(b, jwt.MapClaims{"scope": "bookings:read bookings:create", "tenant_id": "t-7", "roles": []string{"agent", "admin"}})
	p, err := a.Verify(b.Context(), raw, "")
	if err != nil {
		b.Fatal(err)
	}
	type bookingClaims struct {
		TenantID string   `json:"tenant_id"`
		Roles    []string `json:"roles"`
	}
	b.Run("DecodeClaims", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c bookingClaims
			if err := p.DecodeClaims(&c); err != nil || len(c.Roles) != 2 {
				b.Fatal(c, err)
			}
		}
	})
	b.Run("DecodeClaims/registered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var c struct {
				jwt.RegisteredClaims
				bookingClaims
			}
			if err := p.DecodeClaims(&c); err != nil || len(c.Roles) != 2 || c.ExpiresAt == nil {
				b.Fatal(c, err)
			}
		}
	})
	b.Run("Claim", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tenant, _ := p.Claim("tenant_id")
			roles, _ := p.Claim("roles")
			if _, ok := tenant.(string); !ok || len(roles.([]any)) != 2 {
				b.Fatal(tenant, roles)
			}
		}
	})
}
