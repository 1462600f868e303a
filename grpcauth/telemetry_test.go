package grpcauth_test

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"

	"github.com/keyward/keyward/grpcauth"
	"github.com/keyward/keyward/keywardtest"
)

// TestTelemetryRoute: calls are counted in keyward.requests and get a
// keyward.authenticate span as HTTP requests are, with the call's full
// method as keyward.route, unary and streaming, allowed and refused; a
// public method is neither counted nor traced.
func TestTelemetryRoute(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	spans := tracetest.NewSpanRecorder()
	iss, a := newAuthenticator(t, func(c *keywardtest.Config) {
		c.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		c.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	})
	conn := start(t, grpcauth.New(a, testOptions()), "bufconn")
	read := bearerMD(iss.Token(t, jwt.MapClaims{"sub": "alice", "scope": "bookings:read"}))
	for _, c := range []struct {
		method string
		stream bool
		code   codes.Code
	}{
		{"/" + bookings + "/List", false, codes.OK},
		{"/" + bookings + "/List", false, codes.OK},
		{"/" + bookings + "/Create", false, codes.PermissionDenied},
		{"/" + bookingFeeds + "/List", true, codes.OK},
		{healthCheck, false, codes.OK},
	} {
		md := read
		if c.method == healthCheck {
			md = nil
		}
		if res := call(t, conn, c.method, c.stream, md); res.code != c.code {
			t.Fatalf("%s: %s %q; want %s", c.method, res.code, res.message, c.code)
		}
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var points []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if sum, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == "keyward.requests" {
				for _, p := range sum.DataPoints {
					var kv []string
					for _, a := range p.Attributes.ToSlice() {
						kv = append(kv, string(a.Key)+"="+a.Value.String())
					}
					points = append(points, strings.Join(kv, " ")+" "+strconv.FormatInt(p.Value, 10))
				}
			}
		}
	}
	sort.Strings(points)
	want := []string{
		"code=insufficient_scope keyward.auth_method=jwt keyward.route=/keyward.test.v1.Bookings/Create outcome=refused 1",
		"keyward.auth_method=jwt keyward.route=/keyward.test.v1.BookingFeeds/List outcome=allowed 1",
		"keyward.auth_method=jwt keyward.route=/keyward.test.v1.Bookings/List outcome=allowed 2",
	}
	if strings.Join(points, "\n") != strings.Join(want, "\n") {
		t.Errorf("keyward.requests\n%s\nwant\n%s", strings.Join(points, "\n"), strings.Join(want, "\n"))
	}

	var routes []string
	for _, s := range spans.Ended() {
		if s.Name() != "keyward.authenticate" {
			continue
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "keyward.route" {
				routes = append(routes, kv.Value.AsString())
			}
		}
	}
	sort.Strings(routes)
	wantRoutes := "/keyward.test.v1.BookingFeeds/List /keyward.test.v1.Bookings/Create /keyward.test.v1.Bookings/List /keyward.test.v1.Bookings/List"
	if strings.Join(routes, " ") != wantRoutes {
		t.Errorf("span routes %v; want %s", routes, wantRoutes)
	}
}
