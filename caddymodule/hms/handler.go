package hms

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// paramHMSApplicationID names the HMS application of an Alt A request.
const paramHMSApplicationID = "hms_application_id"

// ServeHTTP authenticates the token request, then answers with a Huawei
// token or, in forward mode, passes the request on. The checks run in the
// order of the contract's error table: method, encoding, grant type, one
// credential, scope, then the credential itself.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	c := caller{flow: endpoint.FlowNone}
	form, oerr := endpoint.ParseTokenRequest(r)
	if oerr == nil {
		oerr = h.authenticate(r, form, &c)
	}
	if oerr != nil {
		return h.record.Refuse(w, r, c.flow, oerr, c.fields()...)
	}
	if h.Forward {
		h.accepted(&c, endpoint.OutcomeForwarded)
		return h.forward(w, r, next, form, &c)
	}
	res, err := c.app.tokens.Get(r.Context())
	if err != nil {
		return h.record.Refuse(w, r, c.flow, c.app.tokens.Refusal(err), c.fields()...)
	}
	h.accepted(&c, endpoint.OutcomeIssued, zap.Stringer("cache", res.Source))
	body, err := c.app.answers.Body(res.Token.AccessToken, oauthresp.ExpiresIn(res.Token.ExpiresAt, h.now()))
	if err != nil {
		return err
	}
	return oauthresp.WriteTokenBody(w, body)
}

// authenticate finds the request's one credential and checks it, filling
// in c: who the caller is, or (for a refused assertion) claims to be.
func (h *Handler) authenticate(r *http.Request, form oauthresp.Form, c *caller) *oauthresp.Error {
	token, hasBearer := endpoint.BearerToken(r)
	hasAssertion := endpoint.HasAssertion(form)
	switch {
	case hasAssertion && hasBearer:
		return endpoint.BothCredentials.New("a request carries either a client assertion or a bearer token, not both")
	case !hasAssertion && !hasBearer:
		oerr := endpoint.NoCredentials.New("no client authentication: send a client_assertion (or a bearer token if Alt A is configured)")
		if h.Bearer != nil {
			// RFC 6750 §3: a request without credentials to a resource that
			// takes bearer tokens is answered with the Bearer challenge.
			oerr.WithHeader("WWW-Authenticate", "Bearer")
		}
		return oerr
	}
	c.flow = endpoint.FlowClientAssertion
	if hasBearer {
		c.flow = endpoint.FlowBearer
	}
	if oerr := endpoint.CheckScope(form, sinchauth.HuaweiPushScope); oerr != nil {
		return oerr
	}
	if hasBearer {
		return h.authenticateBearer(r, form, token, c)
	}
	return h.authenticateAssertion(r, form, c)
}

// authenticateAssertion checks a Sinch client assertion (Alt B).
func (h *Handler) authenticateAssertion(r *http.Request, form oauthresp.Form, c *caller) *oauthresp.Error {
	switch {
	case !form.Has(endpoint.ParamClientAssertionType):
		return endpoint.MissingParameter.New("client_assertion_type is missing")
	case form.Get(endpoint.ParamClientAssertionType) != endpoint.AssertionTypeJWTBearer:
		return endpoint.AssertionType.New("client_assertion_type must be %s", endpoint.AssertionTypeJWTBearer)
	case form.Get(endpoint.ParamClientAssertion) == "":
		return endpoint.MissingParameter.New("client_assertion is missing")
	case h.validator == nil:
		return endpoint.AssertionNotConfigured.New("client assertions are not accepted here: this endpoint takes bearer tokens (Alt A) only")
	}
	audiences := h.Audiences
	if len(audiences) == 0 {
		audiences = ownAudience(r)
		h.warnCatchAll.Do(func() { h.warnIfCatchAll(r) })
	}
	a, err := h.validator.Validate(r.Context(), form.Get(endpoint.ParamClientAssertion), audiences)
	if err != nil {
		var ae *sinchauth.Error
		if errors.As(err, &ae) {
			c.claimed = ae.Claimed
		}
		return endpoint.Assertion(err)
	}
	c.verified = a
	c.hmsAppID, c.app = a.HMSApplicationID, h.apps[a.HMSApplicationID]
	return nil
}

// authenticateBearer checks a bearer token from the customer's own
// Authorization Server (Alt A) for the HMS application named by the
// request's hms_application_id. The parameter is checked for presence
// first (a malformed request), the token next, and only then whether the
// HMS application is configured, so that an unauthenticated caller cannot
// probe which HMS App IDs are. Without a bearer block, Alt A is off and a
// bearer token is not a way in.
func (h *Handler) authenticateBearer(r *http.Request, form oauthresp.Form, token string, c *caller) *oauthresp.Error {
	if h.bearer == nil {
		return endpoint.BearerNotConfigured.New("bearer tokens are not accepted here: this endpoint takes Sinch client assertions only")
	}
	id := form.Get(paramHMSApplicationID)
	if id == "" {
		return endpoint.MissingHMSAppID.New("hms_application_id is missing")
	}
	p, oerr := h.bearer.Verify(r.Context(), token)
	if oerr != nil {
		return oerr
	}
	app, ok := h.apps[id]
	if !ok {
		return endpoint.UnknownHMSApp.New("hms_application_id %s is not a configured HMS application", endpoint.QuoteID(id))
	}
	c.clientID, c.hmsAppID, c.app = p.ClientID, id, app
	return nil
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

// forward passes an authenticated request to the next handler with the
// sinch_hms placeholders set. Unless forward_credentials is on, the
// credential itself is not passed on: the client assertion is removed from
// the body and the Authorization header dropped, so the service behind
// Caddy never holds a usable credential. The body always names the HMS
// application as hms_application_id, whichever flow was used.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler, form oauthresp.Form, c *caller) error {
	if repl, ok := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		repl.Set("sinch_hms.flow", c.flow)
		repl.Set("sinch_hms.application_key", c.applicationKey())
		repl.Set("sinch_hms.hms_application_id", c.hmsAppID)
		repl.Set("sinch_hms.client_id", c.clientID)
		repl.Set("http.auth.user.id", c.hmsAppID)
	}
	out := make(oauthresp.Form, len(form)+1)
	for k, v := range form {
		if h.ForwardCredentials || (k != endpoint.ParamClientAssertion && k != endpoint.ParamClientAssertionType) {
			out[k] = v
		}
	}
	out[paramHMSApplicationID] = c.hmsAppID
	body := out.Encode()
	// A shallow copy, so that the request Caddy handed us keeps its body.
	r = r.WithContext(r.Context())
	if !h.ForwardCredentials {
		r.Header.Del("Authorization")
	}
	r.Body = io.NopCloser(strings.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	return next.ServeHTTP(w, r)
}

// caller is what a request's checks learn of who is asking: the flow, the
// verified assertion or bearer client, or what a refused assertion claims.
type caller struct {
	flow     string
	verified *sinchauth.Assertion // Alt B, accepted
	claimed  sinchauth.Unverified // Alt B, refused: unverified
	clientID string               // Alt A: the OAuth client of the bearer token
	hmsAppID string
	app      *hmsApp
}

func (c *caller) applicationKey() string {
	if c.verified != nil {
		return c.verified.ApplicationKey
	}
	return ""
}

// fields are the log fields of the caller: the flow, the application key
// and HMS App ID (verified or only claimed), the nonce only as its hash;
// never the assertion or a token.
func (c *caller) fields() []zap.Field {
	fs := []zap.Field{zap.String("flow", c.flow)}
	key, app, nonceHash := c.claimed.ApplicationKey, c.claimed.HMSApplicationID, c.claimed.NonceSHA256
	if c.verified != nil {
		key, app, nonceHash = c.verified.ApplicationKey, c.verified.HMSApplicationID, sinchauth.NonceHash(c.verified.Nonce)
	} else if c.hmsAppID != "" {
		app = c.hmsAppID
	}
	if key != "" {
		fs = append(fs, zap.String("application_key", key))
	}
	if app != "" {
		fs = append(fs, zap.String("hms_application_id", app))
	}
	if c.clientID != "" {
		fs = append(fs, zap.String("client_id", c.clientID))
	}
	if nonceHash != "" {
		fs = append(fs, zap.String("nonce_sha256", nonceHash))
	}
	if key != "" || app != "" {
		fs = append(fs, zap.Bool("verified", c.verified != nil || c.clientID != ""))
	}
	return fs
}

// accepted counts a request that passed every check and logs it at debug.
func (h *Handler) accepted(c *caller, outcome string, more ...zap.Field) {
	h.record.Served(c.flow, outcome)
	if ce := h.logger.Check(zap.DebugLevel, "token request accepted"); ce != nil {
		ce.Write(append(c.fields(), append([]zap.Field{zap.String("outcome", outcome)}, more...)...)...)
	}
}
