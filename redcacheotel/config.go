package redcacheotel

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// config is what the options set; the zero value is never used, see
// newConfig.
type config struct {
	tp    trace.TracerProvider
	mp    metric.MeterProvider
	attrs []attribute.KeyValue
	keys  bool
}

func newConfig(opts []Option) config {
	c := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for _, o := range opts {
		if o != nil {
			o.apply(&c)
		}
	}
	return c
}

// Option configures [New]. A nil Option is ignored.
type Option interface {
	apply(*config)
}

type option func(*config)

func (o option) apply(c *config) { o(c) }

// WithTracerProvider sets the provider of the tracer that makes the
// spans. Without it, the global provider (otel.GetTracerProvider) at the
// time of New is used.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return option(func(c *config) {
		if tp != nil {
			c.tp = tp
		}
	})
}

// WithMeterProvider sets the provider of the meter that makes the
// instruments. Without it, the global provider (otel.GetMeterProvider)
// at the time of New is used.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return option(func(c *config) {
		if mp != nil {
			c.mp = mp
		}
	})
}

// WithAttributes adds attrs to every span and every measurement, for
// example the service's or the tenant's name. Keep them few and of few
// values: each distinct set is a time series of its own.
func WithAttributes(attrs ...attribute.KeyValue) Option {
	return option(func(c *config) { c.attrs = append(c.attrs, attrs...) })
}

// WithKeys puts the Redis key of each step on its span, as the
// attribute redcache.key. It is off by default: a key holds the
// function's encoded arguments, which may be personal data (an e-mail
// address, a user's ID). Keys never go on metrics.
func WithKeys(on bool) Option {
	return option(func(c *config) { c.keys = on })
}
