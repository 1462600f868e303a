package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyward/keyward/internal/testredis"
	"github.com/keyward/keyward/keywardtest"
)

// dpopServeConfig is a keyward serve configuration of mode jwt trusting
// iss, with the jwt.dpop section dpop (indented under it), the extra
// top-level text extra and the test routes.
func dpopServeConfig(iss *keywardtest.Issuer, dpop, extra string) string {
	return fmt.Sprintf("realm: bookings-api\njwt:\n  issuers:\n    - issuer: %s\n      jwks_url: %s\n      audiences: [%s]\n  dpop:\n%s%s%s",
		iss.URL, iss.JWKSURL, iss.Audience, dpop, extra, testRoutes)
}

// dpopAnswer is what a DPoP request got: its status, error code,
// challenges, DPoP-Nonce and, when 200, the subject the API was told.
type dpopAnswer struct {
	status     int
	code       string
	challenges string
	nonce      string
	subject    string
}

// sendDPoP sends GET url with the token in scheme and, if proof is not
// empty, a DPoP header, with the extra header pairs, and reads the answer
// (the upstream's echo, or keyward's own 200, or a refusal).
func sendDPoP(t *testing.T, url, scheme, token, proof string, extra ...string) dpopAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", scheme+" "+token)
	if proof != "" {
		req.Header.Set("DPoP", proof)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	res, err := clientFrom("127.0.0.1").Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	out := dpopAnswer{status: res.StatusCode, challenges: strings.Join(res.Header.Values("WWW-Authenticate"), ", "),
		nonce: res.Header.Get("DPoP-Nonce"), subject: res.Header.Get("X-Auth-Subject")}
	if res.StatusCode == http.StatusOK {
		var echo echoed
		if json.Unmarshal(data, &echo) == nil && echo.Header != nil {
			out.subject = http.Header(echo.Header).Get("X-Auth-Subject") // what the API got through nginx
		}
		return out
	}
	var body struct{ Error string }
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("refusal body %q: %v", data, err)
	}
	out.code = body.Error
	return out
}

// TestDPoPThroughNginx runs nginx (testdata/forwardauth/nginx.conf) in
// front of `keyward serve` with jwt.dpop: the proof names the URI the
// client used at nginx (its scheme, host with port, and path), which
// keyward learns from nginx's X-Original-URI, X-Forwarded-Proto and
// X-Forwarded-Host, and the DPoP header reaches keyward through
// auth_request. A good proof is 200 (the API gets the caller), its replay
// 401 invalid_dpop_proof with a DPoP challenge, a proof of another path
// (wrong htu) 401, the bound token as Bearer 401 invalid_token; with
// nonce: true the client gets 401 use_dpop_nonce with the DPoP-Nonce
// header nginx passes on (auth_request_set), and the proof with that
// nonce is 200.
func TestDPoPThroughNginx(t *testing.T) {
	t.Parallel()
	nginxBinary(t)
	iss := keywardtest.NewIssuer(t)
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	api := strings.TrimPrefix(echoAPI(t).URL, "http://")
	proxy := "http://" + startNginx(t, startServe(t, dpopServeConfig(iss, "    mode: allowed\n", "")), api)
	proxyNonce := "http://" + startNginx(t, startServe(t, dpopServeConfig(iss, "    nonce: true\n", "")), api)
	token := iss.Token(t, jwt.MapClaims{"sub": "alice", "scope": "bookings:read", "cnf": map[string]any{"jkt": key.Thumbprint()}})
	proof := func(uri string, o *keywardtest.ProofOptions) string {
		p, err := key.Proof(http.MethodGet, uri, token, o)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	uri := proxy + "/v1/bookings"
	good := proof(uri, nil)
	tests := []struct {
		name          string
		scheme, proof string
		status        int
		code          string
	}{
		{"good proof", "DPoP", good, http.StatusOK, ""},
		{"replay", "DPoP", good, http.StatusUnauthorized, "invalid_dpop_proof"},
		{"wrong htu", "DPoP", proof(proxy+"/v1/search", nil), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"keyward's own URI as htu", "DPoP", proof("http://127.0.0.1/auth", nil), http.StatusUnauthorized, "invalid_dpop_proof"},
		{"bound as Bearer", "Bearer", proof(uri, nil), http.StatusUnauthorized, "invalid_token"},
		{"no proof", "DPoP", "", http.StatusUnauthorized, "invalid_dpop_proof"},
	}
	for _, tt := range tests { // in order: the replay follows the good proof
		got := sendDPoP(t, uri+"?page=2", tt.scheme, token, tt.proof)
		switch {
		case got.status != tt.status || got.code != tt.code:
			t.Errorf("%s: %d %q, want %d %q", tt.name, got.status, got.code, tt.status, tt.code)
		case tt.status == http.StatusOK && got.subject != "alice":
			t.Errorf("%s: the API got subject %q, want alice", tt.name, got.subject)
		case tt.status == http.StatusUnauthorized && !strings.Contains(got.challenges, `DPoP realm="bookings-api"`):
			t.Errorf("%s: WWW-Authenticate %q, want a DPoP challenge", tt.name, got.challenges)
		}
	}

	nonceURI := proxyNonce + "/v1/bookings"
	got := sendDPoP(t, nonceURI, "DPoP", token, proof(nonceURI, nil))
	if got.status != http.StatusUnauthorized || got.code != "use_dpop_nonce" || got.nonce == "" || !strings.Contains(got.challenges, `error="use_dpop_nonce"`) {
		t.Fatalf("without a nonce through nginx: %d %q, DPoP-Nonce %q, WWW-Authenticate %q; want 401 use_dpop_nonce with a nonce", got.status, got.code, got.nonce, got.challenges)
	}
	if again := sendDPoP(t, nonceURI, "DPoP", token, proof(nonceURI, &keywardtest.ProofOptions{Nonce: got.nonce})); again.status != http.StatusOK || again.subject != "alice" {
		t.Errorf("with the nonce nginx passed on: %d %q, subject %q; want 200 alice", again.status, again.code, again.subject)
	}
}

// TestDPoPServeReplicas: two `keyward serve` processes (in process) built
// from one file with credentials.throttle.redis on a real redis-server,
// asked directly in the nginx convention for https://api.example.com: the
// proof of that URI passes at one and is a replay at the other; a proof
// of keyward's own URI is refused (the htu is the original request's).
func TestDPoPServeReplicas(t *testing.T) {
	t.Parallel()
	redis := testredis.Start(t, false)
	iss := keywardtest.NewIssuer(t)
	key, err := keywardtest.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	conf := dpopServeConfig(iss, "    mode: required\n", "credentials:\n  throttle:\n    redis: {url: \""+redis.URL()+"\"}\n")
	one, two := "http://"+startServe(t, conf), "http://"+startServe(t, conf)
	token := iss.Token(t, jwt.MapClaims{"sub": "alice", "scope": "bookings:read", "cnf": map[string]any{"jkt": key.Thumbprint()}})
	const client = "https://api.example.com/v1/bookings"
	described := []string{"X-Original-Method", "GET", "X-Original-URI", "/v1/bookings", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "api.example.com"}
	proof, err := key.Proof(http.MethodGet, client, token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := sendDPoP(t, one+"/auth", "DPoP", token, proof, described...); got.status != http.StatusOK || got.subject != "alice" {
		t.Fatalf("first replica: %d %q subject %q, want 200 alice", got.status, got.code, got.subject)
	}
	if got := sendDPoP(t, two+"/auth", "DPoP", token, proof, described...); got.status != http.StatusUnauthorized || got.code != "invalid_dpop_proof" {
		t.Errorf("the proof replayed to the second replica: %d %q, want 401 invalid_dpop_proof", got.status, got.code)
	}
	own, err := key.Proof(http.MethodGet, two+"/auth", token, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := sendDPoP(t, two+"/auth", "DPoP", token, own, described...); got.status != http.StatusUnauthorized || got.code != "invalid_dpop_proof" {
		t.Errorf("a proof of keyward's own URI: %d %q, want 401 invalid_dpop_proof", got.status, got.code)
	}
}
