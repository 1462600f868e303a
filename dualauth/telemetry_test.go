package dualauth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/keyward/keyward/clientauth"
	"github.com/keyward/keyward/clients"
	"github.com/keyward/keyward/dualauth"
	"github.com/keyward/keyward/jwtauth"
	"github.com/keyward/keyward/keywardtest"
	"github.com/keyward/keyward/scopes"
)

// collected is one collection of an in-memory reader.
type collected struct {
	t  *testing.T
	rm metricdata.ResourceMetrics
}

// collect reads every metric reader holds now.
func collect(t *testing.T, reader *sdkmetric.ManualReader) collected {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	return collected{t, rm}
}

// find returns the data of the metric named name, or nil.
func (c collected) find(name string) metricdata.Aggregation {
	for _, sm := range c.rm.ScopeMetrics {
		if sm.Scope.Name != "github.com/keyward/keyward/dualauth" {
			continue
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m.Data
			}
		}
	}
	return nil
}

// int64 returns the value of the counter or gauge named name at exactly
// the attributes kv, and whether it has a point there.
func (c collected) int64(name string, kv ...attribute.KeyValue) (int64, bool) {
	want := attribute.NewSet(kv...)
	var points []metricdata.DataPoint[int64]
	switch d := c.find(name).(type) {
	case metricdata.Sum[int64]:
		points = d.DataPoints
	case metricdata.Gauge[int64]:
		points = d.DataPoints
	}
	for _, p := range points {
		if p.Attributes.Equals(&want) {
			return p.Value, true
		}
	}
	return 0, false
}

// value is int64 for a point that must exist.
func (c collected) value(name string, kv ...attribute.KeyValue) int64 {
	c.t.Helper()
	v, ok := c.int64(name, kv...)
	if !ok {
		c.t.Fatalf("%s has no point at %v; collected %+v", name, kv, c.find(name))
	}
	return v
}

// histogramCount is the number of values the histogram named name
// recorded at exactly the attributes kv.
func (c collected) histogramCount(name string, kv ...attribute.KeyValue) uint64 {
	want := attribute.NewSet(kv...)
	if d, ok := c.find(name).(metricdata.Histogram[float64]); ok {
		for _, p := range d.DataPoints {
			if p.Attributes.Equals(&want) {
				return p.Count
			}
		}
	}
	return 0
}

// points is the number of points of the sum named name.
func (c collected) points(name string) int {
	if d, ok := c.find(name).(metricdata.Sum[int64]); ok {
		return len(d.DataPoints)
	}
	return 0
}

var (
	jwtMethod   = attribute.String("keyward.auth_method", "jwt")
	credMethod  = attribute.String("keyward.auth_method", "credentials")
	noMethod    = attribute.String("keyward.auth_method", "none")
	allowed     = attribute.String("outcome", "allowed")
	refused     = attribute.String("outcome", "refused")
	code        = func(c string) attribute.KeyValue { return attribute.String("code", c) }
	result      = func(r string) attribute.KeyValue { return attribute.String("result", r) }
	cachedAttr  = func(c bool) attribute.KeyValue { return attribute.Bool("cached", c) }
	secretValue = "acme-secret"
)

// TestMetrics reads the metrics and spans through in-memory readers after
// allowed, refused, cached and throttled requests, and checks that each
// request is counted once, also when Authenticate and Authorize both see
// it.
func TestMetrics(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	iss := keywardtest.NewIssuer(t, "ES256")
	reg, err := clients.Open(registryFile(t, t.TempDir(), testClients), clients.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := authenticatorFor(t, iss, func(c *testConfig) {
		c.Mode = dualauth.ModeDual
		c.Credentials.Verifier = reg
		c.Credentials.Throttle.MaxClientFailures = 2
		c.MeterProvider, c.TracerProvider = mp, tp
	})
	t.Cleanup(func() { _ = a.Close() })

	token := iss.Token(t, jwt.MapClaims{"scope": "bookings:read", "client_id": "acme-app"})
	bearer := func(tok string) *http.Request {
		return request{authorization: []string{"Bearer " + tok}, remote: "192.0.2.7:1000"}.build()
	}
	client := func(secret string) *http.Request {
		return request{headers: map[string]string{"client_id": "acme", "client_secret": secret}, remote: "192.0.2.7:1000"}.build()
	}
	authenticate := func(r *http.Request, wantCode string) *dualauth.Principal {
		t.Helper()
		p, err := a.Authenticate(r)
		switch {
		case wantCode == "" && err != nil:
			t.Fatalf("Authenticate: %v", err)
		case wantCode != "" && (err == nil || asError(t, err).Code != strings.TrimPrefix(wantCode, "-")):
			t.Fatalf("Authenticate error = %v, want code %q", err, wantCode)
		}
		return p
	}
	authorize := func(a *dualauth.Authenticator, r *http.Request, req scopes.Requirement, wantCode string) {
		t.Helper()
		_, err := a.Authorize(r, req)
		switch {
		case wantCode == "" && err != nil:
			t.Fatalf("Authorize: %v", err)
		case wantCode != "" && (err == nil || asError(t, err).Code != strings.TrimPrefix(wantCode, "-")):
			t.Fatalf("Authorize error = %v, want code %q", err, wantCode)
		}
	}

	// Bearer tokens: a miss, a hit, a bad token.
	authenticate(bearer(token), "")
	authenticate(bearer(token), "")
	authenticate(bearer("not-a-jwt"), dualauth.CodeInvalidToken)
	// No credentials ("-": no code).
	authenticate(request{remote: "192.0.2.7:1000"}.build(), "-")
	// Client credentials: verified, then cached; a wrong secret twice, then
	// throttled.
	authenticate(client(secretValue), "")
	authenticate(client(secretValue), "")
	authenticate(client("wrong-secret"), dualauth.CodeInvalidClient)
	authenticate(client("wrong-secret"), dualauth.CodeInvalidClient)
	authenticate(client("wrong-secret"), dualauth.CodeTooManyRequests)
	// Authenticate then Authorize on one request (as middleware
	// Authenticate then Require): counted once, by Authenticate, even when
	// Authorize refuses the scope.
	r := bearer(token)
	p := authenticate(r, "")
	r = r.WithContext(dualauth.NewContext(r.Context(), p))
	authorize(a, r, scopes.All("bookings:read"), "")
	authorize(a, r, scopes.All("admin"), dualauth.CodeInsufficientScope)
	// Authorize alone counts its scope refusal.
	authorize(a, bearer(token), scopes.All("admin"), dualauth.CodeInsufficientScope)
	authorize(a, bearer(token), scopes.All("bookings:read"), "")
	// VerifyClient is a request of its own.
	if _, err := a.VerifyClient(context.Background(), "acme", secretValue, "192.0.2.8:1"); err != nil {
		t.Fatal(err)
	}
	// A caller verified by client credentials, then a JWT-only route: the
	// route authenticates again (and refuses), but the request was counted.
	r = client(secretValue)
	p = authenticate(r, "")
	jwtOnly, err := a.ForMode(dualauth.ModeJWT)
	if err != nil {
		t.Fatal(err)
	}
	authorize(jwtOnly, r.WithContext(dualauth.NewContext(r.Context(), p)), scopes.All(), "-")
	const requests = 14

	m := collect(t, reader)
	var total int64
	for _, tc := range []struct {
		attrs []attribute.KeyValue
		want  int64
	}{
		{[]attribute.KeyValue{jwtMethod, allowed}, 4},
		{[]attribute.KeyValue{jwtMethod, refused, code(dualauth.CodeInvalidToken)}, 1},
		{[]attribute.KeyValue{jwtMethod, refused, code(dualauth.CodeInsufficientScope)}, 1},
		{[]attribute.KeyValue{noMethod, refused, code("unauthorized")}, 1},
		{[]attribute.KeyValue{credMethod, allowed}, 4},
		{[]attribute.KeyValue{credMethod, refused, code(dualauth.CodeInvalidClient)}, 2},
		{[]attribute.KeyValue{credMethod, refused, code(dualauth.CodeTooManyRequests)}, 1},
	} {
		if got := m.value("keyward.requests", tc.attrs...); got != tc.want {
			t.Errorf("%s %v = %d, want %d", "keyward.requests", tc.attrs, got, tc.want)
		}
		total += tc.want
	}
	if total != requests || m.points("keyward.requests") != 7 {
		t.Errorf("%s has %d points summing to %d, want 7 and %d requests", "keyward.requests", m.points("keyward.requests"), total, requests)
	}

	for _, tc := range []struct {
		method attribute.KeyValue
		cached bool
		want   uint64
	}{
		{jwtMethod, false, 2}, // the first use of the token, and the bad one
		{jwtMethod, true, 4},
		{credMethod, false, 4}, // the first check, two wrong secrets, the throttled one
		{credMethod, true, 3},
	} {
		if got := m.histogramCount("keyward.verify.duration", tc.method, cachedAttr(tc.cached)); got != tc.want {
			t.Errorf("%s %v cached=%v count = %d, want %d", "keyward.verify.duration", tc.method, tc.cached, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		attrs  []attribute.KeyValue
		want   int64
		exists bool
	}{
		{"keyward.token_cache.lookups", []attribute.KeyValue{result("hit")}, 4, true},
		{"keyward.token_cache.lookups", []attribute.KeyValue{result("miss")}, 2, true},
		{"keyward.token_cache.entries", nil, 1, true},
		{"keyward.credentials.checks", []attribute.KeyValue{result("ok")}, 4, true},
		{"keyward.credentials.checks", []attribute.KeyValue{result("refused")}, 2, true},
		{"keyward.credentials.checks", []attribute.KeyValue{result("throttled")}, 1, true},
		{"keyward.credentials.checks", []attribute.KeyValue{result("busy")}, 0, false},
		{"keyward.throttle.store_errors", nil, 0, true},
	} {
		got, ok := m.int64(tc.name, tc.attrs...)
		if got != tc.want || ok != tc.exists {
			t.Errorf("%s %v = %d (present %v), want %d (present %v)", tc.name, tc.attrs, got, ok, tc.want, tc.exists)
		}
	}
	st := a.KeyStatus()[iss.URL]
	issuer := attribute.String("issuer", iss.URL)
	if got := m.value("keyward.jwks.keys", issuer); got != int64(st.Keys) || got == 0 {
		t.Errorf("%s = %d, want %d", "keyward.jwks.keys", got, st.Keys)
	}
	if got := m.value("keyward.jwks.refreshes", issuer, result("ok")); got != int64(st.Refreshes) || got == 0 {
		t.Errorf("%s ok = %d, want %d", "keyward.jwks.refreshes", got, st.Refreshes)
	}
	if got := m.value("keyward.jwks.refreshes", issuer, result("error")); got != 0 {
		t.Errorf("%s error = %d, want 0", "keyward.jwks.refreshes", got)
	}

	// One span per counted request, naming only what was verified.
	ended := spans.Ended()
	if len(ended) != requests {
		t.Fatalf("%d spans, want %d", len(ended), requests)
	}
	byOutcome := map[string]int{}
	for _, s := range ended {
		if s.Name() != "keyward.authenticate" {
			t.Errorf("span name %q", s.Name())
		}
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			v := kv.Value.String()
			attrs[string(kv.Key)] = v
			if strings.Contains(v, token[:20]) || strings.Contains(v, "secret") || strings.Contains(v, "Bearer") {
				t.Errorf("span attribute %s = %q carries a credential", kv.Key, v)
			}
		}
		byOutcome[attrs["keyward.auth_method"]+"/"+attrs["keyward.outcome"]+"/"+attrs["keyward.code"]]++
		switch attrs["keyward.auth_method"] + "/" + attrs["keyward.outcome"] {
		case "jwt/allowed":
			if attrs["keyward.issuer"] != iss.URL || attrs["keyward.client_id"] != "acme-app" {
				t.Errorf("allowed JWT span attributes %v", attrs)
			}
		case "credentials/allowed":
			if attrs["keyward.client_id"] != "acme" || attrs["keyward.issuer"] != "" {
				t.Errorf("allowed credentials span attributes %v", attrs)
			}
		case "credentials/refused", "none/refused":
			if _, ok := attrs["keyward.client_id"]; ok {
				t.Errorf("refused span names the client it was sent: %v", attrs)
			}
		}
	}
	want := map[string]int{
		"jwt/allowed/": 4, "jwt/refused/invalid_token": 1, "jwt/refused/insufficient_scope": 1,
		"none/refused/unauthorized": 1, "credentials/allowed/": 4,
		"credentials/refused/invalid_client": 2, "credentials/refused/too_many_requests": 1,
	}
	for k, n := range want {
		if byOutcome[k] != n {
			t.Errorf("spans %s = %d, want %d (all: %v)", k, byOutcome[k], n, byOutcome)
		}
	}

	// Close unregisters the observable instruments.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	m = collect(t, reader)
	if _, ok := m.int64("keyward.jwks.keys", issuer); ok {
		t.Errorf("%s still observed after Close", "keyward.jwks.keys")
	}
}

// TestMetricsCostNothingWhenOff: with the global providers left unset, or
// no-op ones, a request answered from the token cache allocates no more
// than it did before metrics were added, and starts no span.
func TestMetricsCostNothingWhenOff(t *testing.T) {
	iss := keywardtest.NewIssuer(t, "ES256")
	token := iss.Token(t, jwt.MapClaims{"scope": "bookings:read"})
	allocs := func(edit func(*testConfig)) float64 {
		a := authenticatorFor(t, iss, edit)
		t.Cleanup(func() { _ = a.Close() })
		r := request{authorization: []string{"Bearer " + token}}.build()
		if _, err := a.Authenticate(r); err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(100, func() {
			if _, err := a.Authenticate(r); err != nil {
				t.Fatal(err)
			}
		})
	}
	noop := allocs(func(c *testConfig) {
		c.MeterProvider, c.TracerProvider = metricnoop.NewMeterProvider(), tracenoop.NewTracerProvider()
	})
	global := allocs(nil)
	if global != noop {
		t.Errorf("cached Authenticate allocates %v times with the global providers unset, %v with no-op ones", global, noop)
	}
	// As many as before metrics were added.
	if noop > 3 {
		t.Errorf("cached Authenticate allocates %v times with no-op providers", noop)
	}
	reader := sdkmetric.NewManualReader()
	sdk := allocs(func(c *testConfig) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	})
	if sdk != noop {
		t.Errorf("cached Authenticate allocates %v times with an SDK MeterProvider, %v with a no-op one", sdk, noop)
	}
}

// TestGlobalProviders: an Authenticator built before the application sets
// the global providers (Config.MeterProvider and TracerProvider nil) starts
// spans and reports metrics once they are set. It runs in a child process:
// the global providers cannot be unset.
func TestGlobalProviders(t *testing.T) {
	if os.Getenv("KEYWARD_TEST_GLOBAL_PROVIDERS") != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestGlobalProviders$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), "KEYWARD_TEST_GLOBAL_PROVIDERS=1")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestGlobalProviders") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	iss := keywardtest.NewIssuer(t, "ES256")
	a := authenticatorFor(t, iss, nil)
	t.Cleanup(func() { _ = a.Close() })
	r := request{authorization: []string{"Bearer " + iss.Token(t, nil)}}.build()
	if _, err := a.Authenticate(r); err != nil {
		t.Fatal(err)
	}

	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	spans := tracetest.NewSpanRecorder()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	if _, err := a.Authenticate(r); err != nil {
		t.Fatal(err)
	}
	if n := len(spans.Ended()); n != 1 {
		t.Fatalf("%d spans after the global TracerProvider was set, want 1", n)
	}
	m := collect(t, reader)
	if got := m.value("keyward.requests", jwtMethod, allowed); got != 2 {
		t.Errorf("%s = %d, want 2 (counted before the provider was set too)", "keyward.requests", got)
	}
	if got := m.histogramCount("keyward.verify.duration", jwtMethod, cachedAttr(true)); got != 1 {
		t.Errorf("%s cached count = %d, want 1 (recorded once the provider was set)", "keyward.verify.duration", got)
	}
}

type failingVerifier struct{ err error }

func (v failingVerifier) VerifyClient(context.Context, string, string) (*dualauth.Principal, error) {
	return nil, v.err
}

// TestVerifierFailures: what a verifier answers reaches the metrics as the
// core reads it — an error of its own is a check that could not be made
// (result=error, temporarily_unavailable), ErrVerifierBusy a busy one, a
// refusal with a code of the application's own is counted under that
// code — and keyward.throttle.store_errors reports the throttle store's
// count. The span's status is Error only for the server's trouble.
func TestVerifierFailures(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		check, got string
		status     codes.Code
	}{
		{"verifier error", errors.New("the verifier's database is down"), "error", dualauth.CodeTemporarilyUnavailable, codes.Error},
		{"busy", dualauth.ErrVerifierBusy, "busy", dualauth.CodeTemporarilyUnavailable, codes.Error},
		{"custom code", &dualauth.Error{Status: 402, Code: "payment_required", Description: "the client's plan has lapsed"}, "error", "payment_required", codes.Unset},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			spans := tracetest.NewSpanRecorder()
			checker, err := clientauth.New(clientauth.Config{Verifier: failingVerifier{tc.err}})
			if err != nil {
				t.Fatal(err)
			}
			store := &storeErrors{Checker: checker}
			a, err := dualauth.New(dualauth.Config{
				Mode:           dualauth.ModeCredentials,
				Clients:        store,
				MeterProvider:  sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = a.Close() })
			if _, err := a.VerifyClient(context.Background(), "acme", secretValue, "192.0.2.1:1"); err == nil {
				t.Fatal("VerifyClient succeeded")
			}
			if ended := spans.Ended(); len(ended) != 1 || ended[0].Status().Code != tc.status {
				t.Errorf("spans %v, want one with status %v", ended, tc.status)
			}
			m := collect(t, reader)
			if got := m.value("keyward.credentials.checks", result(tc.check)); got != 1 {
				t.Errorf("checks result=%s = %d, want 1", tc.check, got)
			}
			if got := m.value("keyward.requests", credMethod, refused, code(tc.got)); got != 1 {
				t.Errorf("requests code=%s = %d, want 1", tc.got, got)
			}
			if got := m.value("keyward.throttle.store_errors"); got != 0 {
				t.Errorf("store_errors = %d, want 0", got)
			}
			store.n.Store(7)
			if got := collect(t, reader).value("keyward.throttle.store_errors"); got != 7 {
				t.Errorf("store_errors = %d after the store failed 7 times, want 7", got)
			}
		})
	}
}

// storeErrors is a client checker whose throttle store has failed n times.
type storeErrors struct {
	*clientauth.Checker
	n atomic.Uint64
}

func (s *storeErrors) StoreErrors() uint64 { return s.n.Load() }

// TestIntrospectionMetrics: an Authenticator whose verifier introspects
// reports keyward.introspection.requests by outcome and the lookups of its
// answer cache; one whose verifier does not has neither instrument.
func TestIntrospectionMetrics(t *testing.T) {
	endpoint := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.PostFormValue("token") == "good-opaque-token" {
			fmt.Fprintf(w, `{"active":true,"scope":"bookings:read","exp":%d}`, time.Now().Add(time.Hour).Unix())
			return
		}
		fmt.Fprint(w, `{"active":false}`)
	}))
	t.Cleanup(endpoint.Close)
	iss := keywardtest.NewIssuer(t, "ES256")
	for _, introspects := range []bool{true, false} {
		reader := sdkmetric.NewManualReader()
		a := authenticatorFor(t, iss, func(c *testConfig) {
			if introspects {
				c.Issuers[0].Introspection = &jwtauth.Introspection{Endpoint: endpoint.URL, ClientID: "rs", ClientSecret: "s"}
			}
			c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		})
		t.Cleanup(func() { _ = a.Close() })
		for _, tok := range []string{"good-opaque-token", "good-opaque-token", "guessed-token"} {
			_, _ = a.Authenticate(request{authorization: []string{"Bearer " + tok}, remote: "192.0.2.7:1000"}.build())
		}
		got := collect(t, reader)
		if !introspects {
			for _, name := range []string{"keyward.introspection.requests", "keyward.introspection.cache.lookups"} {
				if got.find(name) != nil {
					t.Errorf("%s is reported without introspection", name)
				}
			}
			continue
		}
		for _, want := range []struct {
			name  string
			kv    attribute.KeyValue
			value int64
		}{
			{"keyward.introspection.requests", attribute.String("outcome", "active"), 1},
			{"keyward.introspection.requests", attribute.String("outcome", "inactive"), 1},
			{"keyward.introspection.cache.lookups", attribute.String("result", "hit"), 1},
			{"keyward.introspection.cache.lookups", attribute.String("result", "miss"), 2},
		} {
			if n := got.value(want.name, want.kv); n != want.value {
				t.Errorf("%s{%s} = %d, want %d", want.name, want.kv.Value.String(), n, want.value)
			}
		}
	}
}
