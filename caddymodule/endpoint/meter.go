package endpoint

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// Metrics are built once, at package level, and registered in the metrics
// registry of every config load (Caddy makes a new registry per load), so
// that a reload neither panics on a duplicate registration nor resets a
// counter. Every label has a bounded set of values: flows, outcomes, the
// reasons of the refusal table, configured application IDs.
const metricsNamespace = "caddy"

// Request outcomes, the `outcome` label of the requests_total counters.
const (
	OutcomeIssued    = "issued"    // answered with a token
	OutcomeForwarded = "forwarded" // validated and passed on (sinch_hms forward mode)
	OutcomeRejected  = "rejected"  // refused with a 4xx: the caller's problem
	OutcomeFailed    = "failed"    // refused with a 5xx: our side's (upstream, replay store)
)

var outcomes = []string{OutcomeIssued, OutcomeForwarded, OutcomeRejected, OutcomeFailed}

// Meter holds the request and refusal counters of one module:
// caddy_<subsystem>_requests_total and caddy_<subsystem>_rejections_total.
type Meter struct {
	module   Module
	subject  string // what the log lines call a request
	flows    []string
	requests *prometheus.CounterVec
	refusals *prometheus.CounterVec
}

// NewMeter builds the counters of module m. flows are the values of the
// requests counter's flow label; none: it has only an outcome label.
func NewMeter(m Module, subsystem, subject, what string, flows ...string) *Meter {
	labels := []string{"outcome"}
	if len(flows) > 0 {
		labels = []string{"flow", "outcome"}
	}
	return &Meter{
		module:  m,
		subject: subject,
		flows:   flows,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: subsystem, Name: "requests_total",
			Help: what + " by outcome (issued, forwarded, rejected, failed).",
		}, labels),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: metricsNamespace, Subsystem: subsystem, Name: "rejections_total",
			Help: "Refused " + what + " by reason (the reason of the log line; see the refusal table).",
		}, []string{"reason"}),
	}
}

// Register registers the counters in this config's registry, if any, and
// creates every series at zero, so a rate() or an alert has a series to work
// on before the first event.
func (m *Meter) Register(ctx caddy.Context) error {
	if err := RegisterCollectors(ctx, m.requests, m.refusals); err != nil {
		return err
	}
	for _, o := range outcomes {
		if len(m.flows) == 0 {
			m.requests.WithLabelValues(o)
		}
		for _, f := range m.flows {
			m.requests.WithLabelValues(f, o)
		}
	}
	for _, r := range Of(m.module) {
		m.refusals.WithLabelValues(r.Reason)
	}
	return nil
}

func (m *Meter) count(flow, outcome string) {
	if len(m.flows) == 0 {
		m.requests.WithLabelValues(outcome).Inc()
		return
	}
	m.requests.WithLabelValues(flow, outcome).Inc()
}

// RegisterCollectors registers cs in this config's registry, if any,
// tolerating what an earlier config load registered.
func RegisterCollectors(ctx caddy.Context, cs ...prometheus.Collector) error {
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

// Recorder is how one provisioned handler counts, logs and answers the
// outcome of a request: the one way every module does it.
type Recorder struct {
	meter   *Meter // nil: metrics off (disable_metrics)
	subject string
	logger  *zap.Logger
}

// Recorder returns the recorder of a handler logging to logger; with
// metrics false it counts nothing.
func (m *Meter) Recorder(logger *zap.Logger, metrics bool) Recorder {
	rec := Recorder{subject: m.subject, logger: logger}
	if metrics {
		rec.meter = m
	}
	return rec
}

// Served counts a request that passed every check. Its log line, if any,
// is the module's (at debug or info: success is not news).
func (rec Recorder) Served(flow, outcome string) {
	if rec.meter != nil {
		rec.meter.count(flow, outcome)
	}
}

// Refuse counts a refused request, writes its one log line and answers with
// its OAuth error. The line is at warn when the caller is at fault, at error
// when our side is (Huawei, Google, the replay store); it holds the status,
// error, reason and description, the caller's address and fields, never a
// secret, a token or an assertion.
func (rec Recorder) Refuse(w http.ResponseWriter, r *http.Request, flow string, oerr *oauthresp.Error, fields ...zap.Field) error {
	reason := label(oerr)
	if m := rec.meter; m != nil {
		outcome := OutcomeRejected
		if oerr.Status >= 500 {
			outcome = OutcomeFailed
		}
		m.count(flow, outcome)
		m.refusals.WithLabelValues(reason).Inc()
	}
	fields = append(fields,
		zap.Int("status", oerr.Status),
		zap.String("error", oerr.Code),
		zap.String("reason", reason),
		zap.String("description", oerr.Description),
		zap.String("remote_ip", r.RemoteAddr))
	if oerr.Status >= 500 {
		rec.logger.Error(rec.subject+" failed", fields...)
	} else {
		rec.logger.Warn(rec.subject+" rejected", fields...)
	}
	return oauthresp.WriteError(w, oerr)
}
