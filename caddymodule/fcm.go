package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
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
	Bearer *BearerConfig `json:"bearer,omitempty"`

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
	TokenStore *StoreConfig `json:"token_store,omitempty"`

	verifier bearerauth.Verifier
	projects map[string]*fcmProject
	logger   *zap.Logger
	now      func() time.Time
	pooled   []string
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

// fcmProject is a provisioned project: its pooled cache and its fetcher.
type fcmProject struct {
	number string
	cache  *tokencache.Cache
	fetch  tokencache.Fetcher // Google, counted and timed
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
		h.now = defaultNow()
	}
	if err := h.Validate(); err != nil {
		return err
	}
	v, err := h.Bearer.provision(ctx)
	if err != nil {
		return fmt.Errorf("sinch_fcm: %w", err)
	}
	h.verifier = v
	if err := registerCollectors(ctx, metricFCMRequests, metricFCMRefusals, metricGoogleFetches,
		metricGoogleFetchSeconds, metricFCMCache); err != nil {
		return fmt.Errorf("sinch_fcm: %w", err)
	}
	return h.provisionProjects()
}

// projectNumberRE: Firebase project numbers are decimal.
var projectNumberRE = regexp.MustCompile(`^[0-9]{1,32}$`)

// Validate checks the configuration without changing it.
func (h *FCMHandler) Validate() error {
	switch {
	case h.Bearer == nil:
		return errors.New("sinch_fcm: bearer is required: it says whose access tokens are accepted")
	case len(h.Projects) == 0:
		return errors.New("sinch_fcm: no fcm_project configured: there would be no token to hand out")
	case time.Duration(h.RefreshBefore) < 0:
		return errors.New("sinch_fcm: refresh_before must not be negative")
	}
	if err := h.TokenStore.check(); err != nil {
		return fmt.Errorf("sinch_fcm: token_store: %w", err)
	}
	if err := checkHTTPURL(h.GoogleTokenURL); err != nil {
		return fmt.Errorf("sinch_fcm: google_token_url: %w", err)
	}
	for i, p := range h.Projects {
		if !projectNumberRE.MatchString(p.ProjectNumber) {
			return fmt.Errorf("sinch_fcm: projects[%d]: project number %q is not a number", i, p.ProjectNumber)
		}
		if p.KeyFile == "" {
			return fmt.Errorf("sinch_fcm: project %s: no key file", p.ProjectNumber)
		}
	}
	return nil
}

// Cleanup releases this instance's hold on the pooled caches.
func (h *FCMHandler) Cleanup() error {
	var errs []error
	for _, key := range h.pooled {
		if _, err := statePool.Delete(key); err != nil {
			errs = append(errs, err)
		}
	}
	h.pooled = nil
	return errors.Join(errs...)
}

func (h *FCMHandler) refreshBefore() time.Duration {
	if h.RefreshBefore == 0 {
		return defaultRefreshBefore
	}
	return time.Duration(h.RefreshBefore)
}

func (h *FCMHandler) provisionProjects() error {
	opts := fcmupstream.Options{TokenURL: h.GoogleTokenURL, Timeout: defaultGoogleTimeout}
	h.projects = make(map[string]*fcmProject, len(h.Projects))
	for _, p := range h.Projects {
		if _, dup := h.projects[p.ProjectNumber]; dup {
			return fmt.Errorf("sinch_fcm: fcm_project %s configured twice", p.ProjectNumber)
		}
		keyJSON, err := readKeyFile(p.KeyFile)
		if err != nil {
			return fmt.Errorf("sinch_fcm: fcm_project %s: key file: %w", p.ProjectNumber, err)
		}
		fetcher, err := fcmupstream.NewProject(keyJSON, opts)
		if err != nil {
			return fmt.Errorf("sinch_fcm: fcm_project %s: %w", p.ProjectNumber, err)
		}
		key := h.cacheKey(p.ProjectNumber, fetcher.TokenURL(), keyJSON)
		cache, err := loadPooledCache(key, h.refreshBefore(), h.now)
		if err != nil {
			return fmt.Errorf("sinch_fcm: token cache for project %s: %w", p.ProjectNumber, err)
		}
		h.pooled = append(h.pooled, key)
		fetch, err := h.googleFetcher(p.ProjectNumber, fetcher, instrumentGoogle(p.ProjectNumber, fetcher))
		if err != nil {
			return err
		}
		h.projects[p.ProjectNumber] = &fcmProject{number: p.ProjectNumber, cache: cache, fetch: fetch}
		h.logger.Info("FCM project ready", zap.String("fcm_project_number", p.ProjectNumber),
			zap.String("service_account", fetcher.ClientEmail()))
	}
	return nil
}

// cacheKey names a project's pooled cache: the same project, key file,
// token URL and refresh window keep their token across a reload; a new key
// file starts empty. The key file is hashed (it holds a private key).
func (h *FCMHandler) cacheKey(number, tokenURL string, keyJSON []byte) string {
	sum := sha256.Sum256(append([]byte(tokenURL+"\x00"), keyJSON...))
	return fmt.Sprintf("sinch_fcm.tokens/%s/%d/%s", number, h.refreshBefore(), hex.EncodeToString(sum[:12]))
}

// ServeHTTP authenticates the bearer token and answers with the project's
// Google token.
func (h *FCMHandler) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	proj, clientID, oerr := h.authorize(r)
	if oerr != nil {
		return h.refuse(w, r, oerr)
	}
	return h.answer(w, r, proj, clientID)
}

// Interface guards
var (
	_ caddy.Provisioner           = (*FCMHandler)(nil)
	_ caddy.Validator             = (*FCMHandler)(nil)
	_ caddy.CleanerUpper          = (*FCMHandler)(nil)
	_ caddyhttp.MiddlewareHandler = (*FCMHandler)(nil)
)
