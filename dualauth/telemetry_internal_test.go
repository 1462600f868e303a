package dualauth

import (
	"context"
	"errors"
	"fmt"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

type failingVerifier struct{}

func (failingVerifier) VerifyClient(context.Context, string, string) (*Principal, error) {
	return nil, errors.New("the verifier's database is down")
}

// TestStoreErrorsAndFailedChecks: keyward.throttle.store_errors reports
// what the core's storeErrors returns, and a check the verifier could not
// make counts as result=error and as a refused request with code
// temporarily_unavailable.
func TestStoreErrorsAndFailedChecks(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	a, err := New(Config{
		Mode:          ModeCredentials,
		Credentials:   Credentials{Verifier: failingVerifier{}},
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.VerifyClient(context.Background(), "acme", "acme-secret", "192.0.2.1:1"); err == nil {
		t.Fatal("VerifyClient succeeded with a failing verifier")
	}

	values := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if sum, ok := m.Data.(metricdata.Sum[int64]); ok {
					for _, p := range sum.DataPoints {
						key := m.Name
						for _, kv := range p.Attributes.ToSlice() {
							key += " " + string(kv.Key) + "=" + kv.Value.String()
						}
						out[key] = p.Value
					}
				}
			}
		}
		return out
	}
	got := values()
	for key, want := range map[string]int64{
		metricThrottleStoreErrors:                 0,
		metricCredentialsChecks + " result=error": 1,
		metricRequests + " code=temporarily_unavailable " + attrAuthMethod + "=credentials outcome=refused": 1,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %d (present %v), want %d; all: %v", key, v, ok, want, got)
		}
	}
	a.storeErrors = func() uint64 { return 7 }
	if got := values()[metricThrottleStoreErrors]; got != 7 {
		t.Errorf("%s = %d, want 7", metricThrottleStoreErrors, got)
	}
}

func TestCodeIndex(t *testing.T) {
	for i, code := range knownCodes {
		if got := codeIndex(code); got != i {
			t.Errorf("codeIndex(%q) = %d, want %d", code, got, i)
		}
	}
	if got := codeIndex("custom"); got != -1 {
		t.Errorf("codeIndex(custom) = %d", got)
	}
}

type customVerifier struct{}

func (customVerifier) VerifyClient(context.Context, string, string) (*Principal, error) {
	return nil, &Error{Status: 402, Code: "payment_required", Description: "the client's plan has lapsed"}
}

// TestCustomCodes: a refusal with a code of the application's own is
// counted under that code, up to maxOtherCodes codes, then as "other".
func TestCustomCodes(t *testing.T) {
	a, err := New(Config{Mode: ModeCredentials, Credentials: Credentials{Verifier: customVerifier{}}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := a.VerifyClient(context.Background(), "acme", "acme-secret", "192.0.2.1:1"); errorCode(err) != "payment_required" {
		t.Fatalf("VerifyClient error = %v", err)
	}
	for i := range maxOtherCodes + 2 {
		a.tel.request(nil, methodCredentials, nil, &Error{Code: fmt.Sprintf("code_%d", i)})
	}
	if n := a.tel.other[otherCode{methodCredentials, "payment_required"}]; n != 1 {
		t.Errorf("payment_required counted %d times", n)
	}
	if n := a.tel.other[otherCode{methodCredentials, "other"}]; n != 3 {
		t.Errorf("other counted %d times, want 3", n)
	}
}
