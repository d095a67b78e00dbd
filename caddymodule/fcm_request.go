package caddymodule

import (
	"net/http"
	"strings"

	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// paramFCMProjectNumber names the Firebase project Sinch wants a token for.
const paramFCMProjectNumber = "fcm_project_number"

// authorize checks an FCM token request in the order of the contract's
// error table: method, encoding, grant type, credential shape, scope, the
// project parameter's presence, the bearer token, and only then whether the
// project is configured (so an unauthenticated caller cannot probe which
// projects are).
func (h *FCMHandler) authorize(r *http.Request) (*fcmProject, string, *oauthresp.Error) {
	if r.Method != http.MethodPost {
		return nil, "", oauthresp.NewError(http.StatusMethodNotAllowed, oauthresp.ErrInvalidRequest,
			"the token endpoint accepts POST only").WithHeader("Allow", http.MethodPost)
	}
	form, oerr := oauthresp.ParseForm(r, oauthresp.DefaultMaxBodyBytes)
	if oerr != nil {
		return nil, "", oerr
	}
	if oerr := checkGrantType(form); oerr != nil {
		return nil, "", oerr
	}
	token, hasBearer := bearerToken(r)
	switch {
	case form.Has(paramClientAssertion) || form.Has(paramClientAssertionType):
		return nil, "", withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidRequest,
			"FCM tokens are handed out for bearer tokens only, not client assertions"), "client_assertion_not_accepted")
	case !hasBearer:
		return nil, "", withReason(oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient,
			"no bearer token: send Authorization: Bearer <access token from your Authorization Server>"), "no_credentials").
			WithHeader("WWW-Authenticate", "Bearer")
	}
	if form.Has(paramScope) && strings.TrimSpace(form.Get(paramScope)) != fcmupstream.Scope {
		return nil, "", withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidScope,
			"scope must be %s", fcmupstream.Scope), "bad_scope")
	}
	number := form.Get(paramFCMProjectNumber)
	if number == "" {
		return nil, "", withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidRequest,
			"fcm_project_number is missing"), "missing_fcm_project_number")
	}
	p, oerr := verifyBearer(r.Context(), h.verifier, token)
	if oerr != nil {
		return nil, "", oerr
	}
	proj, ok := h.projects[number]
	if !ok {
		return nil, "", withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrUnauthorizedClient,
			"fcm_project_number %s is not a configured Firebase project", quoteID(number)), "unknown_fcm_project")
	}
	return proj, p.ClientID, nil
}
