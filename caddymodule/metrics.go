package caddymodule

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// The collectors are built once, at package level, and registered in the
// metrics registry of every config load (Caddy makes a new registry per
// load). So a reload neither panics on a duplicate registration nor resets
// a counter: the same counters keep counting and the new registry shows
// them. Every label has a bounded set of values: flows, outcomes, reasons
// (knownReasons) and the configured HMS App IDs.
const metricsNamespace, metricsSubsystem = "caddy", "sinch_hms"

var (
	metricRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "requests_total",
		Help: "Token requests by flow (client_assertion, bearer, none) and outcome (issued, forwarded, rejected, failed).",
	}, []string{"flow", "outcome"})

	metricRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "rejections_total",
		Help: "Refused token requests by reason (the reason of the log line and error_description).",
	}, []string{"reason"})

	metricFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "huawei_fetches_total",
		Help: "Token fetches from Huawei by HMS App ID and outcome (success, rejected, unavailable).",
	}, []string{"hms_app", "outcome"})

	metricFetchSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "huawei_fetch_duration_seconds",
		Help:    "Duration of token fetches from Huawei, by HMS App ID and outcome.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10},
	}, []string{"hms_app", "outcome"})

	metricCache = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: metricsNamespace, Subsystem: metricsSubsystem, Name: "cache_requests_total",
		Help: "Token cache look-ups by HMS App ID and result (hit, miss, stale: the refresh failed and the old token was served).",
	}, []string{"hms_app", "result"})

	metricSecondsLeft = &secondsLeftCollector{desc: prometheus.NewDesc(
		prometheus.BuildFQName(metricsNamespace, metricsSubsystem, "token_seconds_left"),
		"Seconds of life left on the cached Huawei token of each HMS App ID (0: none cached).",
		[]string{"hms_app"}, nil)}
)

// Fetch outcomes and cache results, as label values.
const (
	fetchSuccess     = "success"
	fetchRejected    = "rejected"
	fetchUnavailable = "unavailable"
	cacheHit         = "hit"
	cacheMiss        = "miss"
	cacheStale       = "stale"
)

var (
	requestFlows    = []string{flowClientAssertion, flowBearer, flowNone}
	requestOutcomes = []string{outcomeIssued, outcomeForwarded, outcomeRejected, outcomeFailed}
	fetchOutcomes   = []string{fetchSuccess, fetchRejected, fetchUnavailable}
	cacheResults    = []string{cacheHit, cacheMiss, cacheStale}
)

// registerMetrics registers the collectors in this config's registry and
// creates every series of this handler at zero, so a rate() or an alert has
// a series to work on before the first event. With disable_metrics, or
// without a registry, it does nothing.
func (h *Handler) registerMetrics(ctx caddy.Context) error {
	reg := ctx.GetMetricsRegistry()
	if h.DisableMetrics || reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{metricRequests, metricRefusals, metricFetches, metricFetchSeconds, metricCache, metricSecondsLeft} {
		if err := reg.Register(c); err != nil {
			var already prometheus.AlreadyRegisteredError
			if !errors.As(err, &already) {
				return fmt.Errorf("sinch_hms: registering metrics: %w", err)
			}
		}
	}
	for _, f := range requestFlows {
		for _, o := range requestOutcomes {
			metricRequests.WithLabelValues(f, o)
		}
	}
	for _, r := range knownReasons() {
		metricRefusals.WithLabelValues(r)
	}
	for id, app := range h.hmsApps {
		for _, o := range fetchOutcomes {
			metricFetches.WithLabelValues(id, o)
		}
		for _, r := range cacheResults {
			metricCache.WithLabelValues(id, r)
		}
		app.cacheHits = metricCache.WithLabelValues(id, cacheHit)
	}
	h.issued = issuedCounters{
		assertion: metricRequests.WithLabelValues(flowClientAssertion, outcomeIssued),
		bearer:    metricRequests.WithLabelValues(flowBearer, outcomeIssued),
	}
	return nil
}

// issuedCounters are the series of the requests_total counter that every
// successful request adds to, looked up once at provision instead of per
// request (a look-up hashes the label values). Nil without metrics.
type issuedCounters struct {
	assertion, bearer prometheus.Counter
}

// countRequest counts one request by flow and outcome.
func (h *Handler) countRequest(flow, outcome string) {
	switch {
	case h.DisableMetrics:
	case outcome == outcomeIssued && flow == flowClientAssertion && h.issued.assertion != nil:
		h.issued.assertion.Inc()
	case outcome == outcomeIssued && flow == flowBearer && h.issued.bearer != nil:
		h.issued.bearer.Inc()
	default:
		metricRequests.WithLabelValues(flow, outcome).Inc()
	}
}

// forgetAppMetrics drops the series of an HMS App ID no live config has
// any more, so the hms_app label stays the configured set.
func forgetAppMetrics(appID string) {
	l := prometheus.Labels{"hms_app": appID}
	metricFetches.DeletePartialMatch(l)
	metricFetchSeconds.DeletePartialMatch(l)
	metricCache.DeletePartialMatch(l)
}

// countCache counts one token cache look-up.
func (h *Handler) countCache(app *hmsApp, res tokencache.Result, err error) {
	if h.DisableMetrics {
		return
	}
	if err == nil && res.Source == tokencache.SourceCache && app.cacheHits != nil {
		app.cacheHits.Inc() // the usual case, without a label look-up
		return
	}
	result := cacheMiss
	switch {
	case err != nil:
	case res.Source == tokencache.SourceCache:
		result = cacheHit
	case res.Source == tokencache.SourceStale:
		result = cacheStale
	}
	metricCache.WithLabelValues(app.id, result).Inc()
}

// countFetch counts one Huawei fetch and its duration.
func countFetch(appID, outcome string, took time.Duration) {
	metricFetches.WithLabelValues(appID, outcome).Inc()
	metricFetchSeconds.WithLabelValues(appID, outcome).Observe(took.Seconds())
}

// secondsLeftCollector reports, on each scrape, the life left on the cached
// token of every HMS application of the live configs with metrics on. It
// reads the caches then, so the value is never stale and nothing runs in
// the background.
type secondsLeftCollector struct{ desc *prometheus.Desc }

func (c *secondsLeftCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *secondsLeftCollector) Collect(ch chan<- prometheus.Metric) {
	for _, a := range liveApps() {
		if !a.metrics {
			continue
		}
		left := 0.0
		if tok, ok := a.app.cache.Peek(a.app.id); ok {
			left = max(tok.ExpiresAt.Sub(a.now()).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, left, a.app.id)
	}
}
