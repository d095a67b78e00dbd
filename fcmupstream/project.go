// Package fcmupstream turns a Firebase project's service-account key into
// Google OAuth 2.0 access tokens for Firebase Cloud Messaging HTTP v1: the
// RFC 7523 JWT-bearer grant, signed RS256 with the account's private key,
// done by golang.org/x/oauth2's google package rather than by hand. It
// knows nothing of Sinch or Caddy; caching is tokencache's job, the same
// cache that serves Huawei tokens.
package fcmupstream

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/jwt"

	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// DefaultTokenURL is Google's OAuth 2.0 token endpoint, the only one a key
// file may name unless Options.TokenURL overrides it.
const DefaultTokenURL = google.JWTTokenURL

// Scope is the OAuth scope of FCM HTTP v1.
const Scope = "https://www.googleapis.com/auth/firebase.messaging"

// DefaultTimeout bounds one token exchange when Options.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// Options configure how a Project reaches Google.
type Options struct {
	// TokenURL, when set, is where the grant goes, whatever the key file's
	// token_uri says (a test emulator, a proxy). When empty, the key file's
	// token_uri must be DefaultTokenURL (or absent): a tampered key file
	// must not send a grant signed with the private key anywhere else.
	TokenURL string
	// HTTPClient: nil = a client with Timeout. Either way a copy is used
	// that follows no redirect (a redirect would carry the signed grant
	// elsewhere): a 3xx is an upstream failure, as a 5xx.
	HTTPClient *http.Client
	// Timeout bounds one exchange; zero = DefaultTimeout.
	Timeout time.Duration
}

// Project fetches tokens for one Firebase project's service account. It is
// a tokencache.Fetcher and safe for concurrent use.
type Project struct {
	cfg    *jwt.Config
	client *http.Client
	email  string
	keyID  string
}

// serviceAccountFile holds the fields of a key file checked here before
// the google package reads it.
type serviceAccountFile struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	TokenURI     string `json:"token_uri"`
}

// NewProject reads a service-account JSON key (as the Firebase console's
// "Generate new private key" downloads it) and checks it: type
// service_account, a client_email, an RSA private key that parses, and a
// token_uri that is Google's unless opts.TokenURL is set.
func NewProject(keyJSON []byte, opts Options) (*Project, error) {
	var f serviceAccountFile
	if err := json.Unmarshal(keyJSON, &f); err != nil {
		return nil, fmt.Errorf("fcmupstream: service-account key is not JSON: %w", err)
	}
	if f.Type != "service_account" {
		return nil, fmt.Errorf("fcmupstream: key type is %q, want service_account", f.Type)
	}
	if f.ClientEmail == "" || f.PrivateKey == "" {
		return nil, errors.New("fcmupstream: key lacks client_email or private_key")
	}
	if opts.TokenURL == "" && f.TokenURI != "" && f.TokenURI != DefaultTokenURL {
		return nil, fmt.Errorf("fcmupstream: key's token_uri is %q, not Google's %s: refusing to send a signed grant there (set google_token_url to override)",
			f.TokenURI, DefaultTokenURL)
	}
	cfg, err := google.JWTConfigFromJSON(keyJSON, Scope)
	if err != nil {
		return nil, fmt.Errorf("fcmupstream: %w", err)
	}
	if err := checkPrivateKey(cfg.PrivateKey); err != nil {
		return nil, err
	}
	cfg.TokenURL = DefaultTokenURL
	if opts.TokenURL != "" {
		cfg.TokenURL = opts.TokenURL
	}
	// aud is the token URL; a key file's "audience" does not change it, nor
	// does it ask for a subject to impersonate.
	cfg.Audience, cfg.Subject = "", ""
	return &Project{cfg: cfg, client: httpClient(opts), email: f.ClientEmail, keyID: f.PrivateKeyID}, nil
}

// httpClient is the client x/oauth2 is handed through the context
// (oauth2.HTTPClient): its CheckRedirect is the one that applies.
func httpClient(opts Options) *http.Client {
	if opts.HTTPClient != nil {
		return httpclient.NoRedirects(opts.HTTPClient)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return httpclient.NoRedirects(&http.Client{Timeout: timeout})
}

// ClientEmail is the service account's address (its iss).
func (p *Project) ClientEmail() string { return p.email }

// TokenURL is where the grant goes.
func (p *Project) TokenURL() string { return p.cfg.TokenURL }

// Fetch makes one token request (no retry: the cache decides when to try
// again). Every error is a *tokencache.UpstreamError: KindRejected when
// Google refuses the key or the grant (4xx), KindUnavailable for 5xx, 429,
// an unfollowed 3xx, network errors, timeouts and malformed answers. No error holds the
// private key, the signed grant or a token.
func (p *Project) Fetch(ctx context.Context) (tokencache.Token, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	tok, err := p.cfg.TokenSource(ctx).Token()
	if err != nil {
		return tokencache.Token{}, classify(err)
	}
	if tok.AccessToken == "" || tok.Expiry.IsZero() {
		return tokencache.Token{}, &tokencache.UpstreamError{Kind: tokencache.KindUnavailable,
			Err: errors.New("fcmupstream: Google's answer lacks access_token or expires_in")}
	}
	return tokencache.Token{AccessToken: tok.AccessToken, ExpiresAt: tok.Expiry}, nil
}

// Interface guard
var _ tokencache.Fetcher = (*Project)(nil)

// SecretDigest is the SHA-256 of the service account's private key: what
// every instance holding the same key file can derive, and a reader of a
// shared token store cannot. It seals Google tokens at rest (the token
// store's key), never the private key itself.
func (p *Project) SecretDigest() [sha256.Size]byte {
	return sha256.Sum256(p.cfg.PrivateKey)
}
