package keywardtest

import (
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/jwks"
)

// Issuer is a token issuer for tests: an HTTP server on 127.0.0.1 that
// publishes its public keys at /.well-known/jwks.json and its metadata at
// /.well-known/openid-configuration and /.well-known/oauth-authorization-server,
// and mints tokens signed with its keys.
type Issuer struct {
	// URL is the issuer identifier, the server's base URL: the "iss" of its tokens.
	URL string
	// JWKSURL is where the issuer publishes its keys.
	JWKSURL string
	// Audience is the "aud" of minted tokens unless the claims say otherwise.
	Audience string
	// Lifetime is how long minted tokens live unless the claims say otherwise.
	Lifetime time.Duration
	// Now is the clock for iat, nbf and exp of minted tokens; nil means time.Now.
	Now func() time.Time

	server  *httptest.Server
	fetches atomic.Int64

	mu      sync.Mutex
	keys    []*Key // published, in order of addition
	current *Key
	remotes []*jwks.Remote // key sets built by Config, refreshed by Rotate
}

// NewIssuer starts an issuer with one key per algorithm in algs ("RS256"
// when none are given); the first is the signing key. The server is closed
// when the test ends.
func NewIssuer(tb testing.TB, algs ...string) *Issuer {
	tb.Helper()
	iss, err := StartIssuer(algs...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(iss.Close)
	return iss
}

// StartIssuer is NewIssuer outside a test: the caller closes the issuer
// with Close.
func StartIssuer(algs ...string) (*Issuer, error) {
	if len(algs) == 0 {
		algs = []string{"RS256"}
	}
	iss := &Issuer{Audience: "keyward-test", Lifetime: 15 * time.Minute}
	for _, alg := range algs {
		k, err := NewKey(alg)
		if err != nil {
			return nil, err
		}
		iss.keys = append(iss.keys, k)
	}
	iss.current = iss.keys[0]
	iss.server = httptest.NewServer(iss.handler())
	iss.URL = iss.server.URL
	iss.JWKSURL = iss.URL + "/.well-known/jwks.json"
	return iss, nil
}

// Close shuts the issuer's server down.
func (iss *Issuer) Close() { iss.server.Close() }

func (iss *Issuer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		iss.fetches.Add(1)
		body, err := iss.JWKS()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	metadata := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss.URL,
			"jwks_uri":                              iss.JWKSURL,
			"id_token_signing_alg_values_supported": iss.algorithms(),
		})
	}
	mux.HandleFunc("GET /.well-known/openid-configuration", metadata)
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", metadata)
	return mux
}

func (iss *Issuer) algorithms() []string {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	var algs []string
	for _, k := range iss.keys {
		if !slices.Contains(algs, k.Alg) {
			algs = append(algs, k.Alg)
		}
	}
	return algs
}

// JWKS returns the published key set as JSON.
func (iss *Issuer) JWKS() ([]byte, error) {
	iss.mu.Lock()
	keys := slices.Clone(iss.keys)
	iss.mu.Unlock()
	set := jwkset.JWKSMarshal{Keys: make([]jwkset.JWKMarshal, 0, len(keys))}
	for _, k := range keys {
		jwk, err := k.jwk()
		if err != nil {
			return nil, err
		}
		set.Keys = append(set.Keys, jwk.Marshal())
	}
	return json.Marshal(set)
}

// Fetches counts the requests for the JWKS so far.
func (iss *Issuer) Fetches() int64 { return iss.fetches.Load() }

// Key returns the current signing key.
func (iss *Issuer) Key() *Key {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	return iss.current
}

// AddKey publishes k without signing with it.
func (iss *Issuer) AddKey(k *Key) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keys = append(iss.keys, k)
}

// Rotate generates a key for alg, publishes it and makes it the signing key.
// The old keys stay published until RemoveKey. Key sets built by Config
// fetch the new key at once; a jwks.Remote you built yourself picks it up
// on the first token that names it (that token gets 401 while the fetch
// runs) or when you call its Refresh.
func (iss *Issuer) Rotate(tb testing.TB, alg string) *Key {
	tb.Helper()
	k, err := NewKey(alg)
	if err != nil {
		tb.Fatal(err)
	}
	iss.mu.Lock()
	iss.keys = append(iss.keys, k)
	iss.current = k
	remotes := slices.Clone(iss.remotes)
	iss.mu.Unlock()
	for _, r := range remotes {
		if err := r.Refresh(tb.Context()); err != nil {
			tb.Fatalf("keywardtest: refreshing a key set after Rotate: %v", err)
		}
	}
	return k
}

// RemoveKey stops publishing the key with the given id.
func (iss *Issuer) RemoveKey(kid string) {
	iss.mu.Lock()
	defer iss.mu.Unlock()
	iss.keys = slices.DeleteFunc(iss.keys, func(k *Key) bool { return k.ID == kid })
}

// Claims returns the claims of a token minted now: iss, sub and client_id
// ("test-client"), aud, iat, nbf, exp and jti, with overrides applied on top
// (a nil value removes a claim).
func (iss *Issuer) Claims(overrides jwt.MapClaims) jwt.MapClaims {
	t := iss.now()
	claims := jwt.MapClaims{
		"iss":       iss.URL,
		"sub":       "test-client",
		"client_id": "test-client",
		"aud":       iss.Audience,
		"iat":       t.Unix(),
		"nbf":       t.Unix(),
		"exp":       t.Add(iss.Lifetime).Unix(),
		"jti":       rand.Text(),
	}
	maps.Copy(claims, overrides)
	maps.DeleteFunc(claims, func(_ string, v any) bool { return v == nil })
	return claims
}

// Token mints a token signed with the current key, with Claims(overrides).
func (iss *Issuer) Token(tb testing.TB, overrides jwt.MapClaims) string {
	tb.Helper()
	return iss.Sign(tb, iss.Key(), nil, iss.Claims(overrides))
}

// ExpiredToken mints a token that expired an hour ago, with Claims(overrides).
func (iss *Issuer) ExpiredToken(tb testing.TB, overrides jwt.MapClaims) string {
	tb.Helper()
	t := iss.now().Add(-time.Hour)
	claims := jwt.MapClaims{"iat": t.Add(-iss.Lifetime).Unix(), "nbf": t.Add(-iss.Lifetime).Unix(), "exp": t.Unix()}
	maps.Copy(claims, overrides)
	return iss.Token(tb, claims)
}

// ForgedToken mints a token that names the current key's kid but is signed
// by a key the issuer never published: what an attacker would send.
func (iss *Issuer) ForgedToken(tb testing.TB, overrides jwt.MapClaims) string {
	tb.Helper()
	current := iss.Key()
	forger, err := NewKey(current.Alg)
	if err != nil {
		tb.Fatal(err)
	}
	forger.ID = current.ID
	return iss.Sign(tb, forger, nil, iss.Claims(overrides))
}

func (iss *Issuer) now() time.Time {
	if iss.Now != nil {
		return iss.Now()
	}
	return time.Now()
}

// Sign signs claims exactly as given with key and header (see Key.Sign): for
// tokens the defaults of Token would hide, or signed by a key the issuer does
// not publish.
func (iss *Issuer) Sign(tb testing.TB, key *Key, header map[string]any, claims jwt.Claims) string {
	tb.Helper()
	raw, err := key.Sign(claims, header)
	if err != nil {
		tb.Fatal(err)
	}
	return raw
}
