package bench_test

import (
	"net/http"
	"slices"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/bench/internal/suite"
	"github.com/keyward/keyward/keywardtest"
)

// TestImplementations checks that every implementation the benchmarks
// compare is a working configuration: it accepts a good token of every
// algorithm and refuses a token lacking the scope, one for another
// audience or issuer, an expired one, a forged one and none at all.
func TestImplementations(t *testing.T) {
	for _, alg := range suite.Algs {
		mint := func(overrides jwt.MapClaims) string {
			t.Helper()
			tok, err := env.Mint(alg, overrides)
			if err != nil {
				t.Fatal(err)
			}
			return tok
		}
		expired, err := env.Expired(alg)
		if err != nil {
			t.Fatal(err)
		}
		// Signed by a key the issuer never published, under a published kid.
		forger, err := keywardtest.NewKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		forged, err := forger.Sign(env.Issuer.Claims(jwt.MapClaims{"scope": suite.Scope}),
			map[string]any{"typ": "at+jwt", "kid": kidOf(t, env.Reused(alg))})
		if err != nil {
			t.Fatal(err)
		}

		cases := []struct {
			name  string
			token string // "" sends no Authorization header
			want  []int
		}{
			{"good", env.Reused(alg), []int{http.StatusOK}},
			{"fresh", mint(nil), []int{http.StatusOK}},
			{"scope among others", mint(jwt.MapClaims{"scope": "reports:read " + suite.Scope}), []int{http.StatusOK}},
			{"missing scope", mint(jwt.MapClaims{"scope": "reports:read"}), []int{http.StatusForbidden}},
			{"scope prefix", mint(jwt.MapClaims{"scope": suite.Scope + "er"}), []int{http.StatusForbidden}},
			{"wrong audience", mint(jwt.MapClaims{"aud": "other-api"}), []int{http.StatusUnauthorized}},
			{"wrong issuer", mint(jwt.MapClaims{"iss": "https://elsewhere.example"}), []int{http.StatusUnauthorized}},
			{"expired", expired, []int{http.StatusUnauthorized}},
			{"forged", forged, []int{http.StatusUnauthorized}},
			// go-jwt-middleware answers a missing token 400.
			{"no token", "", []int{http.StatusUnauthorized, http.StatusBadRequest}},
		}
		for _, impl := range suite.Impls {
			t.Run(alg+"/"+impl, func(t *testing.T) {
				h := build(t, impl, alg, env.Trust())
				for _, c := range cases {
					r := bearer(c.token)
					if c.token == "" {
						r.Header.Del("Authorization")
					}
					got := newStatusWriter().serve(h, r)
					if !slices.Contains(c.want, got) {
						t.Errorf("%s: status %d, want %v", c.name, got, c.want)
					}
				}
				// The route without a scope requirement takes any good token.
				r := bearer(mint(jwt.MapClaims{"scope": "reports:read"}))
				r.URL.Path = suite.WhoamiRoute
				if got := newStatusWriter().serve(h, r); got != http.StatusOK {
					t.Errorf("whoami: status %d, want 200", got)
				}
			})
		}
	}
}

// TestCredentials checks the Keyward configurations of
// BenchmarkCredentials: the client's pair is let in, with the cache on and
// off, and a wrong secret is not.
func TestCredentials(t *testing.T) {
	for _, ttl := range []int{0, -1} {
		for _, impl := range []string{suite.ImplKeywardNetHTTP, suite.ImplKeywardEcho} {
			h := build(t, impl, "", credentialsTrust(t, ttl))
			if got := newStatusWriter().serve(h, clientPair(suite.ClientID, suite.ClientSecret)); got != http.StatusOK {
				t.Errorf("%s (cache ttl %d): good pair: status %d", impl, ttl, got)
			}
			if got := newStatusWriter().serve(h, clientPair(suite.ClientID, "wrong")); got != http.StatusUnauthorized {
				t.Errorf("%s (cache ttl %d): wrong secret: status %d", impl, ttl, got)
			}
		}
	}
}

func kidOf(t *testing.T, token string) string {
	t.Helper()
	tok, _, err := jwt.NewParser().ParseUnverified(token, jwt.MapClaims{})
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := tok.Header["kid"].(string)
	return kid
}
