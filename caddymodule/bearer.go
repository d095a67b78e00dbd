package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// retryAfterIntrospection is the Retry-After of an answer refused because
// the introspection endpoint failed.
const retryAfterIntrospection = 5 * time.Second

// provisionBearer builds the Alt A verifier, if Alt A is configured.
func (h *Handler) provisionBearer(ctx caddy.Context) error {
	if h.Bearer == nil {
		return nil
	}
	v, err := h.Bearer.provision(ctx)
	if err != nil {
		return fmt.Errorf("sinch_hms: %w", err)
	}
	h.bearer = v
	return nil
}

// authorizeBearer authenticates a bearer token from the customer's own
// Authorization Server (Alt A) for the HMS application named by the
// request's hms_application_id. The parameter is checked for presence
// first (a malformed request), the token next, and only then whether the
// HMS application is configured, so that an unauthenticated caller cannot
// probe which HMS App IDs are. Without a bearer configuration, Alt A is
// off and a bearer token is not a way in.
func (h *Handler) authorizeBearer(r *http.Request, form oauthresp.Form, token string) (*tokenRequest, *oauthresp.Error) {
	if h.bearer == nil {
		return nil, withReason(oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient,
			"bearer tokens are not accepted here: this endpoint takes Sinch client assertions only"), reasonBearerNotConfigured)
	}
	id := form.Get(paramHMSApplicationID)
	if id == "" {
		return nil, withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidRequest,
			"hms_application_id is missing"), reasonMissingHMSAppID)
	}
	p, oerr := verifyBearer(r.Context(), h.bearer, token)
	if oerr != nil {
		return nil, oerr
	}
	app, ok := h.hmsApps[id]
	if !ok {
		return nil, withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrUnauthorizedClient,
			"hms_application_id %s is not a configured HMS application", quoteID(id)), reasonUnknownHMSApp)
	}
	return &tokenRequest{form: form, flow: flowBearer, clientID: p.ClientID, hmsAppID: id, app: app}, nil
}

// verifyBearer checks token with v and maps a refusal to its RFC 6750
// answer. It is shared by every handler that takes Alt A bearer tokens.
func verifyBearer(ctx context.Context, v bearerauth.Verifier, token string) (*bearerauth.Principal, *oauthresp.Error) {
	p, err := v.Verify(ctx, token)
	if err != nil {
		return nil, bearerError(err)
	}
	return p, nil
}

// bearerError maps a refused bearer token to its answer (RFC 6750 §3.1):
// 401 invalid_token with a Bearer challenge, also for a token without a
// required scope (the contract's table has one answer for every bad token;
// the description names the missing scope); and 503
// temporarily_unavailable when the introspection endpoint failed, which is
// not the caller's fault.
func bearerError(err error) *oauthresp.Error {
	reason := bearerauth.ReasonOf(err)
	detail := "the bearer token was refused"
	var e *bearerauth.Error
	if errors.As(err, &e) && e.Detail != "" {
		detail = fmt.Sprintf("bearer token rejected (%s): %s", e.Reason, e.Detail)
	}
	var oerr *oauthresp.Error
	switch reason {
	case bearerauth.ReasonIntrospection:
		oerr = oauthresp.NewError(http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable,
			"the token introspection endpoint cannot be reached; try again")
		oerr.RetryAfter = retryAfterIntrospection
	default:
		oerr = oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidToken, "%s", detail)
		oerr.WithHeader("WWW-Authenticate", oauthresp.BearerChallenge(oauthresp.ErrInvalidToken, oerr.Description))
	}
	if reason == "" {
		return withReason(oerr, reasonBearerRejected)
	}
	return withReason(oerr, bearerReasonPrefix+string(reason))
}

// quoteID renders a caller-chosen identifier for an error description:
// quoted, and cut short so a long one cannot bloat the answer or the log.
func quoteID(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
