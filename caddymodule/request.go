package caddymodule

import (
	"net/http"
	"strings"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// Form parameters and values of the token request.
const (
	paramGrantType           = "grant_type"
	paramScope               = "scope"
	paramClientAssertion     = "client_assertion"
	paramClientAssertionType = "client_assertion_type"
	paramHMSApplicationID    = "hms_application_id"

	grantClientCredentials = "client_credentials"
	assertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Flows, as `{sinch_hms.flow}` names them.
const (
	flowClientAssertion = "client_assertion"
	flowBearer          = "bearer"
)

// tokenRequest is a token request whose caller has been authenticated.
type tokenRequest struct {
	form           oauthresp.Form
	flow           string
	applicationKey string // Sinch Application Key (Alt B only)
	clientID       string // OAuth client of the bearer token (Alt A only)
	hmsAppID       string
	app            *hmsApp
}

// authorize parses the token request and authenticates its caller. The
// order of checks follows the contract's error table: method, encoding,
// grant type, one credential, scope, then the credential itself.
func (h *Handler) authorize(r *http.Request, d *decision) (*tokenRequest, *oauthresp.Error) {
	if r.Method != http.MethodPost {
		return nil, withReason(oauthresp.NewError(http.StatusMethodNotAllowed, oauthresp.ErrInvalidRequest,
			"the token endpoint accepts POST only").WithHeader("Allow", http.MethodPost), reasonMethod)
	}
	form, oerr := oauthresp.ParseForm(r, oauthresp.DefaultMaxBodyBytes)
	if oerr != nil {
		return nil, formReason(oerr)
	}
	if oerr := checkGrantType(form); oerr != nil {
		return nil, oerr
	}
	bearer, hasBearer := bearerToken(r)
	hasAssertion := form.Has(paramClientAssertion) || form.Has(paramClientAssertionType)
	switch {
	case hasAssertion && hasBearer:
		return nil, withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidRequest,
			"a request carries either a client assertion or a bearer token, not both"), reasonBothCredentials)
	case !hasAssertion && !hasBearer:
		oerr := oauthresp.NewError(http.StatusUnauthorized, oauthresp.ErrInvalidClient,
			"no client authentication: send a client_assertion (or a bearer token if Alt A is configured)")
		if h.Bearer != nil {
			// RFC 6750 §3: a request without credentials to a resource that
			// takes bearer tokens is answered with the Bearer challenge.
			oerr.WithHeader("WWW-Authenticate", "Bearer")
		}
		return nil, withReason(oerr, reasonNoCredentials)
	}
	d.setFlow(hasBearer)
	if oerr := checkScope(form); oerr != nil {
		return nil, oerr
	}
	if hasBearer {
		return h.authorizeBearer(r, form, bearer)
	}
	return h.authorizeAssertion(r, form, d)
}

func checkGrantType(form oauthresp.Form) *oauthresp.Error {
	gt := form.Get(paramGrantType)
	switch {
	case gt == "":
		return withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidRequest, "grant_type is missing"), reasonMissingParameter)
	case gt != grantClientCredentials:
		return withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrUnsupportedGrantType,
			"grant_type must be client_credentials"), reasonGrantType)
	}
	return nil
}

// checkScope accepts an absent scope parameter or exactly the Huawei push
// scope.
func checkScope(form oauthresp.Form) *oauthresp.Error {
	if !form.Has(paramScope) {
		return nil
	}
	if strings.TrimSpace(form.Get(paramScope)) != sinchauth.HuaweiPushScope {
		return withReason(oauthresp.NewError(http.StatusBadRequest, oauthresp.ErrInvalidScope,
			"scope must be %s", sinchauth.HuaweiPushScope), reasonRequestScope)
	}
	return nil
}

// bearerToken returns the RFC 6750 §2.1 bearer token of the request, if
// its Authorization header uses the Bearer scheme.
func bearerToken(r *http.Request) (string, bool) {
	auth := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}
