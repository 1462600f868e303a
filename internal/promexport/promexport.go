// Package promexport serves Keyward's OpenTelemetry metrics in the
// Prometheus text format, for the programs of this module: keyward serve
// (-metrics-addr) and the example servers. Keyward's library packages only
// use the OpenTelemetry API; this exporter is the programs' choice, and only
// they depend on it.
package promexport

import (
	"context"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
)

// Metrics is an OpenTelemetry MeterProvider whose metrics Handler serves in
// the Prometheus text format, through OpenTelemetry's Prometheus exporter and
// a registry of its own.
type Metrics struct {
	// Provider is the MeterProvider to give dualauth.Config.MeterProvider.
	Provider *sdkmetric.MeterProvider
	// Handler answers GET /metrics.
	Handler http.Handler
}

// New returns a MeterProvider exported in the Prometheus format. Metric
// names lose their dots and gain their unit and _total suffixes
// (keyward.requests is keyward_requests_total); the instrumentation scope
// and resource labels are left out, so that the output stays short.
func New() (*Metrics, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, err
	}
	return &Metrics{
		Provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		Handler:  promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
	}, nil
}

// Shutdown stops the MeterProvider.
func (m *Metrics) Shutdown(ctx context.Context) error { return m.Provider.Shutdown(ctx) }
