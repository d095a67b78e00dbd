package caddymodule

import (
	"net/http"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// authorizeBearer authenticates a bearer token from the customer's own
// Authorization Server (Alt A). Without a bearer configuration, Alt A is
// off and a bearer token is not a way in.
func (h *Handler) authorizeBearer(_ *http.Request, _ oauthresp.Form, _ string) (*tokenRequest, *oauthresp.Error) {
	return nil, withReason(oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient,
		"bearer tokens are not accepted here: this endpoint takes Sinch client assertions only"), "bearer_not_configured")
}
