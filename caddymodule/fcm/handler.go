package fcm

import (
	"net/http"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// paramFCMProjectNumber names the Firebase project Sinch wants a token for.
const paramFCMProjectNumber = "fcm_project_number"

// ServeHTTP authenticates the bearer token and answers with the project's
// Google token.
func (h *FCMHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	proj, clientID, oerr := h.authorize(r)
	if oerr != nil {
		return h.record.Refuse(w, r, "", oerr)
	}
	res, err := proj.Get(r.Context())
	if err != nil {
		return h.record.Refuse(w, r, "", proj.Refusal(err), zap.String("fcm_project_number", proj.ID()))
	}
	h.record.Served("", endpoint.OutcomeIssued)
	h.logger.Debug("token issued",
		zap.String("client_id", clientID),
		zap.String("fcm_project_number", proj.ID()),
		zap.Stringer("cache", res.Source))
	return oauthresp.WriteToken(w, res.Token.AccessToken, oauthresp.ExpiresIn(res.Token.ExpiresAt, h.now()))
}

// authorize checks an FCM token request in the order of the contract's
// error table: method, encoding, grant type, credential shape, scope, the
// project parameter's presence, the bearer token, and only then whether the
// project is configured (so an unauthenticated caller cannot probe which
// projects are).
func (h *FCMHandler) authorize(r *http.Request) (*endpoint.Upstream, string, *oauthresp.Error) {
	form, oerr := endpoint.ParseTokenRequest(r)
	if oerr != nil {
		return nil, "", oerr
	}
	token, hasBearer := endpoint.BearerToken(r)
	switch {
	case endpoint.HasAssertion(form):
		return nil, "", endpoint.AssertionNotAccepted.New("FCM tokens are handed out for bearer tokens only, not client assertions")
	case !hasBearer:
		return nil, "", endpoint.NoCredentials.New("no bearer token: send Authorization: Bearer <access token from your Authorization Server>").
			WithHeader("WWW-Authenticate", "Bearer")
	}
	if oerr := endpoint.CheckScope(form, fcmupstream.Scope); oerr != nil {
		return nil, "", oerr
	}
	number := form.Get(paramFCMProjectNumber)
	if number == "" {
		return nil, "", endpoint.MissingFCMProject.New("fcm_project_number is missing")
	}
	p, oerr := h.bearer.Verify(r.Context(), token)
	if oerr != nil {
		return nil, "", oerr
	}
	proj, ok := h.projects[number]
	if !ok {
		return nil, "", endpoint.UnknownFCMProject.New("fcm_project_number %s is not a configured Firebase project", endpoint.QuoteID(number))
	}
	return proj, p.ClientID, nil
}
