package exchange_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyward/keyward/exchange"
)

// seed describes one provider style from /work/shared/seeds.
type seed struct {
	name      string
	style     exchange.Style
	path      string
	expiresIn any        // as the provider sends it
	params    url.Values // what the provider requires besides the credentials
	reject    func(w http.ResponseWriter)
}

var seeds = []seed{
	{ // 001: Basic header + form body, 401 for bad credentials.
		name: "001-basic", style: exchange.StyleBasic, path: "/oauth/v2/token", expiresIn: 3600,
		reject: func(w http.ResponseWriter) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client"})
		},
	},
	{ // 002: JSON body (a Laravel Passport style endpoint).
		name: "002-json", style: exchange.StyleJSON, path: "/api/oauth/token", expiresIn: 3600,
		reject: func(w http.ResponseWriter) {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "Client authentication failed"})
		},
	},
	{ // 003: form body with response_type=token (an IdentityServer style endpoint).
		name: "003-form", style: exchange.StyleForm, path: "/connect/token", expiresIn: 2592000,
		params: url.Values{"response_type": {"token"}},
		reject: func(w http.ResponseWriter) {
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_client"})
		},
	},
}

// tokenServer is a token endpoint on 127.0.0.1 in one seed's style that
// checks every request strictly and grants a token to registered clients.
type tokenServer struct {
	*httptest.Server
	seed     seed
	clients  map[string]string // id → secret
	scope    string            // the scope requests must carry, "" for none
	requests atomic.Int64
}

func newTokenServer(t *testing.T, s seed, clients map[string]string, scope string) *tokenServer {
	t.Helper()
	ts := &tokenServer{seed: s, clients: clients, scope: scope}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.requests.Add(1)
		id, secret, problem := ts.read(r)
		if problem != "" {
			t.Errorf("%s endpoint: %s", s.name, problem)
			writeJSON(w, http.StatusBadRequest, map[string]any{"error": "invalid_request", "error_description": problem})
			return
		}
		if want, ok := ts.clients[id]; !ok || want != secret {
			s.reject(w)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":   "Bearer",
			"expires_in":   s.expiresIn,
			"access_token": accessTokenFor(id),
		})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) client() *exchange.Client {
	return &exchange.Client{
		TokenURL: ts.URL + ts.seed.path,
		Style:    ts.seed.style,
		Scope:    ts.scope,
		Params:   ts.seed.params,
	}
}

// accessTokenFor is the token the test endpoints grant to id, so that a
// caller can see whose credentials were exchanged.
func accessTokenFor(id string) string {
	return "at." + base64.RawURLEncoding.EncodeToString([]byte(id))
}

// read checks the request against the seed's style and returns the
// credentials it carries, or a description of what is wrong.
func (ts *tokenServer) read(r *http.Request) (id, secret, problem string) {
	if r.Method != http.MethodPost {
		return "", "", "method " + r.Method
	}
	if r.URL.Path != ts.seed.path {
		return "", "", "path " + r.URL.Path
	}
	if r.URL.RawQuery != "" {
		return "", "", "unexpected query " + r.URL.RawQuery
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/json") {
		return "", "", "Accept " + r.Header.Get("Accept")
	}
	raw, err := io.ReadAll(r.Body)
	if err != nil {
		return "", "", "reading body: " + err.Error()
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	auth := r.Header.Get("Authorization")

	// want: every body parameter the request must have besides credentials.
	want := url.Values{"grant_type": {"client_credentials"}}
	if ts.scope != "" {
		want.Set("scope", ts.scope)
	}
	for k, v := range ts.seed.params {
		want[k] = v
	}

	switch ts.seed.style {
	case exchange.StyleBasic:
		if mt != "application/x-www-form-urlencoded" {
			return "", "", "Content-Type " + mt
		}
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return "", "", "body is not a form"
		}
		if p := sameParams(form, want); p != "" {
			return "", "", p
		}
		// RFC 6749 §2.3.1: base64 of the form-encoded id ":" secret.
		encoded, ok := strings.CutPrefix(auth, "Basic ")
		if !ok {
			return "", "", "no Basic Authorization header"
		}
		pair, err := base64.StdEncoding.DecodeString(encoded)
		if err != nil {
			return "", "", "Basic credentials are not base64"
		}
		rawID, rawSecret, ok := strings.Cut(string(pair), ":")
		if !ok {
			return "", "", "Basic credentials have no colon"
		}
		if id, err = url.QueryUnescape(rawID); err != nil {
			return "", "", "client id is not form-encoded"
		}
		if secret, err = url.QueryUnescape(rawSecret); err != nil {
			return "", "", "secret is not form-encoded"
		}
		return id, secret, ""

	case exchange.StyleJSON:
		if mt != "application/json" {
			return "", "", "Content-Type " + mt
		}
		if auth != "" {
			return "", "", "Authorization header in JSON style"
		}
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		if err := dec.Decode(&m); err != nil || dec.More() {
			return "", "", "body is not one JSON object"
		}
		got := url.Values{}
		for k, v := range m {
			s, ok := v.(string)
			if !ok {
				return "", "", fmt.Sprintf("member %q is not a string", k)
			}
			got.Set(k, s)
		}
		id, secret = got.Get("client_id"), got.Get("client_secret")
		got.Del("client_id")
		got.Del("client_secret")
		if p := sameParams(got, want); p != "" {
			return "", "", p
		}
		return id, secret, ""

	case exchange.StyleForm:
		if mt != "application/x-www-form-urlencoded" {
			return "", "", "Content-Type " + mt
		}
		if auth != "" {
			return "", "", "Authorization header in form style"
		}
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return "", "", "body is not a form"
		}
		if len(form["client_id"]) != 1 || len(form["client_secret"]) != 1 {
			return "", "", "client_id and client_secret must appear once each"
		}
		id, secret = form.Get("client_id"), form.Get("client_secret")
		form.Del("client_id")
		form.Del("client_secret")
		if p := sameParams(form, want); p != "" {
			return "", "", p
		}
		return id, secret, ""
	}
	return "", "", "unknown style"
}

// sameParams describes how got differs from want, or returns "".
func sameParams(got, want url.Values) string {
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			return fmt.Sprintf("parameter %s = %q, want %q", k, got[k], v)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("unexpected parameter %s", k)
		}
	}
	return ""
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// asError returns err as an *exchange.Error or fails the test.
func asError(t *testing.T, err error) *exchange.Error {
	t.Helper()
	var e *exchange.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *exchange.Error", err, err)
	}
	return e
}

// assertNoSecret fails the test if err, in any rendering, or any of its
// fields holds one of the secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		return
	}
	renderings := []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)}
	var e *exchange.Error
	if errors.As(err, &e) {
		renderings = append(renderings, e.Code, e.Description, fmt.Sprintf("%#v", *e))
		if e.Err != nil {
			renderings = append(renderings, e.Err.Error())
		}
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, r := range renderings {
			if strings.Contains(r, s) {
				t.Errorf("error rendering %q contains the secret %q", r, s)
			}
		}
	}
}
