package telemetry

import (
	"context"
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// requests collects reader's keyward.requests points, keyed by their
// attributes as "key=value" joined by spaces in attribute order.
func requests(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok || m.Name != MetricRequests {
				continue
			}
			for _, p := range sum.DataPoints {
				key := ""
				for _, kv := range p.Attributes.ToSlice() {
					key += string(kv.Key) + "=" + kv.Value.String() + " "
				}
				out[key] = p.Value
			}
		}
	}
	return out
}

// TestOtherCodes: a refusal with a code not in Config.Codes is counted
// under that code, up to maxOtherCodes codes, then as "other"; the known
// codes and allowed requests are counted by method.
func TestOtherCodes(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	r, err := New(Config{
		MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)),
		Codes:         []string{"unauthorized", "invalid_client"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	r.Request(nil, Outcome{Method: JWT})
	r.Request(nil, Outcome{Method: None, Code: "unauthorized"})
	r.Request(nil, Outcome{Method: Credentials, Code: "invalid_client"})
	for i := range maxOtherCodes + 2 {
		r.Request(nil, Outcome{Method: Credentials, Code: fmt.Sprintf("code_%d", i)})
	}
	r.Request(nil, Outcome{Method: Credentials, Code: "code_0"})
	got := requests(t, reader)
	want := map[string]int64{
		"keyward.auth_method=jwt outcome=allowed ":                             1,
		"code=unauthorized keyward.auth_method=none outcome=refused ":          1,
		"code=invalid_client keyward.auth_method=credentials outcome=refused ": 1,
		"code=code_0 keyward.auth_method=credentials outcome=refused ":         2,
		"code=code_15 keyward.auth_method=credentials outcome=refused ":        1,
		"code=other keyward.auth_method=credentials outcome=refused ":          2,
	}
	for key, n := range want {
		if got[key] != n {
			t.Errorf("%q = %d, want %d", key, got[key], n)
		}
	}
	if len(got) != len(want)+maxOtherCodes-2 {
		t.Errorf("%d points, want %d: %v", len(got), len(want)+maxOtherCodes-2, got)
	}
}

// TestSpan: a request's span carries its method, outcome, code and the
// verified caller, and has status Error only for the server's trouble.
func TestSpan(t *testing.T) {
	for _, tc := range []struct {
		name   string
		o      Outcome
		attrs  map[string]string
		status codes.Code
	}{
		{"allowed", Outcome{Method: JWT, Issuer: "https://issuer.test", ClientID: "acme"},
			map[string]string{AttrAuthMethod: "jwt", "keyward.outcome": "allowed", "keyward.issuer": "https://issuer.test", "keyward.client_id": "acme"}, codes.Unset},
		{"refused", Outcome{Method: Credentials, Code: "invalid_client"},
			map[string]string{AttrAuthMethod: "credentials", "keyward.outcome": "refused", "keyward.code": "invalid_client"}, codes.Unset},
		{"server fault", Outcome{Method: JWT, Code: "temporarily_unavailable", ServerFault: true},
			map[string]string{AttrAuthMethod: "jwt", "keyward.outcome": "refused", "keyward.code": "temporarily_unavailable"}, codes.Error},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spans := tracetest.NewSpanRecorder()
			r, err := New(Config{
				MeterProvider:  sdkmetric.NewMeterProvider(),
				TracerProvider: sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)),
			})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			_, span := r.Start(context.Background())
			if span == nil {
				t.Fatal("no span with an SDK TracerProvider")
			}
			r.Request(span, tc.o)
			ended := spans.Ended()
			if len(ended) != 1 || ended[0].Name() != "keyward.authenticate" {
				t.Fatalf("ended spans %v, want one keyward.authenticate", ended)
			}
			got := map[string]string{}
			for _, kv := range ended[0].Attributes() {
				got[string(kv.Key)] = kv.Value.String()
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.attrs) {
				t.Errorf("attributes %v, want %v", got, tc.attrs)
			}
			if s := ended[0].Status().Code; s != tc.status {
				t.Errorf("status %v, want %v", s, tc.status)
			}
		})
	}
}

// TestRoute: a request whose context has a route (WithRoute) is counted
// with attribute keyward.route, and its span carries it, whether spans are
// on or off; a request without one is counted as before, without the
// attribute; StartRoute takes the route it is given (an HTTP request's
// Pattern) over the context's; past maxRoutedCounts, new routes are
// counted as "other".
func TestRoute(t *testing.T) {
	for _, spansOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("spans=%v", spansOn), func(t *testing.T) {
			reader := sdkmetric.NewManualReader()
			spans := tracetest.NewSpanRecorder()
			cfg := Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), Codes: []string{"invalid_token"}}
			if spansOn {
				cfg.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
			} else {
				cfg.TracerProvider = tracenoop.NewTracerProvider()
			}
			r, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			decide := func(route string, o Outcome) {
				_, span := r.Start(WithRoute(context.Background(), route))
				r.Request(span, o)
			}
			decide("/bookings.v1.Bookings/List", Outcome{Method: JWT})
			decide("/bookings.v1.Bookings/List", Outcome{Method: JWT})
			decide("/bookings.v1.Bookings/List", Outcome{Method: JWT, Code: "invalid_token"})
			decide("/bookings.v1.Bookings/Create", Outcome{Method: Credentials, Code: "insufficient_scope"})
			decide("", Outcome{Method: JWT})
			_, span := r.StartRoute(WithRoute(context.Background(), "/ignored.Service/M"), "GET /v1/bookings")
			r.Request(span, Outcome{Method: Credentials})
			got := requests(t, reader)
			want := map[string]int64{
				"keyward.auth_method=jwt keyward.route=/bookings.v1.Bookings/List outcome=allowed ":                                   2,
				"code=invalid_token keyward.auth_method=jwt keyward.route=/bookings.v1.Bookings/List outcome=refused ":                1,
				"code=insufficient_scope keyward.auth_method=credentials keyward.route=/bookings.v1.Bookings/Create outcome=refused ": 1,
				"keyward.auth_method=jwt outcome=allowed ":                                                                            1,
				"keyward.auth_method=credentials keyward.route=GET /v1/bookings outcome=allowed ":                                     1,
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("requests\n%v\nwant\n%v", got, want)
			}
			ended := spans.Ended()
			if !spansOn {
				if len(ended) != 0 {
					t.Errorf("%d spans with spans off", len(ended))
				}
				return
			}
			if len(ended) != 6 {
				t.Fatalf("%d spans, want 6", len(ended))
			}
			for i, s := range ended {
				route := ""
				for _, kv := range s.Attributes() {
					if kv.Key == AttrRoute {
						route = kv.Value.AsString()
					}
				}
				if wantRoute := []string{"/bookings.v1.Bookings/List", "/bookings.v1.Bookings/List", "/bookings.v1.Bookings/List", "/bookings.v1.Bookings/Create", "", "GET /v1/bookings"}[i]; route != wantRoute {
					t.Errorf("span %d: route %q, want %q", i, route, wantRoute)
				}
			}
		})
	}
	t.Run("bound", func(t *testing.T) {
		reader := sdkmetric.NewManualReader()
		r, err := New(Config{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), TracerProvider: tracenoop.NewTracerProvider()})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for i := range maxRoutedCounts + 3 {
			_, span := r.Start(WithRoute(context.Background(), fmt.Sprintf("/a.B/M%d", i)))
			r.Request(span, Outcome{Method: JWT})
		}
		got := requests(t, reader)
		if len(got) != maxRoutedCounts+1 || got["keyward.auth_method=jwt keyward.route=other outcome=allowed "] != 3 {
			t.Errorf("%d points, other %d; want %d and 3", len(got), got["keyward.auth_method=jwt keyward.route=other outcome=allowed "], maxRoutedCounts+1)
		}
	})
}
