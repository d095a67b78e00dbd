package caddymodule

import (
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// flowNone labels a request refused before its credential was identified.
const flowNone = "none"

// Request outcomes, the `outcome` label of caddy_sinch_hms_requests_total.
const (
	outcomeIssued    = "issued"    // answered with a token
	outcomeForwarded = "forwarded" // validated and passed on (forward mode)
	outcomeRejected  = "rejected"  // refused with a 4xx: the caller's problem
	outcomeFailed    = "failed"    // refused with a 5xx: our side's (Huawei, replay store)
)

// decision gathers, while a request is checked, what its one log line and
// its metrics need: the flow and who the caller is (or claims to be).
// ServeHTTP makes one per request and passes it to the checks (rather than
// in the request's context, which would cost a copy of the request).
type decision struct {
	flow           string
	applicationKey string
	hmsAppID       string
	nonceSHA256    string // a rejected assertion's claimed nonce, hashed
	nonce          string // an accepted assertion's nonce: hashed only if logged
	trusted        bool   // false: the values above are only claimed
}

// newDecision returns the decision of a request not yet checked.
func newDecision() *decision { return &decision{flow: flowNone} }

func (d *decision) setFlow(bearer bool) {
	d.flow = flowClientAssertion
	if bearer {
		d.flow = flowBearer
	}
}

// claimed records what a rejected assertion claims: for the log line only.
func (d *decision) claimed(u sinchauth.Unverified) {
	d.applicationKey, d.hmsAppID, d.nonceSHA256, d.trusted = u.ApplicationKey, u.HMSApplicationID, u.NonceSHA256, false
}

// verified records the caller of an accepted assertion.
func (d *decision) verified(a *sinchauth.Assertion) {
	d.applicationKey, d.hmsAppID, d.nonce, d.trusted = a.ApplicationKey, a.HMSApplicationID, a.Nonce, true
}

// fields are the log fields of the decision. Never the nonce, the
// assertion or a token: the nonce only as its hash.
func (d *decision) fields() []zap.Field {
	fs := []zap.Field{zap.String("flow", d.flow)}
	if d.applicationKey != "" {
		fs = append(fs, zap.String("application_key", d.applicationKey))
	}
	if d.hmsAppID != "" {
		fs = append(fs, zap.String("hms_application_id", d.hmsAppID))
	}
	if d.nonceSHA256 == "" && d.nonce != "" {
		d.nonceSHA256 = sinchauth.NonceHash(d.nonce) // on the success path only when a line is written
	}
	if d.nonceSHA256 != "" {
		fs = append(fs, zap.String("nonce_sha256", d.nonceSHA256))
	}
	if d.applicationKey != "" || d.hmsAppID != "" {
		fs = append(fs, zap.Bool("verified", d.trusted))
	}
	return fs
}

// accepted logs (at debug) and counts a request that passed every check.
// src is where the token came from; nil in forward mode.
func (h *Handler) accepted(d *decision, outcome string, src *tokencache.Source) {
	h.countRequest(d.flow, outcome)
	if ce := h.logger.Check(zap.DebugLevel, "token request accepted"); ce != nil {
		fields := append(d.fields(), zap.String("outcome", outcome))
		if src != nil {
			fields = append(fields, zap.Stringer("cache", *src))
		}
		ce.Write(fields...)
	}
}

// countRefusal counts a refused request by flow, outcome and reason.
func (h *Handler) countRefusal(d *decision, oerr *oauthresp.Error) {
	if h.DisableMetrics {
		return
	}
	outcome := outcomeRejected
	if oerr.Status >= 500 {
		outcome = outcomeFailed
	}
	metricRequests.WithLabelValues(d.flow, outcome).Inc()
	metricRefusals.WithLabelValues(reasonLabel(oerr)).Inc()
}
