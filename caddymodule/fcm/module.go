// Package fcm is the sinch_fcm Caddy module: the "FCM token URL" of
// Sinch's Firebase Cloud Messaging HTTP v1 flow (module.go: the module and
// its provisioning, with the pooled Google state; handler.go: a request's
// whole path; caddyfile.go). What it shares with sinch_hms and
// sinch_oauth_server is in package endpoint.
package fcm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

func init() {
	caddy.RegisterModule(FCMHandler{})
}

// defaultGoogleTimeout bounds one exchange with Google's token endpoint.
const defaultGoogleTimeout = 5 * time.Second

// FCMHandler is the "FCM token URL" of Sinch's Firebase Cloud Messaging
// HTTP v1 flow. Sinch POSTs `grant_type=client_credentials` and
// `fcm_project_number=<Firebase project number>` with an `Authorization:
// Bearer` access token from the customer's Authorization Server (such as
// sinch_oauth_server). The handler validates the token exactly as
// sinch_hms's Alt A does, then answers with a Google OAuth 2.0 access
// token for that project, obtained with the project's service-account key
// and cached (one Google call per stampede, refreshed before expiry, the
// old token served while Google fails, kept across config reloads).
type FCMHandler struct {
	// Bearer says which access tokens are accepted: the same block as
	// sinch_hms's Alt A (`jwks_url`, or `public_key` for the embedded
	// server's key with no network hop; `issuer`, `audience`, `scope`).
	// Required.
	Bearer *endpoint.BearerConfig `json:"bearer,omitempty"`

	// Projects are the Firebase projects tokens are handed out for, each
	// with its service-account JSON key file.
	Projects []FCMProject `json:"projects,omitempty"`

	// GoogleTokenURL is where the JWT-bearer grant goes. Default:
	// https://oauth2.googleapis.com/token, and then a key file whose
	// token_uri names another URL is refused, so that a tampered key file
	// cannot send a signed grant elsewhere. When set, it is used whatever
	// the key files say.
	GoogleTokenURL string `json:"google_token_url,omitempty"`

	// RefreshBefore is how long before expiry a cached Google token is
	// refreshed. Default: 5m.
	RefreshBefore caddy.Duration `json:"refresh_before,omitempty"`

	// TokenStore is where Google tokens are shared: memory (the default:
	// each instance fetches its own) or redis (one token for all instances,
	// sealed at rest), exactly as sinch_hms's token_store.
	TokenStore *endpoint.StoreConfig `json:"token_store,omitempty"`

	bearer   *endpoint.Bearer
	projects map[string]*endpoint.Upstream
	record   endpoint.Recorder
	logger   *zap.Logger
	now      func() time.Time
	holds    endpoint.Holds
}

// FCMProject is one Firebase project whose tokens are handed out.
type FCMProject struct {
	// ProjectNumber is the Firebase project number (Project settings →
	// General), as Sinch sends it in fcm_project_number.
	ProjectNumber string `json:"project_number,omitempty"`
	// KeyFile is the path of the service-account JSON key (Project settings
	// → Service accounts → Generate new private key). Placeholders such as
	// `{env.NAME}` are expanded.
	KeyFile string `json:"key_file,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (FCMHandler) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sinch_fcm",
		New: func() caddy.Module { return new(FCMHandler) },
	}
}

// Provision builds the bearer verifier, reads the key files and attaches
// the pooled token caches.
func (h *FCMHandler) Provision(ctx caddy.Context) error {
	h.logger = ctx.Logger()
	if h.now == nil {
		h.now = testhook.Clock()
	}
	h.record = meter.Recorder(h.logger, true)
	if err := h.Validate(); err != nil {
		return err
	}
	b, err := h.Bearer.Provision(ctx)
	if err != nil {
		return err
	}
	h.bearer = b
	if err := errors.Join(meter.Register(ctx), google.Register(ctx)); err != nil {
		return err
	}
	if err := h.provisionProjects(); err != nil {
		return err
	}
	ups := make([]*endpoint.Upstream, 0, len(h.projects))
	for _, u := range h.projects {
		ups = append(ups, u)
	}
	endpoint.Publish(h, ups...)
	return nil
}

// projectNumberRE: Firebase project numbers are decimal.
var projectNumberRE = regexp.MustCompile(`^[0-9]{1,32}$`)

// Validate checks the configuration without changing it.
func (h *FCMHandler) Validate() error {
	switch {
	case h.Bearer == nil:
		return errors.New("bearer is required: it says whose access tokens are accepted")
	case len(h.Projects) == 0:
		return errors.New("no fcm_project configured: there would be no token to hand out")
	case time.Duration(h.RefreshBefore) < 0:
		return errors.New("refresh_before must not be negative")
	}
	if err := h.TokenStore.Validate(); err != nil {
		return fmt.Errorf("token_store: %w", err)
	}
	if err := endpoint.CheckHTTPURL(h.GoogleTokenURL); err != nil {
		return fmt.Errorf("google_token_url: %w", err)
	}
	for i, p := range h.Projects {
		if !projectNumberRE.MatchString(p.ProjectNumber) {
			return fmt.Errorf("projects[%d]: project number %q is not a number", i, p.ProjectNumber)
		}
		if p.KeyFile == "" {
			return fmt.Errorf("project %s: no key file", p.ProjectNumber)
		}
	}
	return nil
}

// Cleanup releases this instance's hold on the pooled state.
func (h *FCMHandler) Cleanup() error {
	endpoint.Unpublish(h)
	return h.holds.Release()
}

func (h *FCMHandler) provisionProjects() error {
	opts := fcmupstream.Options{TokenURL: h.GoogleTokenURL, Timeout: defaultGoogleTimeout}
	if d := testhook.UpstreamTimeout(); d > 0 {
		opts.Timeout = d
	}
	h.projects = make(map[string]*endpoint.Upstream, len(h.Projects))
	for _, p := range h.Projects {
		if _, dup := h.projects[p.ProjectNumber]; dup {
			return fmt.Errorf("fcm_project %s configured twice", p.ProjectNumber)
		}
		u, err := h.loadProject(p, opts)
		if err != nil {
			return fmt.Errorf("fcm_project %s: %w", p.ProjectNumber, err)
		}
		h.projects[p.ProjectNumber] = u
	}
	return nil
}

// loadProject reads a project's key file and attaches its pooled state,
// with this config's fetch chain: the Redis token store (when configured)
// in front of the instrumented Google call. The same project, key file,
// token URL and refresh window keep their token across a reload; a new key
// file starts empty. The key file is hashed for the pool key (it holds a
// private key), and seals the token in Redis.
func (h *FCMHandler) loadProject(p FCMProject, opts fcmupstream.Options) (*endpoint.Upstream, error) {
	keyJSON, err := endpoint.ReadKeyFile(p.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	project, err := fcmupstream.NewProject(keyJSON, opts)
	if err != nil {
		return nil, err
	}
	refreshBefore := endpoint.OrDefault(h.RefreshBefore, endpoint.DefaultRefreshBefore)
	sum := sha256.Sum256(append([]byte(project.TokenURL()+"\x00"), keyJSON...))
	u, err := endpoint.LoadUpstream(endpoint.UpstreamConfig{
		Kind:          google,
		ID:            p.ProjectNumber,
		PoolKey:       fmt.Sprintf("sinch_fcm.tokens/%s/%d/%s", p.ProjectNumber, refreshBefore, hex.EncodeToString(sum[:12])),
		Host:          hmsupstream.HostOf(project.TokenURL()),
		NewSource:     func(*endpoint.Upstream) tokencache.Fetcher { return project },
		RefreshBefore: refreshBefore,
		Now:           h.now,
		Logger:        h.logger,
	}, &h.holds)
	if err != nil {
		return nil, err
	}
	digest := project.SecretDigest()
	chain, err := h.TokenStore.TokenFetcher(h.logger, h.now, &h.holds, endpoint.SharedToken{
		ID: fcmRedisPrefix + p.ProjectNumber, TokenURL: project.TokenURL(), Secret: string(digest[:]), MinLife: refreshBefore,
	}, u.Instrumented())
	if err != nil {
		return nil, fmt.Errorf("token_store: %w", err)
	}
	u.Use(chain, true)
	h.logger.Info("FCM project ready", zap.String("fcm_project_number", p.ProjectNumber),
		zap.String("service_account", project.ClientEmail()))
	return u, nil
}

// fcmRedisPrefix keeps Google tokens' Redis keys apart from Huawei's: an
// FCM project number can never collide with an HMS App ID.
const fcmRedisPrefix = "fcm:"

// Interface guards
var (
	_ caddy.Provisioner           = (*FCMHandler)(nil)
	_ caddy.Validator             = (*FCMHandler)(nil)
	_ caddy.CleanerUpper          = (*FCMHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*FCMHandler)(nil)
)
