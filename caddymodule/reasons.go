package caddymodule

import (
	"net/http"
	"slices"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// Reasons the glue gives to the refusals it decides itself (the assertion
// checks have sinchauth's). Like sinchauth's, they are a fixed set: they
// become Prometheus label values and log fields, so request-controlled text
// never goes into one.
const (
	reasonMethod              = "method_not_allowed"
	reasonMalformedRequest    = "malformed_request" // Content-Type, encoding, repeated or too many parameters
	reasonBodyTooLarge        = "body_too_large"
	reasonMissingParameter    = "missing_parameter"
	reasonGrantType           = "unsupported_grant_type"
	reasonBothCredentials     = "both_credentials"
	reasonNoCredentials       = "no_credentials"
	reasonRequestScope        = "bad_request_scope" // the scope form parameter, not the assertion's claim
	reasonAssertionType       = "bad_assertion_type"
	reasonBearerNotConfigured = "bearer_not_configured"
	reasonHuaweiRejected      = "huawei_rejected"
	reasonHuaweiUnavailable   = "huawei_unavailable"
	reasonMissingHMSAppID     = "missing_hms_application_id"
	reasonUnknownHMSApp       = "unknown_hms_application"
	reasonBearerRejected      = "bearer_rejected"
	// bearerReasonPrefix marks bearerauth's reasons, which share names
	// (bad_signature, expired...) with sinchauth's.
	bearerReasonPrefix = "bearer_"
	// reasonOther stands for a reason missing from knownReasons, so that a
	// forgotten one can never widen the label set.
	reasonOther = "other"
)

// glueReasons are the reasons above; add a new one here too.
var glueReasons = []string{
	reasonMethod, reasonMalformedRequest, reasonBodyTooLarge, reasonMissingParameter,
	reasonGrantType, reasonBothCredentials, reasonNoCredentials, reasonRequestScope,
	reasonAssertionType, reasonBearerNotConfigured, reasonHuaweiRejected,
	reasonHuaweiUnavailable, reasonMissingHMSAppID, reasonUnknownHMSApp,
	reasonBearerRejected, reasonOther,
}

// knownReasons is every reason a refusal may carry: sinchauth's and ours.
func knownReasons() []string {
	out := slices.Clone(glueReasons)
	for _, r := range sinchauth.Reasons() {
		out = append(out, string(r))
	}
	for _, r := range bearerauth.Reasons() {
		out = append(out, bearerReasonPrefix+string(r))
	}
	return slices.Compact(slices.Sorted(slices.Values(out)))
}

var knownReasonSet = func() map[string]bool {
	m := make(map[string]bool)
	for _, r := range knownReasons() {
		m[r] = true
	}
	return m
}()

// reasonLabel is oerr's reason, or "other" if it is not a known one.
func reasonLabel(oerr *oauthresp.Error) string {
	if knownReasonSet[oerr.Reason] {
		return oerr.Reason
	}
	return reasonOther
}

// formReason labels an error of oauthresp.ParseForm, which knows nothing of
// reasons.
func formReason(oerr *oauthresp.Error) *oauthresp.Error {
	if oerr.Status == http.StatusRequestEntityTooLarge {
		return withReason(oerr, reasonBodyTooLarge)
	}
	return withReason(oerr, reasonMalformedRequest)
}
