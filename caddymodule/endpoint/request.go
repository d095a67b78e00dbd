package endpoint

import (
	"net/http"
	"strings"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// Form parameters and values of the token requests.
const (
	ParamGrantType           = "grant_type"
	ParamScope               = "scope"
	ParamClientAssertion     = "client_assertion"
	ParamClientAssertionType = "client_assertion_type"

	GrantClientCredentials = "client_credentials"
	AssertionTypeJWTBearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
)

// Flows, as `{sinch_hms.flow}` and the flow label name them.
const (
	FlowClientAssertion = "client_assertion"
	FlowBearer          = "bearer"
	FlowNone            = "none" // refused before its credential was identified
)

// Retry-After values when no better one is known.
const (
	RetryAfterUpstream      = 10 * time.Second
	RetryAfterReplayStore   = 5 * time.Second
	RetryAfterIntrospection = 5 * time.Second
)

// ParseTokenRequest runs the checks every client-credentials token request
// passes first, in the order of the contract's error table: POST, a
// form-encoded body within bounds, grant_type=client_credentials.
func ParseTokenRequest(r *http.Request) (oauthresp.Form, *oauthresp.Error) {
	if r.Method != http.MethodPost {
		return nil, MethodNotAllowed.New("the token endpoint accepts POST only").WithHeader("Allow", http.MethodPost)
	}
	form, oerr := oauthresp.ParseForm(r, oauthresp.DefaultMaxBodyBytes)
	if oerr != nil {
		return nil, FormError(oerr)
	}
	switch gt := form.Get(ParamGrantType); {
	case gt == "":
		return nil, MissingParameter.New("grant_type is missing")
	case gt != GrantClientCredentials:
		return nil, UnsupportedGrantType.New("grant_type must be client_credentials")
	}
	return form, nil
}

// HasAssertion reports whether the form carries a client assertion (or its
// type).
func HasAssertion(form oauthresp.Form) bool {
	return form.Has(ParamClientAssertion) || form.Has(ParamClientAssertionType)
}

// CheckScope accepts an absent scope parameter or exactly want.
func CheckScope(form oauthresp.Form, want string) *oauthresp.Error {
	if form.Has(ParamScope) && strings.TrimSpace(form.Get(ParamScope)) != want {
		return RequestScope.New("scope must be %s", want)
	}
	return nil
}

// BearerToken returns the RFC 6750 §2.1 bearer token of the request, if
// its Authorization header uses the Bearer scheme.
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// QuoteID renders a caller-chosen identifier for an error description:
// quoted, and cut short so a long one cannot bloat the answer or the log.
func QuoteID(s string) string { return quote.Text(s, 64) }
