package authserver_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyward/keyward/authserver"
)

func TestErrors(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	const form, js = "application/x-www-form-urlencoded", "application/json"
	cc := formOf("grant_type", "client_credentials")
	globex := []string{"globex", "globex-secret"}
	wrong := []string{"globex", "not-the-secret"}
	realm := `Basic realm="` + ts.URL + `"`
	tests := []struct {
		name      string
		req       request
		status    int
		code      string
		challenge bool // WWW-Authenticate: Basic realm
	}{
		// Request shape.
		{"no Content-Type", request{path: authserver.PathToken, basic: globex, raw: "grant_type=client_credentials"}, 400, "invalid_request", false},
		{"text/plain", request{path: authserver.PathToken, basic: globex, raw: "grant_type=client_credentials", contentType: "text/plain"}, 400, "invalid_request", false},
		{"bad media type", request{path: authserver.PathToken, basic: globex, raw: "grant_type=client_credentials", contentType: "application/x-www-form-urlencoded; ="}, 400, "invalid_request", false},
		{"JSON at v2", request{path: authserver.PathTokenV2, basic: globex, json: map[string]string{"grant_type": "client_credentials"}}, 400, "invalid_request", false},
		{"form at partner", request{path: authserver.PathPartnerToken, form: formOf("grant_type", "client_credentials", "client_id", "globex", "client_secret", "globex-secret")}, 400, "invalid_request", false},
		{"JSON at connect", request{path: authserver.PathConnectToken, json: map[string]string{"grant_type": "client_credentials", "response_type": "token", "client_id": "globex", "client_secret": "globex-secret"}}, 400, "invalid_request", false},
		{"two Content-Types", request{path: authserver.PathToken, basic: globex, form: cc, header: http.Header{"Content-Type": {form}}}, 400, "invalid_request", false},
		{"bad form encoding", request{path: authserver.PathToken, basic: globex, raw: "grant_type=client%zzcredentials", contentType: form}, 400, "invalid_request", false},
		{"form semicolon", request{path: authserver.PathToken, basic: globex, raw: "grant_type=client_credentials;scope=x", contentType: form}, 400, "invalid_request", false},
		{"repeated form parameter", request{path: authserver.PathToken, basic: globex, raw: "grant_type=client_credentials&grant_type=client_credentials", contentType: form}, 400, "invalid_request", false},
		{"repeated empty parameter", request{path: authserver.PathToken, basic: globex, raw: "grant_type=client_credentials&scope=&scope=bookings:read", contentType: form}, 400, "invalid_request", false},
		{"JSON not an object", request{path: authserver.PathToken, json: `["grant_type"]`}, 400, "invalid_request", false},
		{"JSON malformed", request{path: authserver.PathToken, json: `{"grant_type":"client_credentials",`}, 400, "invalid_request", false},
		{"JSON trailing data", request{path: authserver.PathToken, json: `{"grant_type":"client_credentials","client_id":"globex","client_secret":"globex-secret"} {}`}, 400, "invalid_request", false},
		{"JSON repeated member", request{path: authserver.PathToken, json: `{"grant_type":"client_credentials","client_id":"acme","client_id":"globex","client_secret":"globex-secret"}`}, 400, "invalid_request", false},
		{"JSON number", request{path: authserver.PathToken, json: `{"grant_type":1,"client_id":"globex","client_secret":"globex-secret"}`}, 400, "invalid_request", false},
		{"JSON array value", request{path: authserver.PathToken, json: `{"grant_type":"client_credentials","client_id":["globex"],"client_secret":"globex-secret"}`}, 400, "invalid_request", false},
		{"empty body", request{path: authserver.PathToken, basic: globex, contentType: form}, 400, "invalid_request", false},
		{"parameters in the URL", request{path: authserver.PathToken, basic: globex, form: cc, query: "client_secret=globex-secret"}, 400, "invalid_request", false},

		// Grant.
		{"no grant_type", request{path: authserver.PathToken, basic: globex, form: formOf("scope", "bookings:read")}, 400, "invalid_request", false},
		{"password grant", request{path: authserver.PathToken, basic: globex, form: formOf("grant_type", "password")}, 400, "unsupported_grant_type", false},
		{"refresh at v2", request{path: authserver.PathTokenV2, basic: globex, form: formOf("grant_type", "refresh_token", "refresh_token", "x")}, 400, "unsupported_grant_type", false},
		{"refresh at partner", request{path: authserver.PathPartnerToken, json: map[string]string{"grant_type": "refresh_token", "refresh_token": "x", "client_id": "globex", "client_secret": "globex-secret"}}, 400, "unsupported_grant_type", false},
		{"refresh at connect", request{path: authserver.PathConnectToken, form: formOf("grant_type", "refresh_token", "refresh_token", "x", "response_type", "token", "client_id", "globex", "client_secret", "globex-secret")}, 400, "unsupported_grant_type", false},
		{"refresh without refresh_token", request{path: authserver.PathToken, basic: globex, form: formOf("grant_type", "refresh_token")}, 400, "invalid_request", false},
		{"unknown refresh token", request{path: authserver.PathToken, basic: globex, form: formOf("grant_type", "refresh_token", "refresh_token", "bm90LWEtdG9rZW4")}, 400, "invalid_grant", false},
		{"connect without response_type", request{path: authserver.PathConnectToken, form: formOf("grant_type", "client_credentials", "client_id", "globex", "client_secret", "globex-secret")}, 400, "invalid_request", false},
		{"connect response_type code", request{path: authserver.PathConnectToken, form: formOf("grant_type", "client_credentials", "response_type", "code", "client_id", "globex", "client_secret", "globex-secret")}, 400, "invalid_request", false},
		{"scope not allowed", request{path: authserver.PathToken, basic: globex, form: formOf("grant_type", "client_credentials", "scope", "reports:read")}, 400, "invalid_scope", false},

		// Where the credentials are.
		{"no credentials", request{path: authserver.PathToken, form: cc}, 401, "invalid_client", true},
		{"no credentials at v2", request{path: authserver.PathTokenV2, form: cc}, 401, "invalid_client", true},
		{"body credentials at v2", request{path: authserver.PathTokenV2, form: formOf("grant_type", "client_credentials", "client_id", "globex", "client_secret", "globex-secret")}, 401, "invalid_client", true},
		{"Basic and body secret", request{path: authserver.PathToken, basic: globex, form: formOf("grant_type", "client_credentials", "client_secret", "globex-secret")}, 400, "invalid_request", false},
		{"Basic and body credentials", request{path: authserver.PathToken, basic: globex, form: formOf("grant_type", "client_credentials", "client_id", "globex", "client_secret", "globex-secret")}, 400, "invalid_request", false},
		{"Basic and JSON credentials", request{path: authserver.PathPartnerToken, basic: globex, json: map[string]string{"grant_type": "client_credentials", "client_id": "globex", "client_secret": "globex-secret"}}, 400, "invalid_request", false},
		{"Basic and another client_id", request{path: authserver.PathToken, basic: globex, form: formOf("grant_type", "client_credentials", "client_id", "acme")}, 400, "invalid_request", false},
		{"client_id without secret", request{path: authserver.PathToken, form: formOf("grant_type", "client_credentials", "client_id", "globex")}, 400, "invalid_request", false},
		{"secret without client_id", request{path: authserver.PathToken, form: formOf("grant_type", "client_credentials", "client_secret", "globex-secret")}, 400, "invalid_request", false},
		{"JSON empty secret", request{path: authserver.PathPartnerToken, json: map[string]string{"grant_type": "client_credentials", "client_id": "globex", "client_secret": ""}}, 400, "invalid_request", false},
		{"two Authorization headers", request{path: authserver.PathToken, basic: globex, form: cc, header: http.Header{"Authorization": {basicAuth("globex", "globex-secret")}}}, 400, "invalid_request", false},
		{"Basic not base64", request{path: authserver.PathToken, form: cc, header: http.Header{"Authorization": {"Basic !!!"}}}, 400, "invalid_request", false},
		{"Basic without colon", request{path: authserver.PathToken, form: cc, header: http.Header{"Authorization": {"Basic Z2xvYmV4"}}}, 400, "invalid_request", false},
		{"Basic empty secret", request{path: authserver.PathToken, form: cc, header: http.Header{"Authorization": {"Basic Z2xvYmV4Og=="}}}, 400, "invalid_request", false},
		{"Bearer", request{path: authserver.PathToken, form: cc, header: http.Header{"Authorization": {"Bearer abc"}}}, 401, "invalid_client", true},

		// The credentials themselves.
		{"wrong secret, Basic", request{path: authserver.PathToken, basic: wrong, form: cc}, 401, "invalid_client", true},
		{"wrong secret, form", request{path: authserver.PathConnectToken, form: formOf("grant_type", "client_credentials", "response_type", "token", "client_id", "globex", "client_secret", "not-the-secret")}, 401, "invalid_client", true},
		{"wrong secret, JSON", request{path: authserver.PathPartnerToken, json: map[string]string{"grant_type": "client_credentials", "client_id": "globex", "client_secret": "not-the-secret"}}, 401, "invalid_client", true},
		{"unknown client", request{path: authserver.PathTokenV2, basic: []string{"nobody", "not-the-secret"}, form: cc}, 401, "invalid_client", true},
		{"disabled client", request{path: authserver.PathToken, basic: []string{"initech", "initech-secret"}, form: cc}, 401, "invalid_client", true},
		{"id case differs", request{path: authserver.PathToken, basic: []string{"GLOBEX", "globex-secret"}, form: cc}, 401, "invalid_client", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ts.do(t, tc.req)
			checkError(t, resp, tc.status, tc.code)
			if got := resp.header.Get("WWW-Authenticate"); (got == realm) != tc.challenge || (!tc.challenge && got != "") {
				t.Errorf("WWW-Authenticate = %q, want challenge %v", got, tc.challenge)
			}
		})
	}
}

func TestBasicWithSameClientID(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
		form: formOf("grant_type", "client_credentials", "client_id", "globex")})
}

func TestUnknownParametersIgnored(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	ts.mustToken(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
		form: formOf("grant_type", "client_credentials", "audience", "x", "audience", "y", "response_type", "token")})
	ts.mustToken(t, request{path: authserver.PathPartnerToken,
		json: `{"grant_type":"client_credentials","client_id":"globex","client_secret":"globex-secret","extra":{"a":[1,2]},"extra":null}`})
	ts.mustToken(t, request{path: authserver.PathPartnerToken,
		json: `{"grant_type":"client_credentials","client_id":"globex","client_secret":"globex-secret","scope":null}`})
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	pad := strings.Repeat("x", authserver.MaxBodyBytes)
	resp := ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
		raw: "grant_type=client_credentials&pad=" + pad, contentType: "application/x-www-form-urlencoded"})
	checkError(t, resp, http.StatusRequestEntityTooLarge, "invalid_request")

	// Just under the limit is fine.
	under := "grant_type=client_credentials&pad="
	resp = ts.do(t, request{path: authserver.PathToken, basic: []string{"globex", "globex-secret"},
		raw: under + pad[:authserver.MaxBodyBytes-len(under)], contentType: "application/x-www-form-urlencoded"})
	if resp.status != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.status, resp.raw)
	}
}

func TestMethodsAndPaths(t *testing.T) {
	t.Parallel()
	ts := start(t, nil)
	tests := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, authserver.PathToken, 405, "POST"},
		{http.MethodPut, authserver.PathTokenV2, 405, "POST"},
		{http.MethodGet, authserver.PathPartnerToken, 405, "POST"},
		{http.MethodDelete, authserver.PathConnectToken, 405, "POST"},
		{http.MethodPost, authserver.PathJWKS, 405, "GET, HEAD"},
		{http.MethodPost, authserver.PathOpenIDConfiguration, 405, "GET, HEAD"},
		{http.MethodPut, authserver.PathOAuthMetadata, 405, "GET, HEAD"},
		{http.MethodHead, authserver.PathJWKS, 200, ""},
		{http.MethodGet, "/oauth/authorize", 404, ""},
		{http.MethodGet, "/", 404, ""},
		{http.MethodPost, "/oauth/token/", 404, ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := ts.do(t, request{method: tc.method, path: tc.path})
			if resp.status != tc.status || resp.header.Get("Allow") != tc.allow {
				t.Fatalf("status %d, Allow %q; want %d, %q", resp.status, resp.header.Get("Allow"), tc.status, tc.allow)
			}
			if tc.status == 405 && resp.str("error") != "invalid_request" {
				t.Errorf("body %s", resp.raw)
			}
		})
	}
}
