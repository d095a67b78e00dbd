package caddymodule

import (
	"errors"
	"net/http"
	"slices"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

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
		audiences = ownAudience(r)
		h.warnCatchAll.Do(func() { h.warnIfCatchAll(r) })
	}
	a, err := h.validator.Validate(r.Context(), form.Get(paramClientAssertion), audiences)
	if err != nil {
		if ae, ok := err.(*sinchauth.Error); ok {
			d.claimed(ae.Claimed)
		}
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

// ownAudience is the default accepted audience: the URL the request was
// sent to (scheme, host and path). The path is the one Caddy received,
// before handle_path or uri strip_prefix rewrote it (Caddy keeps that URL
// for this; rewrites do not change the scheme or host).
func ownAudience(r *http.Request) []string {
	path := r.URL.EscapedPath()
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok && orig.URL != nil {
		path = orig.URL.EscapedPath()
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return []string{scheme + "://" + r.Host + path}
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

// warnIfCatchAll warns, once per handler, when the default audience is in
// use on a route that no host matcher guards: there the audience follows
// the request's Host header, which the caller chooses, so it binds the
// assertion to nothing. (A handler cannot see its routes at provision;
// the first request finds them through its server.)
func (h *Handler) warnIfCatchAll(r *http.Request) {
	srv, ok := r.Context().Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	if !ok {
		return
	}
	hosted, found := routesGuardHost(srv.Routes, h, false)
	if found && !hosted {
		h.logger.Warn("audience is not set and this site has no host: the default audience follows the request's Host header, " +
			"so any host name is accepted; set audience to the token URL entered in the Sinch Dashboard")
	}
}

// routesGuardHost looks for target in routes and the subroutes below them,
// and reports whether some route on the way to it matches on host.
func routesGuardHost(routes caddyhttp.RouteList, target caddyhttp.MiddlewareHandler, hosted bool) (guarded, found bool) {
	for _, rt := range routes {
		here := hosted || matchesHost(rt.MatcherSets)
		for _, mh := range rt.Handlers {
			if mh == target {
				return here, true
			}
			if sub, ok := mh.(*caddyhttp.Subroute); ok {
				if g, f := routesGuardHost(sub.Routes, target, here); f {
					return g, true
				}
			}
		}
	}
	return false, false
}

// matchesHost reports whether every matcher set holds a host matcher (a
// route with one set lacking it can be reached under any host).
func matchesHost(sets caddyhttp.MatcherSets) bool {
	if len(sets) == 0 {
		return false
	}
	for _, set := range sets {
		if !slices.ContainsFunc(set, func(m any) bool { _, ok := m.(*caddyhttp.MatchHost); return ok }) {
			return false
		}
	}
	return true
}
