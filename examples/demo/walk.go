package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/authserver"
)

// The test-only clients of testdata/authserver/clients.yaml the demo uses.
const (
	globexID, globexSecret = "globex", "globex-secret"         // bookings:read, bookings:create
	acmeID, acmeSecret     = "acme", "acme-secret"             // bookings:read, reports:read
	opaqueID, opaqueSecret = "opaque-app", "opaque-app-secret" // bookings:read, bookings:create; opaque tokens
	// The API's own client at the authorization server, which may
	// introspect (no scopes).
	resourceServerID, resourceServerSecret = "keyward-rs", "keyward-rs-secret"
)

// madeUpToken looks like the authorization server's opaque tokens, but it
// never issued it.
const madeUpToken = authserver.OpaqueTokenPrefix + "made-up-by-the-demo-never-issued-0123456789a"

// deleteRefused is the challenge to a token without bookings:delete at
// DELETE /v1/bookings/{id}.
const deleteRefused = `Bearer realm="bookings-api", error="insufficient_scope", error_description="the access token lacks a scope this request requires", scope="bookings:delete"`

// dpopOffered is the DPoP challenge beside Bearer's (RFC 9449 §7.1): the
// API takes DPoP-bound tokens, with proofs signed by these algorithms.
const dpopOffered = `DPoP realm="bookings-api", algs="ES256 EdDSA"`

// walker sends the walk-through's requests and prints them.
type walker struct {
	ctx           context.Context
	out           io.Writer
	client        *http.Client
	auth, api     string
	steps, failed int
}

// walk runs every step against the servers and returns how many answered
// otherwise than expected.
func walk(ctx context.Context, out io.Writer, s *servers) int {
	authURL, apiURL := s.authURL, s.apiURL
	w := &walker{ctx: ctx, out: out, client: &http.Client{Timeout: 10 * time.Second}, auth: authURL, api: apiURL}
	fmt.Fprintf(out, "Keyward demo\n  authorization server  %s\n  bookings API          %s (net/http, mode dual)\n", authURL, apiURL)

	w.section("Discovery: the API finds the issuer's keys and introspection endpoint from its metadata (RFC 8414)")
	w.do("metadata", http.MethodGet, authURL+"/.well-known/openid-configuration", nil, "", 200,
		hasFields("issuer", "jwks_uri", "token_endpoint", "introspection_endpoint"))

	w.section("No credentials: every challenge, Bearer, DPoP and Basic (RFC 6750 §3, RFC 9449 §7.1, RFC 7617)")
	w.do("no credentials", http.MethodGet, apiURL+"/v1/bookings", nil, "", 401, challenges(`Bearer realm="bookings-api"`, dpopOffered, `Basic realm="bookings-api"`))

	w.section("Form body at /oauth/token, Decentro style (15 minutes, with a refresh token)")
	first := w.do("token", http.MethodPost, authURL+"/oauth/token",
		header{"Content-Type": "application/x-www-form-urlencoded"},
		form("grant_type", "client_credentials", "client_id", globexID, "client_secret", globexSecret), 200, expiresIn(900))
	token := str(first, "access_token")
	w.do("list bookings with the token", http.MethodGet, apiURL+"/v1/bookings", bearer(token), "", 200, nil)

	w.section("Refresh: a new pair; the used refresh token is spent (single use)")
	refreshed := w.do("refresh", http.MethodPost, authURL+"/oauth/token",
		header{"Content-Type": "application/x-www-form-urlencoded"},
		form("grant_type", "refresh_token", "refresh_token", str(first, "refresh_token"), "client_id", globexID, "client_secret", globexSecret), 200, hasFields("access_token", "refresh_token"))
	w.do("refresh again with the spent token", http.MethodPost, authURL+"/oauth/token",
		header{"Content-Type": "application/x-www-form-urlencoded"},
		form("grant_type", "refresh_token", "refresh_token", str(first, "refresh_token"), "client_id", globexID, "client_secret", globexSecret), 400, errorCode("invalid_grant"))
	w.do("whoami with the refreshed token", http.MethodGet, apiURL+"/v1/whoami", bearer(str(refreshed, "access_token")), "", 200, field("method", "jwt"))

	w.section("HTTP Basic + form body at /oauth/v2/token (1 hour)")
	v2 := w.do("token", http.MethodPost, authURL+"/oauth/v2/token",
		header{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(globexID, globexSecret)},
		"grant_type=client_credentials", 200, expiresIn(3600))
	w.do("whoami", http.MethodGet, apiURL+"/v1/whoami", bearer(str(v2, "access_token")), "", 200, field("client_id", globexID))

	w.section("JSON body at /api/oauth/token (1 hour, no refresh)")
	partner := w.do("token", http.MethodPost, authURL+"/api/oauth/token",
		header{"Content-Type": "application/json", "Accept": "application/json"},
		`{"grant_type":"client_credentials","client_id":"`+acmeID+`","client_secret":"`+acmeSecret+`"}`, 200, expiresIn(3600))
	w.do("reports (needs reports:read and bookings:read)", http.MethodGet, apiURL+"/v1/reports", bearer(str(partner, "access_token")), "", 200, nil)

	w.section("Form body with response_type=token at /connect/token (30 days)")
	connect := w.do("token", http.MethodPost, authURL+"/connect/token",
		header{"Content-Type": "application/x-www-form-urlencoded"},
		form("grant_type", "client_credentials", "response_type", "token", "client_id", globexID, "client_secret", globexSecret), 200, expiresIn(2592000))
	w.do("create a booking (needs bookings:create)", http.MethodPost, apiURL+"/v1/bookings", bearer(str(connect, "access_token")), "", 201, nil)

	w.section("Opaque token: the API asks the authorization server (RFC 7662 introspection)")
	opaque := w.do("token for "+opaqueID+", whose client options say token_format: opaque", http.MethodPost, authURL+"/oauth/v2/token",
		header{"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic(opaqueID, opaqueSecret)},
		"grant_type=client_credentials", 200, allOf(expiresIn(3600), notJWT))
	opaqueToken := str(opaque, "access_token")
	w.do("whoami: Keyward introspected the token as "+resourceServerID, http.MethodGet, apiURL+"/v1/whoami", bearer(opaqueToken), "", 200,
		allOf(field("method", "jwt"), field("client_id", opaqueID), field("introspected", true)))
	w.do("list bookings with the same token", http.MethodGet, apiURL+"/v1/bookings", bearer(opaqueToken), "", 200, nil)
	w.count("introspection requests so far: the second call was answered from Keyward's cache", s.introspections, 1)
	w.do("a made-up opaque token", http.MethodGet, apiURL+"/v1/bookings", bearer(madeUpToken), "", 401, errorCode("invalid_token"))
	w.do("a scope the opaque token lacks", http.MethodDelete, apiURL+"/v1/bookings/42", bearer(opaqueToken), "", 403, challenges(deleteRefused, dpopOffered))
	w.count("introspection requests so far: one more, for the made-up token", s.introspections, 2)

	w.walkDPoP()

	w.section("Client credentials straight to the API, as Decentro's APIs take them")
	w.do("client_id and client_secret headers", http.MethodGet, apiURL+"/v1/bookings",
		header{"client_id": globexID, "client_secret": globexSecret}, "", 200, field("bookings", nil))
	w.do("HTTP Basic", http.MethodGet, apiURL+"/v1/whoami", header{"Authorization": basic(acmeID, acmeSecret)}, "", 200, field("method", "credentials"))

	w.section("Refusals")
	w.do("a scope the token lacks", http.MethodDelete, apiURL+"/v1/bookings/42", bearer(token), "", 403, challenges(deleteRefused, dpopOffered))
	w.do("a tampered token", http.MethodGet, apiURL+"/v1/bookings", bearer(tamper(token)), "", 401, errorCode("invalid_token"))
	w.do("a wrong secret", http.MethodGet, apiURL+"/v1/bookings", header{"client_id": globexID, "client_secret": "guess"}, "", 401, errorCode("invalid_client"))
	both := bearer(token)
	both["client_id"], both["client_secret"] = globexID, globexSecret
	w.do("a token and client headers at once", http.MethodGet, apiURL+"/v1/bookings", both, "", 400, errorCode("invalid_request"))

	fmt.Fprintf(out, "\n%d of %d steps answered as expected.\n", w.steps-w.failed, w.steps)
	return w.failed
}

// header is a request's headers, one value each.
type header map[string]string

func bearer(token string) header { return header{"Authorization": "Bearer " + token} }

func (w *walker) section(title string) { fmt.Fprintf(w.out, "\n── %s\n", title) }

// do sends one request, prints it and its answer, and checks the status and
// check (if any). It returns the decoded JSON body.
func (w *walker) do(what, method, target string, h header, body string, want int, check func(*http.Response, map[string]any) error) map[string]any {
	w.steps++
	fmt.Fprintf(w.out, "\n  %s\n  → %s %s\n", what, method, target)
	req, err := http.NewRequestWithContext(w.ctx, method, target, strings.NewReader(body))
	if err != nil {
		return w.fail(err)
	}
	for _, name := range sortedKeys(h) {
		req.Header.Set(name, h[name])
		fmt.Fprintf(w.out, "    %s: %s\n", name, shorten(h[name]))
	}
	if body != "" {
		fmt.Fprintf(w.out, "    %s\n", body) // short, and the secrets are the test-only ones
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return w.fail(err)
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	fmt.Fprintf(w.out, "  ← %s\n", resp.Status)
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		fmt.Fprintf(w.out, "    WWW-Authenticate: %s\n", c)
	}
	var decoded map[string]any
	if err := json.Unmarshal(raw, &decoded); err == nil {
		fmt.Fprintf(w.out, "    %s\n", compact(decoded))
	} else if len(raw) > 0 {
		fmt.Fprintf(w.out, "    %s\n", shorten(string(raw)))
	}
	switch {
	case resp.StatusCode != want:
		return w.fail(fmt.Errorf("status %d, want %d", resp.StatusCode, want))
	case check != nil:
		if err := check(resp, decoded); err != nil {
			return w.fail(err)
		}
	}
	fmt.Fprintf(w.out, "  ✓ %d as expected\n", want)
	return decoded
}

// count checks a number read inside the servers, as a step of its own.
func (w *walker) count(what string, n *atomic.Int64, want int64) {
	w.steps++
	got := n.Load()
	fmt.Fprintf(w.out, "\n  %s\n  = %d\n", what, got)
	if got != want {
		w.fail(fmt.Errorf("%d, want %d", got, want))
		return
	}
	fmt.Fprintf(w.out, "  ✓ %d as expected\n", want)
}

func (w *walker) fail(err error) map[string]any {
	w.failed++
	fmt.Fprintf(w.out, "  ✗ %v\n", err)
	return nil
}

// Checks of a response.

func hasFields(names ...string) func(*http.Response, map[string]any) error {
	return func(_ *http.Response, body map[string]any) error {
		for _, n := range names {
			if _, ok := body[n]; !ok {
				return fmt.Errorf("no %q in the body", n)
			}
		}
		return nil
	}
}

func field(name string, want any) func(*http.Response, map[string]any) error {
	return func(_ *http.Response, body map[string]any) error {
		got, ok := body[name]
		if !ok || (want != nil && got != want) {
			return fmt.Errorf("%s = %v, want %v", name, got, want)
		}
		return nil
	}
}

func expiresIn(seconds float64) func(*http.Response, map[string]any) error {
	return func(_ *http.Response, body map[string]any) error {
		if body["expires_in"] != seconds || body["token_type"] != "Bearer" || str(body, "access_token") == "" {
			return fmt.Errorf("want a Bearer token for %vs", seconds)
		}
		return nil
	}
}

// notJWT checks that the access token is one of the authorization server's
// opaque tokens: its prefix and random bits, no dot, so not a JWS.
func notJWT(_ *http.Response, body map[string]any) error {
	token := str(body, "access_token")
	if !strings.HasPrefix(token, authserver.OpaqueTokenPrefix) || strings.Contains(token, ".") {
		return fmt.Errorf("access_token %s is not an opaque token", shorten(token))
	}
	return nil
}

// allOf passes when every check does.
func allOf(checks ...func(*http.Response, map[string]any) error) func(*http.Response, map[string]any) error {
	return func(resp *http.Response, body map[string]any) error {
		for _, check := range checks {
			if err := check(resp, body); err != nil {
				return err
			}
		}
		return nil
	}
}

func errorCode(code string) func(*http.Response, map[string]any) error { return field("error", code) }

func challenges(want ...string) func(*http.Response, map[string]any) error {
	return func(resp *http.Response, _ map[string]any) error {
		if got := resp.Header.Values("WWW-Authenticate"); !slices.Equal(got, want) {
			return fmt.Errorf("WWW-Authenticate %q, want %q", got, want)
		}
		return nil
	}
}

// Helpers for building and printing requests.

func form(pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		v.Set(pairs[i], pairs[i+1])
	}
	return v.Encode()
}

// basic is an HTTP Basic value encoded as RFC 6749 §2.3.1 asks.
func basic(id, secret string) string {
	req, _ := http.NewRequest(http.MethodGet, "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}

func str(body map[string]any, name string) string {
	s, _ := body[name].(string)
	return s
}

// tamper changes one character of a token's payload.
func tamper(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(parts[1]) < 10 {
		return token + "x"
	}
	p := []byte(parts[1])
	p[5] ^= 1
	return parts[0] + "." + string(p) + "." + parts[2]
}

func sortedKeys(h header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// shorten keeps long values (tokens) readable.
func shorten(s string) string {
	const keep = 48
	if len(s) <= keep+12 {
		return s
	}
	return fmt.Sprintf("%s…(%d bytes)", s[:keep], len(s))
}

// compact prints a JSON body on one line with long strings shortened.
func compact(body map[string]any) string {
	short := make(map[string]any, len(body))
	for k, v := range body {
		if s, ok := v.(string); ok {
			v = shorten(s)
		}
		short[k] = v
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(short)
	return strings.TrimSpace(b.String())
}

// printCurls tells how to try the running servers by hand.
func printCurls(out io.Writer, authURL, apiURL string) {
	fmt.Fprintf(out, `
Both servers keep running. Try (test-only clients from testdata/authserver/clients.yaml):

  TOKEN=$(curl -s -u %[3]s:%[4]s -d grant_type=client_credentials %[1]s/oauth/v2/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -i -H "Authorization: Bearer $TOKEN" %[2]s/v1/bookings
  curl -i -H "client_id: %[3]s" -H "client_secret: %[4]s" %[2]s/v1/whoami
  curl -i -u %[5]s:%[6]s %[2]s/v1/reports
  curl -i -X DELETE -H "Authorization: Bearer $TOKEN" %[2]s/v1/bookings/42
  curl -s %[1]s/.well-known/jwks.json

An opaque token, which the API introspects (and what the authorization server tells it):

  OPAQUE=$(curl -s -u %[7]s:%[8]s -d grant_type=client_credentials %[1]s/oauth/v2/token | sed -E 's/.*"access_token":"([^"]+)".*/\1/')
  curl -i -H "Authorization: Bearer $OPAQUE" %[2]s/v1/whoami
  curl -s -u %[9]s:%[10]s -d token=$OPAQUE %[1]s%[11]s

Press Ctrl-C to stop.
`, authURL, apiURL, globexID, globexSecret, acmeID, acmeSecret, opaqueID, opaqueSecret, resourceServerID, resourceServerSecret, authserver.PathIntrospect)
}
