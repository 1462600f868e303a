// Package suite holds what the benchmarks and the load program share: one
// test issuer publishing a key per algorithm, the tokens it mints, and the
// four implementations under comparison, each built on the same trust
// (issuer, audience, JWKS URL) and serving the same routes.
package suite

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/keywardtest"
)

const (
	// Audience is the "aud" every implementation requires and every good
	// token carries.
	Audience = "bookings-api"
	// Scope is the one scope the bookings route requires.
	Scope = "bookings:read"
	// BookingsRoute needs Scope; WhoamiRoute any authenticated caller.
	BookingsRoute = "/v1/bookings"
	WhoamiRoute   = "/v1/whoami"
	// Leeway is the clock skew every implementation allows (Keyward's
	// default).
	Leeway = 30 * time.Second
	// TokenLifetime is long enough for a pool minted at start to outlive
	// a whole benchmark run.
	TokenLifetime = 3 * time.Hour
)

// Algs are the algorithms compared, in benchmark order.
var Algs = []string{"RS256", "PS256", "ES256", "EdDSA"}

// Env is a running test issuer (an httptest JWKS server on 127.0.0.1) with
// one signing key per algorithm, all published in one JWK Set, so that every
// implementation picks the key by "kid".
type Env struct {
	Issuer *keywardtest.Issuer
	keys   map[string]*keywardtest.Key
	reused map[string]string
}

// Start starts the issuer with a key for each of algs.
func Start(algs ...string) (*Env, error) {
	if len(algs) == 0 {
		algs = Algs
	}
	iss, err := keywardtest.StartIssuer(algs[0])
	if err != nil {
		return nil, err
	}
	iss.Audience = Audience
	iss.Lifetime = TokenLifetime
	e := &Env{Issuer: iss, keys: map[string]*keywardtest.Key{algs[0]: iss.Key()}, reused: map[string]string{}}
	for _, alg := range algs[1:] {
		k, err := keywardtest.NewKey(alg)
		if err != nil {
			iss.Close()
			return nil, err
		}
		iss.AddKey(k)
		e.keys[alg] = k
	}
	for _, alg := range algs {
		tok, err := e.Mint(alg, nil)
		if err != nil {
			iss.Close()
			return nil, err
		}
		e.reused[alg] = tok
	}
	return e, nil
}

// Close stops the issuer.
func (e *Env) Close() { e.Issuer.Close() }

// Trust is what the implementations are configured with.
func (e *Env) Trust() Trust {
	return Trust{Issuer: e.Issuer.URL, JWKSURL: e.Issuer.JWKSURL, Audience: Audience}
}

// Algs returns the algorithms e has keys for.
func (e *Env) Algs() []string {
	var out []string
	for _, alg := range Algs {
		if e.keys[alg] != nil {
			out = append(out, alg)
		}
	}
	return out
}

// Mint signs a token with alg's key: iss, sub, client_id, aud, iat, nbf,
// exp, a random jti and scope Scope, with overrides on top (a nil value
// removes a claim), and "typ": "at+jwt" (RFC 9068).
func (e *Env) Mint(alg string, overrides jwt.MapClaims) (string, error) {
	k := e.keys[alg]
	if k == nil {
		return "", fmt.Errorf("suite: no key for %q", alg)
	}
	claims := jwt.MapClaims{"scope": Scope}
	maps.Copy(claims, overrides)
	return k.Sign(e.Issuer.Claims(claims), map[string]any{"typ": "at+jwt"})
}

// Expired mints a token that expired an hour ago.
func (e *Env) Expired(alg string) (string, error) {
	now := time.Now()
	return e.Mint(alg, jwt.MapClaims{
		"iat": now.Add(-2 * time.Hour).Unix(),
		"nbf": now.Add(-2 * time.Hour).Unix(),
		"exp": now.Add(-time.Hour).Unix(),
	})
}

// Reused is the one token of alg that "reused" benchmarks send every time.
func (e *Env) Reused(alg string) string { return e.reused[alg] }

// MintPool mints n distinct tokens (each has its own jti) with alg's key,
// on every core.
func (e *Env) MintPool(alg string, n int) ([]string, error) {
	return MintParallel(n, func() (string, error) { return e.Mint(alg, nil) })
}

// MintParallel calls mint n times, on every core, and returns the tokens.
func MintParallel(n int, mint func() (string, error)) ([]string, error) {
	out := make([]string, n)
	workers := min(runtime.GOMAXPROCS(0), max(n, 1))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				tok, err := mint()
				if err != nil {
					errs[w] = err
					return
				}
				out[i] = tok
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
