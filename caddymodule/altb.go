package caddymodule

import (
	"errors"
	"net/http"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// authorizeAssertion authenticates a Sinch client assertion (Alt B).
func (h *Handler) authorizeAssertion(r *http.Request, form oauthresp.Form, d *decision) (*tokenRequest, *oauthresp.Error) {
	switch {
	case !form.Has(paramClientAssertionType):
		return nil, withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidRequest, "client_assertion_type is missing"), reasonMissingParameter)
	case form.Get(paramClientAssertionType) != assertionTypeJWTBearer:
		return nil, withReason(oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient,
			"client_assertion_type must be %s", assertionTypeJWTBearer), reasonAssertionType)
	case form.Get(paramClientAssertion) == "":
		return nil, withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidRequest, "client_assertion is missing"), reasonMissingParameter)
	}
	if h.validator == nil {
		return nil, withReason(oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient,
			"client assertions are not accepted here: this endpoint takes bearer tokens (Alt A) only"), "assertion_not_configured")
	}
	audiences := h.Audiences
	if len(audiences) == 0 {
		audiences = h.ownAudience(r)
	}
	a, err := h.validator.Validate(r.Context(), form.Get(paramClientAssertion), audiences)
	if err != nil {
		d.claimed(sinchauth.PeekUnverified(form.Get(paramClientAssertion)))
		return nil, assertionError(err)
	}
	d.verified(a)
	return &tokenRequest{
		form:           form,
		flow:           flowClientAssertion,
		applicationKey: a.ApplicationKey,
		hmsAppID:       a.HMSApplicationID,
		app:            h.hmsApps[a.HMSApplicationID],
	}, nil
}

// ownURL is the default audience built for one scheme, host and path.
type ownURL struct {
	tls        bool
	host, path string
	audiences  []string // {requestURL}
}

// ownAudience returns the request's own URL as the accepted audiences. A
// route answers on one URL, so the last one built is almost always the
// one wanted, and reusing it spares every request building it again.
func (h *Handler) ownAudience(r *http.Request) []string {
	tls, path := r.TLS != nil, r.URL.EscapedPath()
	if c := h.lastOwnURL.Load(); c != nil && c.tls == tls && c.host == r.Host && c.path == path {
		return c.audiences
	}
	c := &ownURL{tls: tls, host: r.Host, path: path, audiences: []string{requestURL(r)}}
	h.lastOwnURL.Store(c)
	return c.audiences
}

// assertionError maps a rejected assertion to its OAuth answer: an HMS
// application that is not configured here is unauthorized_client, a replay
// store that cannot answer is temporarily_unavailable (fail closed), and
// every other failure is invalid_client.
func assertionError(err error) *oauthresp.Error {
	var ae *sinchauth.Error
	if !errors.As(err, &ae) {
		return withReason(oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient, "client assertion rejected"), reasonOther)
	}
	var oerr *oauthresp.Error
	switch ae.Reason {
	case sinchauth.ReasonUnknownHMSApp:
		oerr = oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrUnauthorizedClient, "%s", ae.Detail)
	case sinchauth.ReasonReplayStore:
		oerr = oauthresp.NewError(http.StatusServiceUnavailable, oauthresp.ErrTemporarilyUnavailable,
			"the replay store cannot be reached; try again")
		oerr.RetryAfter = retryAfterReplayStore
	default:
		oerr = oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient,
			"client assertion rejected (%s): %s", ae.Reason, ae.Detail)
	}
	return withReason(oerr, string(ae.Reason))
}
