// Package hms is the sinch_hms Caddy module: the customer-side token
// endpoint of Sinch's Huawei OAuth 2.0 flow (module.go: the module and its
// provisioning; handler.go: a request's whole path, beside ServeHTTP;
// caddyfile.go; huawei.go: the pooled Huawei state; admin.go: the
// admin.api.sinch_hms routes; command.go and check.go: the
// sinch-hms-assertion CLI command). What it shares with sinch_fcm and
// sinch_oauth_server is in package endpoint.
package hms

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// defaultMaxAssertionLifetime is max_assertion_lifetime's default.
const defaultMaxAssertionLifetime = time.Hour

// Handler is the customer-side endpoint of Sinch's Huawei OAuth 2.0 flow.
// Sinch POSTs a client-credentials token request to it, authenticated by a
// client assertion JWT signed with a key derived from the Sinch Application
// Secret ("Alt B"), or by a bearer access token from the customer's own
// Authorization Server ("Alt A", see BearerConfig). The handler checks the
// credential at the edge and answers
// with a Huawei Push Kit (HMS) access token, fetched from Huawei with the
// HMS App ID and App secret configured here and cached until shortly before
// it expires.
//
// In forward mode it only validates, then passes the request to the next
// handler with these placeholders set:
//
// Placeholder | Description
// ------------|-------------
// `{sinch_hms.flow}` | `client_assertion` or `bearer`
// `{sinch_hms.application_key}` | the Sinch Application Key (Alt B)
// `{sinch_hms.hms_application_id}` | the HMS App ID the token is for
// `{sinch_hms.client_id}` | the OAuth client of the bearer token (Alt A)
// `{http.auth.user.id}` | the HMS App ID as well
type Handler struct {
	// SinchApplications are the Sinch applications whose client assertions
	// are accepted. Several secrets for one application allow rotation.
	SinchApplications []SinchApplication `json:"sinch_applications,omitempty"`

	// Audiences are the accepted `aud` values of a client assertion: the
	// token endpoint URL as entered in the Sinch Dashboard. Default: the URL
	// of the request itself (scheme, host and path), which is right unless a
	// proxy in front of Caddy changes the scheme, host or path.
	Audiences []string `json:"audiences,omitempty"`

	// ClockSkew is the leeway allowed on `iat`, `exp` and `nbf`. Default: 60s.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`

	// MaxAssertionLifetime is the longest `exp - iat` accepted. Default: 1h;
	// at most 24h.
	MaxAssertionLifetime caddy.Duration `json:"max_assertion_lifetime,omitempty"`

	// ReplayStore remembers the nonces of accepted assertions.
	// Default: memory (one Caddy instance); `redis` when several instances
	// serve the endpoint (fails closed with 503 while Redis is down).
	ReplayStore *endpoint.StoreConfig `json:"replay_store,omitempty"`

	// Bearer turns on Alt A: bearer access tokens from the customer's own
	// OAuth 2.0 Authorization Server, sent with `hms_application_id`.
	// Absent: Alt A is off and a bearer token is refused.
	Bearer *endpoint.BearerConfig `json:"bearer,omitempty"`

	// HMSApplications are the Huawei applications tokens are handed out
	// for; an assertion's `sub` must name one of them.
	HMSApplications []HMSApplication `json:"hms_applications,omitempty"`

	// HuaweiTokenURL is Huawei's OAuth 2.0 token endpoint.
	// Default: https://oauth-login.cloud.huawei.com/oauth2/v3/token
	HuaweiTokenURL string `json:"huawei_token_url,omitempty"`

	// RefreshBefore is how long before expiry a cached Huawei token is
	// refreshed. Default: 5m.
	RefreshBefore caddy.Duration `json:"refresh_before,omitempty"`

	// TokenStore is where Huawei tokens are cached. Default: memory;
	// `redis` shares one token, sealed, between instances.
	TokenStore *endpoint.StoreConfig `json:"token_store,omitempty"`

	// Forward makes the handler validate only and pass the request on to
	// the next handler, with the placeholders above set, instead of
	// answering with a token.
	Forward bool `json:"forward,omitempty"`

	// ForwardCredentials, in forward mode, passes the caller's credential
	// (the client assertion, or the Authorization header) on to the next
	// handler. Default: off; the credential is removed.
	ForwardCredentials bool `json:"forward_credentials,omitempty"`

	// DisableMetrics turns off this handler's caddy_sinch_hms_* Prometheus
	// metrics. Default: on (they are served by the admin endpoint's
	// /metrics).
	DisableMetrics bool `json:"disable_metrics,omitempty"`

	validator    *sinchauth.Validator
	bearer       *endpoint.Bearer // nil: Alt A off
	apps         map[string]*hmsApp
	record       endpoint.Recorder
	warnCatchAll *sync.Once // see warnIfCatchAll; set in Provision
	logger       *zap.Logger
	now          func() time.Time
	holds        endpoint.Holds
}

// hmsApp is one provisioned HMS application: its pooled state, and the
// encoded answer, reused while the token and expires_in stay the same.
type hmsApp struct {
	tokens  *endpoint.Upstream
	answers oauthresp.TokenBodyCache
}

// SinchApplication is one Sinch application allowed to ask for tokens.
type SinchApplication struct {
	// ApplicationKey is the Sinch Application Key (a UUID).
	ApplicationKey string `json:"application_key,omitempty"`
	// Secrets are the Sinch Application Secrets, standard base64; write them
	// as `{env.NAME}` or `{file./path}` placeholders. Several during rotation.
	Secrets []string `json:"secrets,omitempty"`
}

// HMSApplication is one Huawei application whose tokens are handed out.
type HMSApplication struct {
	// AppID is the HMS App ID (Huawei's OAuth client_id).
	AppID string `json:"app_id,omitempty"`
	// AppSecret is the HMS App secret; write it as a placeholder.
	AppSecret string `json:"app_secret,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (Handler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sinch_hms",
		New: func() caddy.Module { return new(Handler) },
	}
}

// Provision resolves secrets, builds the validator and attaches the token
// caches, which live in a UsagePool so that they survive config reloads.
func (h *Handler) Provision(ctx caddy.Context) error {
	if h.logger == nil { // a test may set its own
		h.logger = ctx.Logger()
	}
	h.warnCatchAll = new(sync.Once)
	if h.now == nil {
		h.now = testhook.Clock()
	}
	h.record = meter.Recorder(h.logger, !h.DisableMetrics)
	if err := h.Validate(); err != nil {
		return err
	}
	if !h.DisableMetrics {
		if err := errors.Join(meter.Register(ctx), huawei.Register(ctx)); err != nil {
			return err
		}
	}
	if err := h.provisionHMS(); err != nil {
		return err
	}
	if h.Bearer != nil {
		b, err := h.Bearer.Provision(ctx)
		if err != nil {
			return err
		}
		h.bearer = b
	}
	if len(h.SinchApplications) > 0 { // else Alt A only
		if err := h.provisionValidator(); err != nil {
			return err
		}
	}
	ups := make([]*endpoint.Upstream, 0, len(h.apps))
	for _, app := range h.apps {
		ups = append(ups, app.tokens)
	}
	endpoint.Publish(h, ups...)
	return nil
}

// Validate checks the configuration without changing it. Provision calls
// it first too, so that a missing application is reported as such rather
// than as whatever breaks next.
func (h *Handler) Validate() error {
	if len(h.SinchApplications) == 0 && h.Bearer == nil {
		return errNoCredential
	}
	if h.ForwardCredentials && !h.Forward {
		return errors.New("forward_credentials needs forward")
	}
	if h.Bearer != nil {
		if err := h.Bearer.Validate(); err != nil {
			return err
		}
	}
	if len(h.HMSApplications) == 0 {
		return errNoHMSApp
	}
	if time.Duration(h.ClockSkew) < 0 || time.Duration(h.MaxAssertionLifetime) < 0 || time.Duration(h.RefreshBefore) < 0 {
		return errors.New("durations must not be negative")
	}
	if life := time.Duration(h.MaxAssertionLifetime); life > sinchauth.MaxLifetimeCeiling {
		return fmt.Errorf("max_assertion_lifetime is %v: at most %v is accepted", life, sinchauth.MaxLifetimeCeiling)
	}
	if err := endpoint.CheckHTTPURL(h.HuaweiTokenURL); err != nil {
		return fmt.Errorf("huawei_token_url: %w", err)
	}
	if err := h.ReplayStore.Validate(); err != nil {
		return fmt.Errorf("replay_store: %w", err)
	}
	if err := h.TokenStore.Validate(); err != nil {
		return fmt.Errorf("token_store: %w", err)
	}
	return nil
}

// The configs that could never hand out a token; UnmarshalCaddyfile says
// the same with the directive's line.
var (
	errNoCredential = errors.New("no sinch_application (Alt B) and no bearer (Alt A) configured: Sinch could not authenticate")
	errNoHMSApp     = errors.New("no hms_application configured: there would be no token to hand out")
)

// Cleanup releases this instance's hold on the pooled state.
func (h *Handler) Cleanup() error {
	endpoint.Unpublish(h)
	return h.holds.Release()
}

// provisionHMS resolves the HMS secrets and attaches the pooled state of
// each HMS application, with this config's fetch chain: the Redis token
// store (when configured) in front of the instrumented Huawei call, so only
// real Huawei calls are counted. The pooled refresher uses the newest
// config's chain too.
func (h *Handler) provisionHMS() error {
	h.apps = make(map[string]*hmsApp, len(h.HMSApplications))
	for i, app := range h.HMSApplications {
		if app.AppID == "" {
			return fmt.Errorf("hms_applications[%d]: app_id is empty", i)
		}
		if _, dup := h.apps[app.AppID]; dup {
			return fmt.Errorf("hms_application %q configured twice", app.AppID)
		}
		secret, err := endpoint.ResolveSecret(app.AppSecret)
		if err != nil {
			return fmt.Errorf("hms_application %q: app secret: %w", app.AppID, err)
		}
		tokens, err := h.loadHuawei(app.AppID, secret)
		if err != nil {
			return fmt.Errorf("hms_application %q: %w", app.AppID, err)
		}
		h.apps[app.AppID] = &hmsApp{tokens: tokens}
	}
	return nil
}

// provisionValidator resolves and decodes the Sinch secrets and builds the
// Alt B validator on the pooled replay store.
func (h *Handler) provisionValidator() error {
	apps := make(map[string][][]byte, len(h.SinchApplications))
	for i, app := range h.SinchApplications {
		if app.ApplicationKey == "" {
			return fmt.Errorf("sinch_applications[%d]: application_key is empty", i)
		}
		if len(app.Secrets) == 0 {
			return fmt.Errorf("sinch_application %q: no secret", app.ApplicationKey)
		}
		for j, raw := range app.Secrets {
			secret, err := decodeSinchSecret(raw)
			if err != nil {
				return fmt.Errorf("sinch_application %q: secret #%d: %w", app.ApplicationKey, j+1, err)
			}
			apps[app.ApplicationKey] = append(apps[app.ApplicationKey], secret)
		}
	}
	hmsIDs := make(map[string]bool, len(h.apps))
	for id := range h.apps {
		hmsIDs[id] = true
	}
	replay, err := h.ReplayStore.ReplayStore(h.logger, h.now, &h.holds)
	if err != nil {
		return fmt.Errorf("replay_store: %w", err)
	}
	v, err := sinchauth.NewValidator(sinchauth.Config{
		Applications:    apps,
		HMSApplications: hmsIDs,
		ClockSkew:       endpoint.OrDefault(h.ClockSkew, endpoint.DefaultClockSkew),
		MaxLifetime:     endpoint.OrDefault(h.MaxAssertionLifetime, defaultMaxAssertionLifetime),
		Replay:          replay,
		Now:             h.now,
	})
	if err != nil {
		return err
	}
	h.validator = v
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*Handler)(nil)
	_ caddy.Validator             = (*Handler)(nil)
	_ caddy.CleanerUpper          = (*Handler)(nil)
	_ caddyhttp.MiddlewareHandler = (*Handler)(nil)
)

// decodeSinchSecret resolves and base64-decodes a Sinch Application Secret.
func decodeSinchSecret(raw string) ([]byte, error) {
	s, err := endpoint.ResolveSecret(raw)
	if err != nil {
		return nil, err
	}
	return sinchauth.DecodeSecret(s)
}
