package caddymodule

import (
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// Retry-After values when no better one is known.
const (
	retryAfterUpstream    = 10 * time.Second
	retryAfterReplayStore = 5 * time.Second
)

// answer writes the cached (or freshly fetched) Huawei token for the
// authenticated request's HMS application.
func (h *Handler) answer(w http.ResponseWriter, r *http.Request, d *decision, req *tokenRequest) error {
	res, err := req.app.cache.Get(r.Context(), req.app.id, req.app.fetcher)
	h.countCache(req.app, res, err)
	if err != nil {
		return h.refuse(w, r, d, upstreamError(err, req))
	}
	h.accepted(d, outcomeIssued, &res.Source)
	body, err := req.app.answers.Body(res.Token.AccessToken, oauthresp.ExpiresIn(res.Token.ExpiresAt, h.now()))
	if err != nil {
		return err
	}
	return oauthresp.WriteTokenBody(w, body)
}

// upstreamError maps a failed Huawei fetch to its OAuth answer: Huawei
// refusing the App ID or secret is the operator's problem (502
// server_error); anything else is transient (503 temporarily_unavailable
// with Retry-After).
func upstreamError(err error, req *tokenRequest) *oauthresp.Error {
	if tokencache.KindOf(err) == tokencache.KindRejected {
		oerr := oauthresp.NewError(http.StatusBadGateway, oauthresp.ErrServerError,
			"Huawei rejected the credentials of HMS application %s%s: check its App ID and App secret",
			req.hmsAppID, upstreamCode(err))
		oerr.Reason = reasonHuaweiRejected
		return oerr
	}
	oerr := oauthresp.NewError(http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable,
		"no Huawei token available for HMS application %s right now; try again later", req.hmsAppID)
	oerr.RetryAfter = max(tokencache.RetryAfterOf(err), retryAfterUpstream)
	oerr.Reason = reasonHuaweiUnavailable
	return oerr
}

func upstreamCode(err error) string {
	var ue *tokencache.UpstreamError
	if errors.As(err, &ue) && ue.Code != "" {
		return " (Huawei error " + ue.Code + ")"
	}
	return ""
}

// refuse logs a refused request, counts it, and writes its OAuth error.
// Rejections of the caller are warnings; failures of our own side are
// errors. The line names the flow and who the caller is or, for a rejected
// assertion, claims to be (verified=false), and the nonce only by its hash.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, d *decision, oerr *oauthresp.Error, fields ...zap.Field) error {
	h.countRefusal(d, oerr)
	logRefusal(h.logger, "token request", r, oerr, append(fields, d.fields()...)...)
	return oauthresp.WriteError(w, oerr)
}

// withReason labels an OAuth error with its bounded reason.
func withReason(oerr *oauthresp.Error, reason string) *oauthresp.Error {
	oerr.Reason = reason
	return oerr
}

// logRefusal writes the one log line of a refused request, for every
// handler of the module: at warn when the caller is at fault, at error when
// our side is (Huawei, Google, the replay store). The description never
// holds a secret, a token or an assertion.
func logRefusal(logger *zap.Logger, subject string, r *http.Request, oerr *oauthresp.Error, fields ...zap.Field) {
	fields = append(fields,
		zap.Int("status", oerr.Status),
		zap.String("error", oerr.Code),
		zap.String("reason", oerr.Reason),
		zap.String("description", oerr.Description),
		zap.String("remote_ip", r.RemoteAddr))
	if oerr.Status >= 500 {
		logger.Error(subject+" failed", fields...)
	} else {
		logger.Warn(subject+" rejected", fields...)
	}
}
