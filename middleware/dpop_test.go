package middleware_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwks"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/middleware"
)

// dpopAlgs is the algs of the DPoP challenge with the default algorithms.
const dpopAlgs = "RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"

// bareDPoP is the DPoP challenge of a request without credentials.
const bareDPoP = `DPoP realm="bookings-api", algs="` + dpopAlgs + `"`

// dpopChallenge is a DPoP refusal's challenge (RFC 9449 §7.1).
func dpopChallenge(code, description string) string {
	return bareDPoP + `, error="` + code + `", error_description="` + description + `"`
}

// dpopFixture is a real test issuer on 127.0.0.1, an Authenticator that
// trusts it with DPoP on, and the same routes on net/http and on Echo,
// each served by an httptest.Server. Its clock stands still at now (for
// the proofs' iat); the issuer's tokens are minted on the real clock.
type dpopFixture struct {
	iss        *keywardtest.Issuer
	keys       *countingSet
	auth       *dualauth.Authenticator
	now        time.Time
	key, other *keywardtest.DPoPKey
	servers    []dpopServer
}

type dpopServer struct{ name, url string }

func newDPoPFixture(t *testing.T, mode dualauth.Mode, d jwtauth.DPoP, proxies ...netip.Prefix) *dpopFixture {
	t.Helper()
	f := &dpopFixture{iss: keywardtest.NewIssuer(t), now: time.Now()}
	remote, err := jwks.NewRemote(t.Context(), f.iss.JWKSURL, jwks.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(remote.Close)
	f.keys = &countingSet{Set: remote}
	cfg := keywardtest.Config{
		Config: dualauth.Config{Mode: mode, Realm: realm, TrustedProxies: proxies},
		JWT: jwtauth.Config{
			Issuers: []jwtauth.Issuer{{Issuer: f.iss.URL, Audiences: []string{f.iss.Audience}, Keys: f.keys}},
			DPoP:    &d,
			Now:     func() time.Time { return f.now },
		},
	}
	if mode == dualauth.ModeDual {
		reg, err := clients.Open("../testdata/clients/clients.yaml", clients.Options{})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Clients = clientauth.Config{Verifier: reg}
	}
	if f.auth, err = cfg.Build(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.auth.Close() })
	for _, alg := range []string{"ES256", "EdDSA"} {
		k, err := keywardtest.NewDPoPKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		f.key, f.other = k, f.key
	}
	m := middleware.New(f.auth, middleware.Options{})
	for _, s := range []struct {
		name string
		h    http.Handler
	}{{"net/http", netHTTPApp(m)}, {"echo", echoApp(m)}} {
		srv := httptest.NewServer(s.h)
		t.Cleanup(srv.Close)
		f.servers = append(f.servers, dpopServer{s.name, srv.URL})
	}
	return f
}

// bound mints a token bound to k (cnf.jkt), with extra claims.
func (f *dpopFixture) bound(t *testing.T, k *keywardtest.DPoPKey, extra jwt.MapClaims) string {
	claims := jwt.MapClaims{"cnf": map[string]any{"jkt": k.Thumbprint()}}
	for name, v := range extra {
		claims[name] = v
	}
	return f.iss.Token(t, claims)
}

// proof is k's proof for method and uri with token, iat now unless o says.
func (f *dpopFixture) proof(t *testing.T, k *keywardtest.DPoPKey, method, uri, token string, o *keywardtest.ProofOptions) string {
	t.Helper()
	if o == nil {
		o = &keywardtest.ProofOptions{}
	}
	if o.IssuedAt.IsZero() {
		o.IssuedAt = f.now
	}
	p, err := k.Proof(method, uri, token, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// unsignedProof is a proof by k for a GET of uri with token whose header
// names alg, with the signature sign makes of the signing input: for the
// algorithms no key of keywardtest signs with (none, HS256).
func unsignedProof(t *testing.T, k *keywardtest.DPoPKey, alg, uri, token string, now time.Time, sign func(input string) []byte) string {
	t.Helper()
	header, _ := json.Marshal(map[string]any{"typ": "dpop+jwt", "alg": alg, "jwk": k.JWK()})
	sum := sha256.Sum256([]byte(token))
	claims, _ := json.Marshal(map[string]any{"jti": "j-" + alg, "htm": "GET", "htu": uri, "iat": now.Unix(),
		"ath": base64.RawURLEncoding.EncodeToString(sum[:])})
	b64 := base64.RawURLEncoding
	input := b64.EncodeToString(header) + "." + b64.EncodeToString(claims)
	return input + "." + b64.EncodeToString(sign(input))
}

// dpopResult is what a request got.
type dpopResult struct {
	status     int
	challenges []string
	code       string
	subject    string
	nonce      string
}

// send sends a GET of url with the headers, on the fixture's clock.
func send(t *testing.T, url string, header http.Header) dpopResult {
	t.Helper()
	r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, values := range header {
		r.Header[name] = values
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	out := dpopResult{status: res.StatusCode, challenges: res.Header.Values("WWW-Authenticate"), nonce: res.Header.Get("DPoP-Nonce")}
	if res.StatusCode == http.StatusOK {
		var w who
		if err := json.Unmarshal(body, &w); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		out.subject = w.Subject
	} else {
		out.code, _ = decodeError(t, body)
	}
	return out
}

// dpopCase is one request of a table: headers builds its headers for the
// URL it goes to; the answer must be want.
type dpopCase struct {
	name    string
	path    string // "" means /whoami
	headers func(t *testing.T, f *dpopFixture, uri string) http.Header
	want    dpopResult
}

func (tt dpopCase) run(t *testing.T, f *dpopFixture) {
	for _, s := range f.servers {
		t.Run(s.name+"/"+tt.name, func(t *testing.T) {
			uri := s.url + cmp(tt.path, "/whoami")
			got := send(t, uri, tt.headers(t, f, uri))
			if got.status != tt.want.status || got.code != tt.want.code || got.subject != tt.want.subject ||
				!slices.Equal(got.challenges, tt.want.challenges) || got.nonce != tt.want.nonce {
				t.Fatalf("got\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

// dpopHeader is the headers of a DPoP request: the token and the proofs.
func dpopHeader(token string, proofs ...string) http.Header {
	return http.Header{"Authorization": {"DPoP " + token}, "Dpop": proofs}
}

var (
	accepted = dpopResult{status: http.StatusOK, subject: "test-client"}
	// refusedProof is a 401 invalid_dpop_proof with description.
	refusedProof = func(description string) dpopResult {
		return dpopResult{status: http.StatusUnauthorized, code: "invalid_dpop_proof",
			challenges: []string{dpopChallenge("invalid_dpop_proof", description)}}
	}
)

// TestDPoP: a DPoP-bound token (cnf.jkt, minted by a real issuer and
// verified against its published keys) is accepted on net/http and on
// Echo, over real TCP, with one proof of its key for the request; every
// check of RFC 9449 §4.3 and §7.1 refuses a proof that fails it with 401
// invalid_dpop_proof and the exact DPoP challenge (realm, algs, error,
// error_description), a bound token sent as Bearer or an unbound one sent
// as DPoP is 401 invalid_token, and a route without credentials offers
// both schemes.
func TestDPoP(t *testing.T) {
	f := newDPoPFixture(t, dualauth.ModeJWT, jwtauth.DPoP{})
	maxAge, leeway := 60*time.Second, 30*time.Second
	tests := []dpopCase{
		{name: "a fresh proof of the token's key", want: accepted, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
		}},
		{name: "the scheme in any case", want: accepted, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			h := dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
			h.Set("Authorization", "dpop "+token)
			return h
		}},
		{name: "htu without the query and fragment", path: "/whoami?page=2", want: accepted, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri+"#top", token, nil))
		}},
		{name: "iat at the edge of max age", want: accepted, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, &keywardtest.ProofOptions{IssuedAt: f.now.Add(-maxAge - leeway + time.Second)}))
		}},
		{name: "replay", want: refusedProof("the DPoP proof was used before (its jti was seen)"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			h := dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
			if got := send(t, uri, h); got.status != http.StatusOK {
				t.Fatalf("first use: %+v", got)
			}
			return h
		}},
		{name: "htm", want: refusedProof("the DPoP proof's htm is not the request's method"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "POST", uri, token, nil))
		}},
		{name: "htu of another path", want: refusedProof("the DPoP proof's htu is not the request's URI"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", strings.Replace(uri, "/whoami", "/bookings", 1), token, nil))
		}},
		{name: "htu of the forwarded host from an untrusted peer", want: refusedProof("the DPoP proof's htu is not the request's URI"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			h := dpopHeader(token, f.proof(t, f.key, "GET", "https://api.example/whoami", token, nil))
			h.Set("X-Forwarded-Proto", "https")
			h.Set("X-Forwarded-Host", "api.example")
			return h
		}},
		{name: "forwarded headers of an untrusted peer are ignored", want: accepted, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			h := dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
			h.Set("X-Forwarded-Proto", "https")
			h.Set("X-Forwarded-Host", "api.example")
			return h
		}},
		{name: "ath of another token", want: refusedProof("the DPoP proof's ath is not the hash of the access token"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, f.bound(t, f.key, nil), nil))
		}},
		{name: "no ath", want: refusedProof("the DPoP proof has no ath, which a request with an access token needs"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, "", nil))
		}},
		{name: "iat too old", want: refusedProof("the DPoP proof is too old (iat)"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, &keywardtest.ProofOptions{IssuedAt: f.now.Add(-maxAge - leeway - time.Second)}))
		}},
		{name: "iat in the future", want: refusedProof("the DPoP proof's iat is in the future"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, &keywardtest.ProofOptions{IssuedAt: f.now.Add(leeway + time.Second)}))
		}},
		{name: "typ JWT", want: refusedProof("the DPoP proof's typ is not dpop+jwt"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, &keywardtest.ProofOptions{Header: map[string]any{"typ": "JWT"}}))
		}},
		{name: "alg none", want: refusedProof("the DPoP proof's alg is not one of " + dpopAlgs), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, unsignedProof(t, f.key, "none", uri, token, f.now, func(string) []byte { return nil }))
		}},
		{name: "alg HS256", want: refusedProof("the DPoP proof's alg is not one of " + dpopAlgs), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, unsignedProof(t, f.key, "HS256", uri, token, f.now, func(input string) []byte {
				mac := hmac.New(sha256.New, []byte(f.key.Thumbprint()))
				mac.Write([]byte(input))
				return mac.Sum(nil)
			}))
		}},
		{name: "private key in jwk", want: refusedProof("the DPoP proof's jwk holds private or symmetric key material"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			jwk := f.key.JWK()
			jwk["d"] = "MC4CAQAwBQYDK2VwBCIEIHBhc3N3b3JkcGFzc3dvcmRwYXNzd29yZA"
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, &keywardtest.ProofOptions{Header: map[string]any{"jwk": jwk}}))
		}},
		{name: "a proof of another key", want: refusedProof("the DPoP proof is signed with another key than the one the access token is bound to"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.other, "GET", uri, token, nil))
		}},
		{name: "two DPoP headers", want: refusedProof("a request must carry exactly one DPoP header"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil), f.proof(t, f.key, "GET", uri, token, nil))
		}},
		{name: "no DPoP header", want: refusedProof("a request must carry exactly one DPoP header"), headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			return dpopHeader(f.bound(t, f.key, nil))
		}},
		{name: "bound token as Bearer (§7.2)", want: dpopResult{status: http.StatusUnauthorized, code: "invalid_token", challenges: []string{
			challenge("invalid_token", "the access token is bound to a DPoP key (cnf.jkt): send it with the DPoP scheme and a DPoP proof"), bareDPoP,
		}}, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			h := dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
			h.Set("Authorization", "Bearer "+token)
			return h
		}},
		{name: "unbound token as DPoP", want: dpopResult{status: http.StatusUnauthorized, code: "invalid_token", challenges: []string{
			dpopChallenge("invalid_token", "the access token is not bound to a DPoP key (no cnf.jkt): it cannot be sent with the DPoP scheme"),
		}}, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.iss.Token(t, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
		}},
		{name: "unbound token as Bearer", want: accepted, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			return http.Header{"Authorization": {"Bearer " + f.iss.Token(t, nil)}}
		}},
		{name: "expired bound token as DPoP", want: dpopResult{status: http.StatusUnauthorized, code: "invalid_token", challenges: []string{
			dpopChallenge("invalid_token", "the access token expired"),
		}}, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.iss.ExpiredToken(t, jwt.MapClaims{"cnf": map[string]any{"jkt": f.key.Thumbprint()}})
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
		}},
		{name: "no credentials", want: dpopResult{status: http.StatusUnauthorized, code: "unauthorized", challenges: []string{bareChallenge, bareDPoP}},
			headers: func(*testing.T, *dpopFixture, string) http.Header { return http.Header{} }},
		{name: "DPoP caller without the scope", path: "/bookings", want: dpopResult{status: http.StatusForbidden, code: "insufficient_scope", challenges: []string{
			bareDPoP + `, error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="bookings:read"`,
		}}, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
		}},
		{name: "DPoP caller with the scope", path: "/bookings", want: accepted, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, jwt.MapClaims{"scope": "bookings:read"})
			return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
		}},
	}
	for _, tt := range tests {
		tt.run(t, f)
	}
}

// TestDPoPBehindTrustedProxy: behind a trusted proxy (the peer, 127.0.0.1,
// is in TrustedProxies), htu is the URI the client used, as the proxy
// forwards it (X-Forwarded-Proto and X-Forwarded-Host); the server's own
// URI no longer passes, nor does an ambiguous forwarded value.
func TestDPoPBehindTrustedProxy(t *testing.T) {
	f := newDPoPFixture(t, dualauth.ModeJWT, jwtauth.DPoP{}, netip.MustParsePrefix("127.0.0.0/8"))
	forwarded := func(htu string, proto ...string) func(t *testing.T, f *dpopFixture, uri string) http.Header {
		return func(t *testing.T, f *dpopFixture, uri string) http.Header {
			token := f.bound(t, f.key, nil)
			h := dpopHeader(token, f.proof(t, f.key, "GET", cmp(htu, uri), token, nil))
			h["X-Forwarded-Proto"] = proto
			h.Set("X-Forwarded-Host", "api.example")
			return h
		}
	}
	htuRefused := refusedProof("the DPoP proof's htu is not the request's URI")
	for _, tt := range []dpopCase{
		{name: "the URI the client used", headers: forwarded("https://api.example/whoami", "https"), want: accepted},
		{name: "the URI the client used, in another spelling", headers: forwarded("HTTPS://API.example:443/whoami", "https"), want: accepted},
		{name: "the server's own URI", headers: forwarded("", "https"), want: htuRefused},
		{name: "the forwarded host with the server's scheme", headers: forwarded("http://api.example/whoami", "https"), want: htuRefused},
		{name: "two forwarded schemes", headers: forwarded("https://api.example/whoami", "https", "http"),
			want: refusedProof("the request URI cannot be compared with the DPoP proof's htu")},
	} {
		tt.run(t, f)
	}
}

// TestDPoPRequired: with DPoP required, Bearer is not read (answered as a
// request without credentials: 401 with no error code and the DPoP
// challenge alone, RFC 6750 §3.1), a bound token with its proof passes, and
// an unbound one sent as DPoP is invalid_token. In dual mode, Basic stays
// offered and accepted beside DPoP.
func TestDPoPRequired(t *testing.T) {
	noCredentials := func(challenges ...string) dpopResult {
		return dpopResult{status: http.StatusUnauthorized, code: "unauthorized", challenges: challenges}
	}
	bearerToken := func(t *testing.T, f *dpopFixture, uri string) http.Header {
		return http.Header{"Authorization": {"Bearer " + f.iss.Token(t, nil)}}
	}
	boundBearer := func(t *testing.T, f *dpopFixture, uri string) http.Header {
		return http.Header{"Authorization": {"Bearer " + f.bound(t, f.key, nil)}}
	}
	dpopRequest := func(t *testing.T, f *dpopFixture, uri string) http.Header {
		token := f.bound(t, f.key, nil)
		return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
	}
	none := func(*testing.T, *dpopFixture, string) http.Header { return http.Header{} }
	basic := func(*testing.T, *dpopFixture, string) http.Header {
		return http.Header{"Authorization": {basicAuth("globex", "globex-secret")}}
	}
	t.Run("jwt", func(t *testing.T) {
		f := newDPoPFixture(t, dualauth.ModeJWT, jwtauth.DPoP{Required: true})
		for _, tt := range []dpopCase{
			{name: "Bearer", headers: bearerToken, want: noCredentials(bareDPoP)},
			{name: "bound token as Bearer", headers: boundBearer, want: noCredentials(bareDPoP)},
			{name: "none", headers: none, want: noCredentials(bareDPoP)},
			{name: "DPoP", headers: dpopRequest, want: accepted},
			{name: "unbound token as DPoP", want: dpopResult{status: http.StatusUnauthorized, code: "invalid_token", challenges: []string{
				dpopChallenge("invalid_token", "the access token is not bound to a DPoP key (no cnf.jkt): it cannot be sent with the DPoP scheme"),
			}}, headers: func(t *testing.T, f *dpopFixture, uri string) http.Header {
				token := f.iss.Token(t, nil)
				return dpopHeader(token, f.proof(t, f.key, "GET", uri, token, nil))
			}},
		} {
			tt.run(t, f)
		}
	})
	t.Run("dual", func(t *testing.T) {
		f := newDPoPFixture(t, dualauth.ModeDual, jwtauth.DPoP{Required: true})
		for _, tt := range []dpopCase{
			{name: "Bearer", headers: bearerToken, want: noCredentials(bareDPoP, basicChallenge)},
			{name: "none", headers: none, want: noCredentials(bareDPoP, basicChallenge)},
			{name: "DPoP", headers: dpopRequest, want: accepted},
			{name: "Basic", headers: basic, want: dpopResult{status: http.StatusOK, subject: "globex"}},
		} {
			tt.run(t, f)
		}
	})
	t.Run("dual, DPoP allowed", func(t *testing.T) {
		f := newDPoPFixture(t, dualauth.ModeDual, jwtauth.DPoP{})
		for _, tt := range []dpopCase{
			{name: "Bearer", headers: bearerToken, want: accepted},
			{name: "none", headers: none, want: noCredentials(bareChallenge, bareDPoP, basicChallenge)},
			{name: "DPoP", headers: dpopRequest, want: accepted},
			{name: "Basic", headers: basic, want: dpopResult{status: http.StatusOK, subject: "globex"}},
		} {
			tt.run(t, f)
		}
	})
}

// TestDPoPReusedToken: a bound token presented again, each time with a
// fresh proof (keywardtest.DPoPTransport, as a client sends them), is
// answered from the verified-token cache: its signature is checked once
// (the key set is asked once), the later requests are cache hits, and
// only their proofs are new work — each still checked, as a replayed one
// shows.
func TestDPoPReusedToken(t *testing.T) {
	f := newDPoPFixture(t, dualauth.ModeJWT, jwtauth.DPoP{})
	for _, s := range f.servers {
		t.Run(s.name, func(t *testing.T) {
			token := f.bound(t, f.key, nil)
			client := &http.Client{Transport: &keywardtest.DPoPTransport{Key: f.key, Now: func() time.Time { return f.now }}}
			verifications, hits := f.keys.verifications.Load(), f.auth.TokenCacheStatus().Hits
			for i := range 3 {
				r, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.url+"/whoami", nil)
				if err != nil {
					t.Fatal(err)
				}
				r.Header.Set("Authorization", "DPoP "+token)
				res, err := client.Do(r)
				if err != nil {
					t.Fatal(err)
				}
				_ = res.Body.Close()
				if res.StatusCode != http.StatusOK {
					t.Fatalf("request %d: %d %q", i, res.StatusCode, res.Header.Values("WWW-Authenticate"))
				}
			}
			if got := f.keys.verifications.Load() - verifications; got != 1 {
				t.Fatalf("the token's signature was checked %d times, want 1", got)
			}
			if got := f.auth.TokenCacheStatus().Hits - hits; got != 2 {
				t.Fatalf("%d cache hits, want 2", got)
			}
			// The cache answers for the token, never for the proof.
			h := dpopHeader(token, f.proof(t, f.key, "GET", s.url+"/whoami", token, &keywardtest.ProofOptions{JTI: "once-" + s.name}))
			if got := send(t, s.url+"/whoami", h); got.status != http.StatusOK {
				t.Fatalf("fresh proof: %+v", got)
			}
			if got := send(t, s.url+"/whoami", h); got.code != "invalid_dpop_proof" {
				t.Fatalf("replayed proof with a cached token: %+v", got)
			}
		})
	}
}
