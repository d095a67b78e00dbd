package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// Metrics of sinch_fcm and sinch_oauth_server, built once and registered
// in every config load's registry like sinch_hms's (see metrics.go). Labels
// are bounded: outcomes, reasons named in code, configured project numbers.
var (
	metricFCMRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "sinch_fcm", Name: "requests_total",
		Help: "FCM token requests by outcome (issued, rejected, failed).",
	}, []string{"outcome"})

	metricFCMRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "sinch_fcm", Name: "rejections_total",
		Help: "Refused FCM token requests by reason.",
	}, []string{"reason"})

	metricGoogleFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "sinch_fcm", Name: "google_fetches_total",
		Help: "Token fetches from Google by Firebase project number and outcome (success, rejected, unavailable).",
	}, []string{"fcm_project", "outcome"})

	metricGoogleFetchSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: "sinch_fcm", Name: "google_fetch_duration_seconds",
		Help:    "Duration of token fetches from Google, by Firebase project number and outcome.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
	}, []string{"fcm_project", "outcome"})

	metricFCMCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "sinch_fcm", Name: "cache_requests_total",
		Help: "Google token cache look-ups by Firebase project number and result (hit, miss, stale).",
	}, []string{"fcm_project", "result"})

	metricASTokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "sinch_oauth_server", Name: "requests_total",
		Help: "Token requests to the embedded Authorization Server by outcome (issued, rejected, failed).",
	}, []string{"outcome"})

	metricASRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: "sinch_oauth_server", Name: "rejections_total",
		Help: "Refused token requests to the embedded Authorization Server by reason.",
	}, []string{"reason"})
)

// registerCollectors registers cs in this config's registry, if any,
// tolerating what an earlier config load registered.
func registerCollectors(ctx caddy.Context, cs ...prometheus.Collector) error {
	reg := ctx.GetMetricsRegistry()
	if reg == nil {
		return nil
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return fmt.Errorf("registering metrics: %w", err)
			}
		}
	}
	return nil
}

// outcomeOf names the outcome of an answered request by its status.
func outcomeOf(status int) string {
	switch {
	case status < 300:
		return outcomeIssued
	case status >= 500:
		return outcomeFailed
	}
	return outcomeRejected
}

// instrumentGoogle counts and times each Google fetch of a project.
func instrumentGoogle(number string, next tokencache.Fetcher) tokencache.Fetcher {
	for _, o := range fetchOutcomes {
		metricGoogleFetches.WithLabelValues(number, o)
	}
	for _, r := range cacheResults {
		metricFCMCache.WithLabelValues(number, r)
	}
	return tokencache.FetcherFunc(func(ctx context.Context) (tokencache.Token, error) {
		start := time.Now()
		tok, err := next.Fetch(ctx)
		outcome := fetchOutcome(err)
		metricGoogleFetches.WithLabelValues(number, outcome).Inc()
		metricGoogleFetchSeconds.WithLabelValues(number, outcome).Observe(time.Since(start).Seconds())
		return tok, err
	})
}

// countFCMCache counts one Google token cache look-up.
func countFCMCache(number string, res tokencache.Result, err error) {
	result := cacheMiss
	switch {
	case err != nil:
	case res.Source == tokencache.SourceCache:
		result = cacheHit
	case res.Source == tokencache.SourceStale:
		result = cacheStale
	}
	metricFCMCache.WithLabelValues(number, result).Inc()
}
