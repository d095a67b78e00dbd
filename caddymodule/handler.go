// Package caddymodule is the Caddy glue of caddy-sinch-hms: the
// http.handlers.sinch_hms module, its Caddyfile directive, its CLI command
// and its metrics. The checks themselves live in plain-Go packages
// (sinchauth, oauthresp, tokencache, hmsupstream) that know nothing of Caddy.
package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
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
)

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
	ReplayStore *StoreConfig `json:"replay_store,omitempty"`

	// Bearer turns on Alt A: bearer access tokens from the customer's own
	// OAuth 2.0 Authorization Server, sent with `hms_application_id`.
	// Absent: Alt A is off and a bearer token is refused.
	Bearer *BearerConfig `json:"bearer,omitempty"`

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
	TokenStore *StoreConfig `json:"token_store,omitempty"`

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
	bearer       bearerauth.Verifier // nil: Alt A off
	hmsApps      map[string]*hmsApp
	issued       issuedCounters // hot series of requests_total
	warnCatchAll *sync.Once     // see warnIfCatchAll; set in Provision
	logger       *zap.Logger
	now          func() time.Time
	pooled       []string // UsagePool keys to release in Cleanup
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
	// Backend is `memory` (the default: this Caddy instance only) or
	// `redis` (shared by every instance using the same Redis).
	Backend string `json:"backend,omitempty"`
	// URL is the Redis URL for the `redis` backend:
	// `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, query
	// options as go-redis's ParseURL reads them. Placeholders such as
	// `{env.NAME}` are expanded in Provision. Give the password with
	// Password rather than in the URL, where one holding `/ ? # % @` must
	// be percent-encoded.
	URL string `json:"url,omitempty"`
	// Username is the Redis ACL user (`redis` backend); placeholders are
	// expanded in Provision. Default: the URL's, or Redis's default user.
	Username string `json:"username,omitempty"`
	// Password is the Redis password (`redis` backend), any bytes, never
	// put into a URL and never shown in an error or log. Write it as a
	// `{env.NAME}` or `{file./path}` placeholder, expanded in Provision, so
	// that it stays out of the JSON config. Default: the URL's, or none.
	Password string `json:"password,omitempty"`
	// KeyPrefix starts every Redis key, so that several deployments can share
	// one Redis. Default: `sinch_hms:`.
	KeyPrefix string `json:"key_prefix,omitempty"`
}

// hmsApp is one provisioned HMS application: its cache and its fetcher.
type hmsApp struct {
	id      string
	cache   *tokencache.Cache
	fetcher tokencache.Fetcher
	status  *upstreamStatus          // Huawei outcomes, for the admin API
	answers oauthresp.TokenBodyCache // the encoded answer, reused while token and expires_in stay the same

	cacheHits prometheus.Counter // its cache_requests_total{result="hit"} series; nil without metrics
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
	h.warnCatchAll = new(sync.Once)
	if h.now == nil {
		h.now = defaultNow()
	}
	if err := h.Validate(); err != nil {
		return err
	}
	if err := h.provisionHMS(); err != nil {
		return err
	}
	if err := h.provisionBearer(ctx); err != nil {
		return err
	}
	if len(h.SinchApplications) > 0 { // else Alt A only
		if err := h.provisionValidator(); err != nil {
			return err
		}
	}
	if err := h.registerMetrics(ctx); err != nil {
		return err
	}
	h.registerLive()
	return nil
}

// Validate checks the configuration without changing it. Provision calls
// it first too, so that a missing application is reported as such rather
// than as whatever breaks next.
func (h *Handler) Validate() error {
	if len(h.SinchApplications) == 0 && h.Bearer == nil {
		return errors.New("sinch_hms: no sinch_application (Alt B) and no bearer (Alt A) configured: Sinch could not authenticate")
	}
	if h.ForwardCredentials && !h.Forward {
		return errors.New("sinch_hms: forward_credentials needs forward")
	}
	if h.Bearer != nil {
		if err := h.Bearer.validate(); err != nil {
			return fmt.Errorf("sinch_hms: %w", err)
		}
	}
	if len(h.HMSApplications) == 0 {
		return errors.New("sinch_hms: no hms_application configured: there would be no token to hand out")
	}
	if time.Duration(h.ClockSkew) < 0 || time.Duration(h.MaxAssertionLifetime) < 0 || time.Duration(h.RefreshBefore) < 0 {
		return errors.New("sinch_hms: durations must not be negative")
	}
	if life := time.Duration(h.MaxAssertionLifetime); life > sinchauth.MaxLifetimeCeiling {
		return fmt.Errorf("max_assertion_lifetime is %v: at most %v is accepted", life, sinchauth.MaxLifetimeCeiling)
	}
	if err := checkHTTPURL(h.HuaweiTokenURL); err != nil {
		return fmt.Errorf("sinch_hms: huawei_token_url: %w", err)
	}
	return h.checkStores()
}

// Cleanup releases this instance's hold on the pooled caches and stores.
func (h *Handler) Cleanup() error {
	h.unregisterLive()
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
	d := newDecision()
	req, oerr := h.authorize(r, d)
	if oerr != nil {
		return h.refuse(w, r, d, oerr)
	}
	if h.Forward {
		h.accepted(d, outcomeForwarded, nil)
		return h.forward(w, r, next, req)
	}
	return h.answer(w, r, d, req)
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
		if err := s.check(); err != nil {
			return fmt.Errorf("sinch_hms: %s: %w", name, err)
		}
	}
	return nil
}

// provisionHMS resolves the HMS secrets and attaches one pooled token cache
// per HMS application.
func (h *Handler) provisionHMS() error {
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
		pooled, key, err := h.loadTokenCache(app.AppID, secret)
		if err != nil {
			return err
		}
		h.pooled = append(h.pooled, key)
		// The fetch chain is this config's: metrics and status around the
		// Huawei call, and Redis (when configured) in front of both, so
		// only real Huawei calls are counted. The pooled entry's background
		// refresher uses the newest config's chain too.
		huawei, err := h.instrument(app.AppID, key, pooled.huawei)
		if err != nil {
			return err
		}
		chain, err := h.tokenFetcher(app.AppID, secret, huawei)
		if err != nil {
			return err
		}
		pooled.use(chain)
		h.hmsApps[app.AppID] = &hmsApp{id: app.AppID, cache: pooled.Cache, fetcher: pooled, status: huawei.status}
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
	if key != "" {
		h.pooled = append(h.pooled, key)
	}
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
