package oauthserver

import (
	"net/http"

	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// Reason names why a token request was refused. The set is small and fixed:
// the glue uses it as a log field and a metric label, so request-controlled
// text never goes into one (that goes into the description).
type Reason string

// The refusals of the token endpoint. Some share their name (and their
// answer) with the other token endpoints of the module.
const (
	ReasonMissingParameter  Reason = "missing_parameter"      // grant_type absent
	ReasonGrantType         Reason = "unsupported_grant_type" // grant_type not client_credentials
	ReasonBothCredentials   Reason = "both_credentials"       // HTTP Basic and client_secret in the body
	ReasonClientIDMismatch  Reason = "client_id_mismatch"     // body client_id differs from the Basic user
	ReasonIncomplete        Reason = "incomplete_credentials" // client_id without client_secret, or the reverse
	ReasonNoCredentials     Reason = "no_credentials"         // no client authentication at all
	ReasonAuthScheme        Reason = "bad_auth_scheme"        // an Authorization scheme other than Basic
	ReasonMalformedBasic    Reason = "malformed_basic"        // undecodable HTTP Basic credentials
	ReasonClientCredentials Reason = "bad_client_credentials" // unknown client_id or wrong secret
	ReasonScope             Reason = "bad_request_scope"      // an empty scope, or one not allowed
	ReasonSignFailed        Reason = "sign_failed"            // the token could not be signed
	ReasonRateLimited       Reason = "rate_limited"           // too many failed authentications: no secret compared
	ReasonNoIssuer          Reason = "no_issuer"              // Token called without a configured issuer
)

// Refusal is a Reason with the status and OAuth error of its answer.
type Refusal struct {
	Reason Reason
	Status int
	Code   string
}

var refusals = []Refusal{
	{ReasonMissingParameter, http.StatusBadRequest, oauthresp.ErrInvalidRequest},
	{ReasonGrantType, http.StatusBadRequest, oauthresp.ErrUnsupportedGrantType},
	{ReasonBothCredentials, http.StatusBadRequest, oauthresp.ErrInvalidRequest},
	{ReasonClientIDMismatch, http.StatusBadRequest, oauthresp.ErrInvalidRequest},
	{ReasonIncomplete, http.StatusUnauthorized, oauthresp.ErrInvalidClient},
	{ReasonNoCredentials, http.StatusUnauthorized, oauthresp.ErrInvalidClient},
	{ReasonAuthScheme, http.StatusUnauthorized, oauthresp.ErrInvalidClient},
	{ReasonMalformedBasic, http.StatusUnauthorized, oauthresp.ErrInvalidClient},
	{ReasonClientCredentials, http.StatusUnauthorized, oauthresp.ErrInvalidClient},
	{ReasonScope, http.StatusBadRequest, oauthresp.ErrInvalidScope},
	{ReasonSignFailed, http.StatusInternalServerError, oauthresp.ErrServerError},
	{ReasonRateLimited, http.StatusTooManyRequests, oauthresp.ErrInvalidClient},
	{ReasonNoIssuer, http.StatusInternalServerError, oauthresp.ErrServerError},
}

// Reasons returns every refusal of the token endpoint.
func Reasons() []Refusal { return append([]Refusal(nil), refusals...) }

// refuse builds the answer of reason r; a 401 gets the Basic challenge
// (HTTP requires one on a 401, and RFC 6749 §5.2 this one when the client
// tried HTTP Basic).
func refuse(r Reason, format string, args ...any) *oauthresp.Error {
	for _, ref := range refusals {
		if ref.Reason == r {
			oerr := oauthresp.NewError(ref.Status, ref.Code, format, args...)
			oerr.Reason = string(r)
			if ref.Status == http.StatusUnauthorized {
				oerr.WithHeader("WWW-Authenticate", basicChallenge)
			}
			return oerr
		}
	}
	panic("oauthserver: refusal without an entry: " + string(r))
}
