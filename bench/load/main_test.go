package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/bench/internal/suite"
)

func TestParseFlags(t *testing.T) {
	for _, bad := range [][]string{
		{"-target", "http://10.0.0.1:8080", "-mint-key", "k.pem", "-iss", "x"},
		{"-target", "http://example.com", "-mint-key", "k.pem", "-iss", "x"},
		{"-target", "http://127.0.0.1:8080"}, // no key to sign with
		{"-target", "http://127.0.0.1:8080", "-mint-key", "k.pem", "-iss", "x", "-compare"},
		{"-target", "nginx"},
		{"-d", "11m"},
		{"-n", "0"},
		{"-c", "0"},
		{"-tokens", "cookies"},
		{"-alg", "HS256"},
		{"-compare", "-target", "anchor"},
	} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
	o, err := parseFlags([]string{"-compare", "-target", "anchor,keyward-echo", "-target", "auth0,keyward-nethttp"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(o.targets, ","); got != suite.ImplAuth0+","+suite.ImplKeywardNetHTTP {
		t.Errorf("targets %s", got)
	}
	if _, err := parseFlags([]string{"-target", "http://127.0.0.1:8080", "-mint-key", "k.pem", "-iss", "x"}); err != nil {
		t.Errorf("a loopback URL target: %v", err)
	}
}

// TestDrive drives each built-in target in this process, briefly, with each
// kind of credential it takes, and checks that every request was let in and
// that the run stopped by itself at its bound.
func TestDrive(t *testing.T) {
	env, err := suite.Start("ES256")
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close()
	yaml, err := suite.ClientsYAML()
	if err != nil {
		t.Fatal(err)
	}
	tr := env.Trust()
	fresh, err := env.MintPool("ES256", 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, impl := range suite.Impls {
		s, err := startInProcess(serveConfig{Impl: impl, Issuer: tr.Issuer, JWKSURL: tr.JWKSURL, Audience: tr.Audience, Alg: "ES256", ClientsYAML: yaml})
		if err != nil {
			t.Fatal(err)
		}
		sources := map[string]requestSource{
			"reused": bearerSource(suite.BookingsRoute, s.Addr, "", env.Reused("ES256"), nil),
			"fresh":  bearerSource(suite.BookingsRoute, s.Addr, "", "", fresh),
		}
		if strings.HasPrefix(impl, "keyward-") {
			sources["credentials"] = credentialsSource(suite.BookingsRoute, s.Addr, "", suite.ClientID, suite.ClientSecret)
		}
		for name, src := range sources {
			start := time.Now()
			r := drive(s.Addr, 4, 5*time.Second, 40, src)
			if time.Since(start) > 4*time.Second {
				t.Errorf("%s/%s: 40 requests took %v", impl, name, time.Since(start))
			}
			if r.Requests != 40 || r.OK != 40 || r.Errors != 0 {
				t.Errorf("%s/%s: %d requests, %d OK, %d errors, statuses %v", impl, name, r.Requests, r.OK, r.Errors, r.Statuses)
			}
			if r.Percentile(0.5) <= 0 || r.Max() < r.Percentile(0.99) {
				t.Errorf("%s/%s: latencies p50 %v p99 %v max %v", impl, name, r.Percentile(0.5), r.Percentile(0.99), r.Max())
			}
		}
		// A wrong token is refused, and counted as such.
		bad := drive(s.Addr, 1, 5*time.Second, 3, bearerSource(suite.BookingsRoute, s.Addr, "", "not.a.token", nil))
		if bad.OK != 0 || bad.Requests != 3 || bad.Statuses[http.StatusOK] != 0 {
			t.Errorf("%s: a bad token: %d OK of %d, statuses %v", impl, bad.OK, bad.Requests, bad.Statuses)
		}
		s.Close()
	}
}
