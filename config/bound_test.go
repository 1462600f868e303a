package config_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/config"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/keywardtest"
)

// TestParseBoundRules covers jwt.dpop, jwt.certificate_bound and
// credentials.trusted_proxies in mode jwt: every key's errors, at its line
// and key, and what is allowed.
func TestParseBoundRules(t *testing.T) {
	const (
		// Lines 1 to 5.
		issuers = "jwt:\n  issuers:\n    - issuer: https://auth.example.com\n      jwks_url: https://auth.example.com/jwks\n      audiences: [api]\n"
		// Line 6, then 7 on.
		dpop    = issuers + "  dpop:\n"
		cert    = issuers + "  certificate_bound:\n"
		proxies = "credentials:\n  trusted_proxies: [10.0.0.0/8]\n"
		reg     = "mode: credentials\ncredentials:\n  clients_file: clients.yaml\n"
	)
	tests := []parseCase{
		{"dpop allowed", dpop + "    mode: allowed\n", nil},
		{"dpop required, all keys", dpop + "    mode: required\n    max_age: 30s\n    nonce: true\n    nonce_secret_file: nonce.key\n", nil},
		{"dpop mode omitted", dpop + "    max_age: 2m\n", nil},
		{"dpop flow style", issuers + "  dpop: {mode: allowed, nonce: true}\n", nil},
		{"dpop mode capitalized", dpop + "    mode: Required\n", []string{`line 7: jwt.dpop.mode: "Required" is neither allowed nor required`}},
		{"dpop mode other", dpop + "    mode: optional\n", []string{`line 7: jwt.dpop.mode: "optional" is neither allowed nor required`}},
		{"dpop mode empty", dpop + "    mode: ''\n", []string{"line 7: jwt.dpop.mode: may not be empty; use allowed or required"}},
		{"dpop mode bool", dpop + "    mode: true\n", []string{"line 7: jwt.dpop.mode:"}},
		{"dpop max_age zero", dpop + "    max_age: 0s\n", []string{"line 7: jwt.dpop.max_age: must be positive, such as 60s"}},
		{"dpop max_age negative", dpop + "    max_age: -5s\n", []string{"line 7: jwt.dpop.max_age: must be positive"}},
		{"dpop max_age bare number", dpop + "    max_age: 60\n", []string{`line 7: jwt.dpop.max_age: "60" is not a duration`}},
		{"dpop max_age too long", dpop + "    mode: allowed\n    max_age: 11m\n", []string{"line 8: jwt.dpop.max_age: 11m0s is outside 0s to 10m0s"}},
		{"dpop nonce not bool", dpop + "    nonce: yes\n", []string{`line 7: jwt.dpop.nonce: "yes" is not true or false`}},
		{"dpop nonce secret without nonce", dpop + "    nonce_secret_file: nonce.key\n", []string{"line 7: jwt.dpop.nonce_secret_file: applies only with nonce: true"}},
		{"dpop nonce secret with nonce false", dpop + "    nonce: false\n    nonce_secret_file: nonce.key\n", []string{"line 8: jwt.dpop.nonce_secret_file: applies only with nonce: true"}},
		{"dpop nonce secret empty", dpop + "    nonce: true\n    nonce_secret_file: ''\n", []string{"line 8: jwt.dpop.nonce_secret_file: may not be empty"}},
		{"dpop replay bounds", dpop + "    max_replay_entries: 5000\n    max_replay_entries_per_key: 5000\n", nil},
		{"dpop per-key bound alone", dpop + "    max_replay_entries_per_key: 200000\n", nil},
		{"dpop replay entries zero", dpop + "    max_replay_entries: 0\n", []string{"line 7: jwt.dpop.max_replay_entries: 0 is outside 1 to 10000000; omit it for the default"}},
		{"dpop replay entries negative", dpop + "    max_replay_entries: -1\n", []string{"line 7: jwt.dpop.max_replay_entries: -1 is outside 1 to 10000000"}},
		{"dpop replay entries too many", dpop + "    max_replay_entries: 10000001\n", []string{"line 7: jwt.dpop.max_replay_entries: 10000001 is outside 1 to 10000000"}},
		{"dpop replay entries not a number", dpop + "    max_replay_entries: many\n", []string{"line 7: jwt.dpop.max_replay_entries:"}},
		{"dpop per-key zero", dpop + "    max_replay_entries_per_key: 0\n", []string{"line 7: jwt.dpop.max_replay_entries_per_key: 0 is outside 1 to 10000000"}},
		{"dpop per-key too many", dpop + "    max_replay_entries_per_key: 10000001\n", []string{"line 7: jwt.dpop.max_replay_entries_per_key: 10000001 is outside 1 to 10000000"}},
		{"dpop per-key above total", dpop + "    max_replay_entries: 100\n    max_replay_entries_per_key: 101\n", []string{"line 8: jwt.dpop.max_replay_entries_per_key: 101 is above max_replay_entries, 100"}},
		{"dpop unknown key", dpop + "    max_age: 1m\n    algs: [ES256]\n", []string{`line 8: unknown key "algs" in jwt.dpop`}},
		{"dpop null is absent, as every section", dpop, nil},
		{"dpop a list", issuers + "  dpop: [allowed]\n", []string{"line 6: jwt.dpop: must be a mapping"}},
		{"dpop without issuers", reg + "jwt:\n  dpop: {mode: allowed}\n", []string{"line 5: jwt.dpop: needs a jwt issuer"}},

		{"certificate_bound header", cert + "    header: X-Forwarded-Client-Cert\n" + proxies, nil},
		{"certificate_bound empty section", issuers + "  certificate_bound: {}\n", nil},
		{"certificate_bound null is absent", cert, nil},
		{"certificate_bound header not a name", cert + "    header: X Client Cert\n" + proxies, []string{`line 7: jwt.certificate_bound.header: "X Client Cert" is not a valid HTTP header name`}},
		{"certificate_bound header colon", cert + "    header: 'X-Cert:'\n" + proxies, []string{"line 7: jwt.certificate_bound.header:", "not a valid HTTP header name"}},
		{"certificate_bound header Authorization", cert + "    header: authorization\n" + proxies, []string{"line 7: jwt.certificate_bound.header: may not be Authorization"}},
		{"certificate_bound header DPoP", cert + "    header: DPoP\n" + proxies, []string{"line 7: jwt.certificate_bound.header: may not be DPoP"}},
		{"certificate_bound header empty", cert + "    header: ''\n", []string{"line 7: jwt.certificate_bound.header: may not be empty"}},
		{"certificate_bound header without proxies", cert + "    header: X-Forwarded-Client-Cert\n", []string{"line 7: jwt.certificate_bound.header: is read only from a trusted proxy, and credentials.trusted_proxies names none"}},
		{"certificate_bound unknown key", cert + "    hash: sha256\n", []string{`line 7: unknown key "hash" in jwt.certificate_bound`}},
		{"certificate_bound without issuers", reg + "jwt:\n  certificate_bound: {}\n", []string{"line 5: jwt.certificate_bound: needs a jwt issuer"}},

		{"mode jwt trusted_proxies alone", issuers + proxies, nil},
		{"mode jwt trusted_proxies bad", issuers + "credentials:\n  trusted_proxies: [10.0.0.0/33]\n", []string{`line 7: credentials.trusted_proxies[0]: "10.0.0.0/33" is not an IP address or a CIDR range`}},
		{"mode jwt empty credentials", issuers + "credentials: {}\n", []string{"line 6: credentials is set but mode is jwt (the default) and it holds neither trusted_proxies nor throttle"}},
		{"mode jwt redis with dpop", dpop + "    mode: allowed\ncredentials:\n  throttle:\n    redis: {url: \"redis://127.0.0.1:6379/0\"}\n", nil},
		{"mode jwt throttle budget with dpop", dpop + "    mode: allowed\ncredentials:\n  throttle:\n    window: 1m\n", []string{"line 10: credentials.throttle.window: counts only guessed opaque tokens in mode jwt (the default)"}},
	}
	runParseCases(t, tests)
}

// TestFileBoundInCode: a File built in code is checked by Config with the
// same words, without lines.
func TestFileBoundInCode(t *testing.T) {
	base := func() *config.File {
		return &config.File{JWT: config.JWT{Issuers: []config.Issuer{{
			Issuer: "https://auth.example.com", JWKSURL: "https://auth.example.com/jwks", Audiences: []string{"api"},
		}}}}
	}
	for _, tt := range []struct {
		edit func(*config.File)
		want string
	}{
		{func(f *config.File) { f.JWT.DPoP = &config.DPoP{Mode: "always"} }, `config: jwt.dpop.mode: "always" is neither allowed nor required`},
		{func(f *config.File) { f.JWT.DPoP = &config.DPoP{MaxAge: -1} }, "config: jwt.dpop.max_age: must be positive"},
		{func(f *config.File) { f.JWT.DPoP = &config.DPoP{NonceSecretFile: "k"} }, "config: jwt.dpop.nonce_secret_file: applies only with nonce: true"},
		{func(f *config.File) { f.JWT.DPoP = &config.DPoP{MaxReplayEntries: -5} }, "config: jwt.dpop.max_replay_entries: -5 is outside 1 to 10000000"},
		{func(f *config.File) {
			f.JWT.DPoP = &config.DPoP{MaxReplayEntries: 10, MaxReplayEntriesPerKey: 11}
		}, "config: jwt.dpop.max_replay_entries_per_key: 11 is above max_replay_entries, 10"},
		{func(f *config.File) {
			f.JWT.CertificateBound = &config.CertificateBound{Header: "X-Cert"}
		}, "config: jwt.certificate_bound.header: is read only from a trusted proxy"},
		{func(f *config.File) {
			f.JWT.CertificateBound = &config.CertificateBound{Header: "X Cert"}
			f.Credentials = &config.Credentials{TrustedProxies: []string{"10.0.0.1"}}
		}, `config: jwt.certificate_bound.header: "X Cert" is not a valid HTTP header name`},
	} {
		f := base()
		tt.edit(f)
		_, err := f.Config(context.Background(), config.Options{})
		wantErr(t, err, tt.want)
	}
}

// dpopFile is a configuration file of mode jwt whose issuer is iss, with
// the jwt.dpop section dpop (indented under it) and the credentials
// section credentials.
func dpopFile(iss *keywardtest.Issuer, dpop, credentials string) string {
	return "jwt:\n  issuers:\n" + issuerBlock(iss, "jwks_url: "+iss.JWKSURL) + "  dpop:\n" + dpop + credentials
}

// dpopRequest is a request to uri (its host and path; scheme and host
// as forwarded when proto and host are set) from peer, carrying token
// with the DPoP scheme and proof.
func dpopRequest(uri, token, proof, peer string, forwarded map[string]string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, uri, nil)
	r.RemoteAddr = peer + ":40000"
	r.Header.Set("Authorization", "DPoP "+token)
	if proof != "" {
		r.Header.Set("DPoP", proof)
	}
	for k, v := range forwarded {
		r.Header.Set(k, v)
	}
	return r
}

// boundToken is a token of iss bound to key (cnf.jkt).
func boundToken(t *testing.T, iss *keywardtest.Issuer, key *keywardtest.DPoPKey) string {
	return iss.Token(t, jwt.MapClaims{"sub": "alice", "client_id": "web", "scope": "bookings:read", "cnf": map[string]any{"jkt": key.Thumbprint()}})
}

// proofFor is key's proof of a GET of uri with token.
func proofFor(t *testing.T, key *keywardtest.DPoPKey, uri, token string, o *keywardtest.ProofOptions) string {
	t.Helper()
	p, err := key.Proof(http.MethodGet, uri, token, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFileDPoPEndToEnd: a whole file of mode jwt, without introspection,
// with jwt.dpop required and credentials.trusted_proxies, builds an
// Authenticator that accepts a DPoP-bound token of keywardtest with a
// proof of the URI the client used behind the trusted proxy (https and the
// forwarded host), and refuses a replay of that proof, the same forwarded
// headers from a peer that is not trusted (htu then differs), the token as
// Bearer, and an unbound token as DPoP.
func TestFileDPoPEndToEnd(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	path := writeConfig(t, t.TempDir(), dpopFile(iss, "    mode: required\n    max_age: 30s\n", "credentials:\n  trusted_proxies: [10.0.0.1]\n"))
	a := newFromConfig(t, loadConfig(t, path).Config)
	token := boundToken(t, iss, key)
	const uri = "https://api.example.com/v1/bookings"
	forwarded := map[string]string{"X-Forwarded-Proto": "https", "X-Forwarded-Host": "api.example.com"}
	internal := "http://keyward-api.internal/v1/bookings" // the request as the API sees it

	proof := proofFor(t, key, uri, token, nil)
	wantCaller(t, a, dpopRequest(internal, token, proof, "10.0.0.1", forwarded), dualauth.MethodJWT, "web", "bookings:read")
	wantRefused(t, a, dpopRequest(internal, token, proof, "10.0.0.1", forwarded), http.StatusUnauthorized, "invalid_dpop_proof")
	// The same headers from anyone else do not count: the URI is then
	// http://keyward-api.internal/..., not the proof's htu.
	wantRefused(t, a, dpopRequest(internal, token, proofFor(t, key, uri, token, nil), "192.0.2.7", forwarded), http.StatusUnauthorized, "invalid_dpop_proof")
	// The proof of the URI the API sees passes from that peer.
	wantCaller(t, a, dpopRequest(internal, token, proofFor(t, key, internal, token, nil), "192.0.2.7", nil), dualauth.MethodJWT, "web")
	// Required: the Bearer scheme is not read, so no credentials.
	bearer := bearerRequest(token)
	_, err = a.Authenticate(bearer)
	if e := asError(t, err); e.Status != http.StatusUnauthorized || e.Code != "" {
		t.Errorf("bound token as Bearer with DPoP required: %d %q, want 401 without an error code", e.Status, e.Code)
	}
	unbound := iss.Token(t, jwt.MapClaims{"sub": "bob", "scope": "bookings:read"})
	wantRefused(t, a, dpopRequest(internal, unbound, proofFor(t, key, internal, unbound, nil), "192.0.2.7", nil), http.StatusUnauthorized, dualauth.CodeInvalidToken)
}

// TestFileDPoPAllowedBearer: with mode allowed, an unbound token is
// accepted as Bearer, and a bound one refused as Bearer (RFC 9449 §7.2).
func TestFileDPoPAllowedBearer(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	a := newFromConfig(t, loadConfig(t, writeConfig(t, t.TempDir(), dpopFile(iss, "    mode: allowed\n", ""))).Config)
	wantCaller(t, a, bearerRequest(iss.Token(t, jwt.MapClaims{"client_id": "web"})), dualauth.MethodJWT, "web")
	wantRefused(t, a, bearerRequest(boundToken(t, iss, key)), http.StatusUnauthorized, dualauth.CodeInvalidToken)
}

// TestFileDPoPNonceSecret: with nonce: true, a proof without a nonce is
// refused use_dpop_nonce with a DPoP-Nonce header; with one
// nonce_secret_file the nonce one replica gave passes at another built
// from the same file, and without it (a random key per process) it does
// not. A secret file shorter than 32 bytes, or missing, fails Config at
// the key's line.
func TestFileDPoPNonceSecret(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nonce.key"), []byte(strings.Repeat("k", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "short.key"), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	token := boundToken(t, iss, key)
	const uri = "http://api.example.com/v1/bookings"
	nonceOf := func(a *dualauth.Authenticator) string {
		t.Helper()
		_, err := a.Authenticate(dpopRequest(uri, token, proofFor(t, key, uri, token, nil), "192.0.2.7", nil))
		e := asError(t, err)
		if e.Status != http.StatusUnauthorized || e.Code != "use_dpop_nonce" || e.Header.Get("DPoP-Nonce") == "" {
			t.Fatalf("a proof without a nonce: %d %q, DPoP-Nonce %q; want 401 use_dpop_nonce with a nonce", e.Status, e.Code, e.Header.Get("DPoP-Nonce"))
		}
		return e.Header.Get("DPoP-Nonce")
	}
	withNonce := func(nonce string) *http.Request {
		return dpopRequest(uri, token, proofFor(t, key, uri, token, &keywardtest.ProofOptions{Nonce: nonce}), "192.0.2.7", nil)
	}

	shared := writeConfig(t, dir, dpopFile(iss, "    nonce: true\n    nonce_secret_file: nonce.key\n", ""))
	one := newFromConfig(t, loadConfig(t, shared).Config)
	two := newFromConfig(t, loadConfig(t, shared).Config)
	wantCaller(t, two, withNonce(nonceOf(one)), dualauth.MethodJWT, "web")

	ownDir := t.TempDir()
	own := writeConfig(t, ownDir, dpopFile(iss, "    nonce: true\n", ""))
	three := newFromConfig(t, loadConfig(t, own).Config)
	four := newFromConfig(t, loadConfig(t, own).Config)
	wantCaller(t, three, withNonce(nonceOf(three)), dualauth.MethodJWT, "web")
	wantRefused(t, four, withNonce(nonceOf(three)), http.StatusUnauthorized, "use_dpop_nonce")

	for _, tt := range []struct{ file, want string }{
		{"short.key", "line 5: jwt.dpop.nonce_secret_file: has 5 bytes, fewer than 32"},
		{"missing.key", "line 5: jwt.dpop.nonce_secret_file:"},
	} {
		path := writeConfig(t, dir, "jwt:\n  dpop:\n    nonce: true\n    # the replicas' key\n    nonce_secret_file: "+tt.file+"\n  issuers:\n"+issuerBlock(iss, "jwks_url: "+iss.JWKSURL))
		_, err := config.Load(context.Background(), path, config.Options{})
		wantErr(t, err, tt.want)
		if err != nil && strings.Contains(err.Error(), "short\n") {
			t.Errorf("error %q quotes the secret file", err)
		}
	}
}

// TestFileDPoPReplayAcrossReplicas: two Authenticators built from one
// file with credentials.throttle.redis on a real redis-server share the
// replay records: a proof one accepted is a replay to the other. Without
// the redis key each keeps its own (the proof passes at both), which is
// what the shared store changes. While Redis is down a DPoP request is
// 503 with Retry-After (a proof that cannot be recorded could be
// replayed), and a Bearer token still passes.
func TestFileDPoPReplayAcrossReplicas(t *testing.T) {
	redis := testredis.Start(t, false)
	iss := keywardtest.NewIssuer(t)
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	token := boundToken(t, iss, key)
	const uri = "http://api.example.com/v1/bookings"
	request := func(proof string) *http.Request { return dpopRequest(uri, token, proof, "192.0.2.7", nil) }

	shared := writeConfig(t, t.TempDir(), dpopFile(iss, "    mode: allowed\n", "credentials:\n  throttle:\n    redis: {url: \""+redis.URL()+"\", key_prefix: \"kwtest:\", timeout: 2s}\n"))
	one := newFromConfig(t, loadConfig(t, shared).Config)
	two := newFromConfig(t, loadConfig(t, shared).Config)
	proof := proofFor(t, key, uri, token, nil)
	wantCaller(t, one, request(proof), dualauth.MethodJWT, "web")
	wantRefused(t, two, request(proof), http.StatusUnauthorized, "invalid_dpop_proof")
	wantRefused(t, one, request(proof), http.StatusUnauthorized, "invalid_dpop_proof")

	apart := writeConfig(t, t.TempDir(), dpopFile(iss, "    mode: allowed\n", ""))
	three := newFromConfig(t, loadConfig(t, apart).Config)
	four := newFromConfig(t, loadConfig(t, apart).Config)
	proof = proofFor(t, key, uri, token, nil)
	wantCaller(t, three, request(proof), dualauth.MethodJWT, "web")
	wantCaller(t, four, request(proof), dualauth.MethodJWT, "web")

	redis.Stop()
	_, err = two.Authenticate(request(proofFor(t, key, uri, token, nil)))
	if e := asError(t, err); e.Status != http.StatusServiceUnavailable || e.RetryAfter <= 0 {
		t.Errorf("Redis down: %d %q Retry-After %s; want 503 with Retry-After", e.Status, e.Code, e.RetryAfter)
	}
	// Bearer tokens do not need Redis.
	wantCaller(t, two, bearerRequest(iss.Token(t, jwt.MapClaims{"client_id": "web"})), dualauth.MethodJWT, "web")
}

// TestFileDPoPReplayBounds: jwt.dpop.max_replay_entries and
// max_replay_entries_per_key reach jwtauth.DPoP, and omitted they stay 0
// (jwtauth's defaults).
func TestFileDPoPReplayBounds(t *testing.T) {
	iss := keywardtest.NewIssuer(t)
	dir := t.TempDir()
	for _, tt := range []struct {
		dpop          string
		total, perKey int
	}{
		{"    mode: allowed\n", 0, 0},
		{"    max_replay_entries: 5000\n    max_replay_entries_per_key: 50\n", 5000, 50},
		{"    max_replay_entries_per_key: 200000\n", 0, 200000},
	} {
		p := loadConfig(t, writeConfig(t, dir, dpopFile(iss, tt.dpop, "")))
		d := p.JWT.DPoP
		if d == nil || d.MaxReplayEntries != tt.total || d.MaxReplayEntriesPerKey != tt.perKey {
			t.Errorf("%q: DPoP %+v; want MaxReplayEntries %d, MaxReplayEntriesPerKey %d", tt.dpop, d, tt.total, tt.perKey)
			continue
		}
		newFromConfig(t, p.Config)
	}
}

// TestFileSenderConstrainedSample builds
// testdata/config/sender-constrained.yaml: its nonce key file is read
// relative to the sample, and the jwtauth.Config it builds requires DPoP
// with nonces, that key and max_age, and reads the certificate header,
// behind the proxy the sample trusts in mode jwt.
func TestFileSenderConstrainedSample(t *testing.T) {
	p := loadConfig(t, filepath.Join(configDir, "sender-constrained.yaml"))
	d := p.JWT.DPoP
	if d == nil || !d.Required || !d.Nonces || d.MaxAge != 30*time.Second || string(d.NonceSecret) != "test-only-dpop-nonce-key-never-deploy-0123456789" || d.Replay != nil {
		t.Errorf("DPoP %+v; want required, nonces with the file's key, max age 30s, replays in memory", d)
	}
	if cb := p.JWT.CertificateBound; cb == nil || cb.Header != "X-Forwarded-Client-Cert" {
		t.Errorf("CertificateBound %+v", cb)
	}
	if len(p.TrustedProxies) != 1 || p.TrustedProxies[0].String() != "10.0.0.5/32" {
		t.Errorf("trusted proxies %v", p.TrustedProxies)
	}
	newFromConfig(t, p.Config)
}
