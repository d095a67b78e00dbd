// Package caddymodule is the Caddy glue of caddy-sinch-hms: the
// http.handlers.sinch_hms module, its Caddyfile directive, its CLI command
// and its metrics. The checks themselves live in plain-Go packages
// (sinchauth, oauthresp, tokencache, hmsupstream) that know nothing of Caddy.
package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

func init() {
	caddy.RegisterModule(Handler{})
}

// Defaults of the contract.
const (
	defaultClockSkew            = 60 * time.Second
	defaultMaxAssertionLifetime = time.Hour
	defaultRefreshBefore        = 5 * time.Minute
	defaultHuaweiTimeout        = 5 * time.Second
)

// Handler is the customer-side endpoint of Sinch's Huawei OAuth 2.0 flow.
// Sinch POSTs a client-credentials token request to it, authenticated by a
// client assertion JWT signed with a key derived from the Sinch Application
// Secret ("Alt B"). The handler checks the assertion at the edge and answers
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

	// MaxAssertionLifetime is the longest `exp - iat` accepted. Default: 1h.
	MaxAssertionLifetime caddy.Duration `json:"max_assertion_lifetime,omitempty"`

	// ReplayStore remembers the nonces of accepted assertions.
	// Default: memory (one Caddy instance).
	ReplayStore *StoreConfig `json:"replay_store,omitempty"`

	// HMSApplications are the Huawei applications tokens are handed out
	// for; an assertion's `sub` must name one of them.
	HMSApplications []HMSApplication `json:"hms_applications,omitempty"`

	// HuaweiTokenURL is Huawei's OAuth 2.0 token endpoint.
	// Default: https://oauth-login.cloud.huawei.com/oauth2/v3/token
	HuaweiTokenURL string `json:"huawei_token_url,omitempty"`

	// RefreshBefore is how long before expiry a cached Huawei token is
	// refreshed. Default: 5m.
	RefreshBefore caddy.Duration `json:"refresh_before,omitempty"`

	// TokenStore is where Huawei tokens are cached. Default: memory.
	TokenStore *StoreConfig `json:"token_store,omitempty"`

	// Forward makes the handler validate only and pass the request on to
	// the next handler, with the placeholders above set, instead of
	// answering with a token.
	Forward bool `json:"forward,omitempty"`

	validator *sinchauth.Validator
	hmsApps   map[string]*hmsApp
	logger    *zap.Logger
	now       func() time.Time
	pooled    []string // UsagePool keys to release in Cleanup
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

// StoreConfig chooses where shared state lives.
type StoreConfig struct {
	// Backend is `memory` (the default).
	Backend string `json:"backend,omitempty"`
}

// hmsApp is one provisioned HMS application: its cache and its fetcher.
type hmsApp struct {
	id      string
	cache   *tokencache.Cache
	fetcher tokencache.Fetcher
	answers oauthresp.TokenBodyCache // the encoded answer, reused while token and expires_in stay the same
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
	h.logger = ctx.Logger()
	if h.now == nil {
		h.now = time.Now
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if err := h.provisionHMS(); err != nil {
		return err
	}
	return h.provisionValidator()
}

// Validate checks the configuration without changing it. Provision calls
// it first too, so that a missing application is reported as such rather
// than as whatever breaks next.
func (h *Handler) Validate() error {
	if len(h.SinchApplications) == 0 {
		return errors.New("sinch_hms: no sinch_application configured: Sinch could not authenticate")
	}
	if len(h.HMSApplications) == 0 {
		return errors.New("sinch_hms: no hms_application configured: there would be no token to hand out")
	}
	if time.Duration(h.ClockSkew) < 0 || time.Duration(h.MaxAssertionLifetime) < 0 || time.Duration(h.RefreshBefore) < 0 {
		return errors.New("sinch_hms: durations must not be negative")
	}
	return h.checkStores()
}

// Cleanup releases this instance's hold on the pooled caches and stores.
func (h *Handler) Cleanup() error {
	var errs []error
	for _, key := range h.pooled {
		if _, err := statePool.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	h.pooled = nil
	return errors.Join(errs...)
}

// ServeHTTP authenticates the token request, then answers with a Huawei
// token or, in forward mode, passes the request on.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	req, oerr := h.authorize(r)
	if oerr != nil {
		return h.refuse(w, r, oerr)
	}
	if h.Forward {
		return h.forward(w, r, next, req)
	}
	return h.answer(w, r, req)
}

func (h *Handler) clockSkew() time.Duration {
	if h.ClockSkew == 0 {
		return defaultClockSkew
	}
	return time.Duration(h.ClockSkew)
}

func (h *Handler) maxAssertionLifetime() time.Duration {
	if h.MaxAssertionLifetime == 0 {
		return defaultMaxAssertionLifetime
	}
	return time.Duration(h.MaxAssertionLifetime)
}

func (h *Handler) refreshBefore() time.Duration {
	if h.RefreshBefore == 0 {
		return defaultRefreshBefore
	}
	return time.Duration(h.RefreshBefore)
}

func (h *Handler) checkStores() error {
	for name, s := range map[string]*StoreConfig{"replay_store": h.ReplayStore, "token_store": h.TokenStore} {
		if s != nil && s.Backend != "" && s.Backend != "memory" {
			return fmt.Errorf("sinch_hms: %s: unknown backend %q (supported: memory)", name, s.Backend)
		}
	}
	return nil
}

// provisionHMS resolves the HMS secrets and attaches one pooled token cache
// per HMS application.
func (h *Handler) provisionHMS() error {
	client := &hmsupstream.Client{TokenURL: h.HuaweiTokenURL, Timeout: defaultHuaweiTimeout}
	h.hmsApps = make(map[string]*hmsApp, len(h.HMSApplications))
	for i, app := range h.HMSApplications {
		if app.AppID == "" {
			return fmt.Errorf("sinch_hms: hms_applications[%d]: app_id is empty", i)
		}
		if _, dup := h.hmsApps[app.AppID]; dup {
			return fmt.Errorf("sinch_hms: hms_application %q configured twice", app.AppID)
		}
		secret, err := resolveSecret(app.AppSecret)
		if err != nil {
			return fmt.Errorf("sinch_hms: hms_application %q: app secret: %w", app.AppID, err)
		}
		cache, key, err := h.loadTokenCache(app.AppID, secret)
		if err != nil {
			return err
		}
		h.pooled = append(h.pooled, key)
		h.hmsApps[app.AppID] = &hmsApp{
			id:      app.AppID,
			cache:   cache,
			fetcher: client.Fetcher(hmsupstream.Credentials{AppID: app.AppID, AppSecret: secret}),
		}
	}
	return nil
}

// provisionValidator resolves and decodes the Sinch secrets and builds the
// Alt B validator on the pooled replay store.
func (h *Handler) provisionValidator() error {
	apps := make(map[string][][]byte, len(h.SinchApplications))
	for i, app := range h.SinchApplications {
		if app.ApplicationKey == "" {
			return fmt.Errorf("sinch_hms: sinch_applications[%d]: application_key is empty", i)
		}
		if len(app.Secrets) == 0 {
			return fmt.Errorf("sinch_hms: sinch_application %q: no secret", app.ApplicationKey)
		}
		for j, raw := range app.Secrets {
			secret, err := decodeSinchSecret(raw)
			if err != nil {
				return fmt.Errorf("sinch_hms: sinch_application %q: secret #%d: %w", app.ApplicationKey, j+1, err)
			}
			apps[app.ApplicationKey] = append(apps[app.ApplicationKey], secret)
		}
	}
	hmsIDs := make(map[string]bool, len(h.hmsApps))
	for id := range h.hmsApps {
		hmsIDs[id] = true
	}
	replay, key, err := h.loadReplayStore()
	if err != nil {
		return err
	}
	h.pooled = append(h.pooled, key)
	v, err := sinchauth.NewValidator(sinchauth.Config{
		Applications:    apps,
		HMSApplications: hmsIDs,
		ClockSkew:       h.clockSkew(),
		MaxLifetime:     h.maxAssertionLifetime(),
		Replay:          replay,
		Now:             h.now,
	})
	if err != nil {
		return fmt.Errorf("sinch_hms: %w", err)
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
