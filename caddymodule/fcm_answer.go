package caddymodule

import (
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// answer writes the project's cached (or freshly fetched) Google token.
func (h *FCMHandler) answer(w http.ResponseWriter, r *http.Request, proj *fcmProject, clientID string) error {
	res, err := proj.cache.Get(r.Context(), proj.number, proj.fetch)
	countFCMCache(proj.number, res, err)
	if err != nil {
		return h.refuse(w, r, googleError(err, proj.number), zap.String("fcm_project_number", proj.number))
	}
	h.logger.Debug("token issued",
		zap.String("client_id", clientID),
		zap.String("fcm_project_number", proj.number),
		zap.Stringer("cache", res.Source))
	metricFCMRequests.WithLabelValues(outcomeIssued).Inc()
	return oauthresp.WriteToken(w, res.Token.AccessToken, oauthresp.ExpiresIn(res.Token.ExpiresAt, h.now()))
}

// googleError maps a failed Google fetch like upstreamError does Huawei's:
// Google refusing the service-account key is the operator's problem (502
// server_error); anything else is transient (503 with Retry-After).
func googleError(err error, number string) *oauthresp.Error {
	if tokencache.KindOf(err) == tokencache.KindRejected {
		return withReason(oauthresp.NewError(http.StatusBadGateway, oauthresp.ErrServerError,
			"Google rejected the service-account key of Firebase project %s%s: check the key file",
			number, googleCode(err)), "google_rejected")
	}
	oerr := oauthresp.NewError(http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable,
		"no Google token available for Firebase project %s right now; try again later", number)
	oerr.RetryAfter = max(tokencache.RetryAfterOf(err), retryAfterUpstream)
	return withReason(oerr, "google_unavailable")
}

func googleCode(err error) string {
	var ue *tokencache.UpstreamError
	if errors.As(err, &ue) && ue.Code != "" {
		return " (" + ue.Code + ")"
	}
	return ""
}

// countRefusal counts a refused request by outcome and reason; errors
// without a reason come from form parsing.
func countRefusal(requests, refusals *prometheus.CounterVec, oerr *oauthresp.Error) {
	requests.WithLabelValues(outcomeOf(oerr.Status)).Inc()
	reason := oerr.Reason
	if reason == "" {
		reason = "malformed_request"
	}
	refusals.WithLabelValues(reason).Inc()
}

// refuse logs a refused request and writes its OAuth error.
func (h *FCMHandler) refuse(w http.ResponseWriter, r *http.Request, oerr *oauthresp.Error, fields ...zap.Field) error {
	countRefusal(metricFCMRequests, metricFCMRefusals, oerr)
	logRefusal(h.logger, "FCM token request", r, oerr, fields...)
	return oauthresp.WriteError(w, oerr)
}
