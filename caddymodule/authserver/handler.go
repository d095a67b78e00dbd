// Package authserver is the sinch_oauth_server Caddy module: an embedded
// OAuth 2.0 Authorization Server for the client credentials grant
// (handler.go: the module and a request's whole path; caddyfile.go;
// command.go: the sinch-token-check CLI command). What it shares with
// sinch_hms and sinch_fcm is in package endpoint.
package authserver

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

func init() {
	caddy.RegisterModule(OAuthServer{})
}

// minClientSecretLen is the shortest client secret accepted, in
// characters: the endpoint does not throttle guesses, so a long random
// secret is what makes guessing hopeless.
const minClientSecretLen = 16

// jwksMaxAge is how long verifiers may cache the JWKS (Cache-Control).
const jwksMaxAge = 5 * time.Minute

// OAuthServer is an embedded OAuth 2.0 Authorization Server for the client
// credentials grant, for customers who have none of their own: it issues
// Sinch the access tokens that sinch_hms's and sinch_fcm's bearer
// validation ("Alt A") accept.
//
// POST is the RFC 6749 token endpoint. Clients authenticate with
// client_secret_post (client_id and client_secret in the body) or
// client_secret_basic (HTTP Basic). The answer holds an RFC 9068 JWT access
// token (typ at+jwt, EdDSA) with iss, sub (the client_id), aud, scope, iat,
// exp, jti and client_id. GET answers with the JWK Set of the signing key,
// so an outside verifier's jwks_url may point at the same URL.
type OAuthServer struct {
	// Clients may get tokens: client_id and client_secret each. Write the
	// secret as an `{env.NAME}` or `{file./path}` placeholder.
	Clients []OAuthClient `json:"clients,omitempty"`

	// Scopes a client may ask for. A request without a scope is granted
	// all of them. Default: the Huawei push scope and the FCM messaging
	// scope (https://push-api.cloud.huawei.com and
	// https://www.googleapis.com/auth/firebase.messaging).
	Scopes []string `json:"scopes,omitempty"`

	// TokenLifetime is the lifetime of an issued token. Default: 1h.
	TokenLifetime caddy.Duration `json:"token_lifetime,omitempty"`

	// SigningKey is the path of the Ed25519 private key (PKCS#8 PEM, as
	// `openssl genpkey -algorithm ed25519` writes) that signs the tokens.
	// Required: all instances behind one issuer must share it, and a
	// verifier's `public_key` names its public half. Placeholders such as
	// `{env.NAME}` are expanded.
	SigningKey string `json:"signing_key,omitempty"`

	// Issuer is the `iss` of issued tokens. Default: the origin
	// (scheme://host) of the token request. Set it when a proxy in front
	// of Caddy changes the scheme or host, or when verifiers pin it.
	Issuer string `json:"issuer,omitempty"`

	// Audience is the `aud` of issued tokens. Default: the issuer.
	Audience string `json:"audience,omitempty"`

	server *oauthserver.Server
	record endpoint.Recorder
	logger *zap.Logger
	now    func() time.Time
}

// OAuthClient is one client of the embedded Authorization Server.
type OAuthClient struct {
	// ClientID is the client_id (the Sinch Dashboard's "Client Id").
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the client_secret; write it as a placeholder.
	ClientSecret string `json:"client_secret,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (OAuthServer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sinch_oauth_server",
		New: func() caddy.Module { return new(OAuthServer) },
	}
}

// Provision resolves the client secrets, loads the signing key and builds
// the server.
func (s *OAuthServer) Provision(ctx caddy.Context) error {
	if s.logger == nil { // a test may set its own
		s.logger = ctx.Logger()
	}
	s.record = meter.Recorder(s.logger, true)
	if s.now == nil {
		s.now = testhook.Clock()
	}
	if err := s.Validate(); err != nil {
		return err
	}
	clients, err := s.resolveClients()
	if err != nil {
		return err
	}
	key, err := loadSigningKey(s.SigningKey)
	if err != nil {
		return fmt.Errorf("signing_key: %w", err)
	}
	srv, err := oauthserver.New(oauthserver.Config{
		Clients:       clients,
		Scopes:        s.Scopes,
		TokenLifetime: time.Duration(s.TokenLifetime),
		Key:           key,
		Now:           s.now,
	})
	if err != nil {
		return err
	}
	s.server = srv
	if err := meter.Register(ctx); err != nil {
		return err
	}
	s.logger.Info("authorization server ready", zap.String("kid", srv.KeyID()), zap.Int("clients", len(clients)))
	return nil
}

// Validate checks the configuration without changing it.
func (s *OAuthServer) Validate() error {
	switch {
	case len(s.Clients) == 0:
		return errors.New("no client configured: nobody could get a token")
	case s.SigningKey == "":
		return errors.New("signing_key is required (an Ed25519 PKCS#8 PEM file shared by all instances)")
	case time.Duration(s.TokenLifetime) < 0:
		return errors.New("token_lifetime must not be negative")
	}
	return nil
}

func (s *OAuthServer) resolveClients() (map[string]string, error) {
	clients := make(map[string]string, len(s.Clients))
	for i, c := range s.Clients {
		if c.ClientID == "" {
			return nil, fmt.Errorf("clients[%d]: client_id is empty", i)
		}
		if _, dup := clients[c.ClientID]; dup {
			return nil, fmt.Errorf("client %q configured twice", c.ClientID)
		}
		secret, err := endpoint.ResolveSecret(c.ClientSecret)
		if err != nil {
			return nil, fmt.Errorf("client %q: secret: %w", c.ClientID, err)
		}
		// Checked on the resolved value: a placeholder may stand for
		// anything. The error names the client, never the secret.
		if n := utf8.RuneCountInString(secret); n < minClientSecretLen {
			return nil, fmt.Errorf("client %q: client_secret is shorter than %d characters (%d): use a long random secret, e.g. openssl rand -base64 32",
				c.ClientID, minClientSecretLen, n)
		}
		clients[c.ClientID] = secret
	}
	return clients, nil
}

// loadSigningKey reads the PEM key file at path (placeholders expanded).
func loadSigningKey(path string) (ed25519.PrivateKey, error) {
	pemBytes, err := endpoint.ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	key, err := oauthserver.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

// ServeHTTP answers POST with a token and GET/HEAD with the JWKS.
func (s *OAuthServer) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	switch r.Method {
	case http.MethodPost:
		return s.serveToken(w, r)
	case http.MethodGet, http.MethodHead:
		return s.serveJWKS(w, r)
	}
	return s.record.Refuse(w, r, "", endpoint.MethodNotAllowed.New("POST asks for a token, GET reads the JWKS").
		WithHeader("Allow", "GET, HEAD, POST"))
}

func (s *OAuthServer) serveToken(w http.ResponseWriter, r *http.Request) error {
	form, oerr := oauthresp.ParseForm(r, oauthresp.DefaultMaxBodyBytes)
	if oerr != nil {
		return s.record.Refuse(w, r, "", endpoint.FormError(oerr))
	}
	issuer := s.issuer(r)
	audience := s.Audience
	if audience == "" {
		audience = issuer
	}
	issued, oerr := s.server.Exchange(form, r.Header.Get("Authorization"), issuer, audience)
	if oerr != nil {
		return s.record.Refuse(w, r, "", oerr, clientIDFields(s.server.PresentedClientID(form, r.Header.Get("Authorization")))...)
	}
	s.logger.Info("access token issued",
		zap.String("client_id", issued.ClientID),
		zap.String("method", issued.Method),
		zap.Strings("scopes", issued.Scopes),
		zap.Int64("expires_in", issued.ExpiresIn))
	s.record.Served("", endpoint.OutcomeIssued)
	return oauthresp.WriteTokenBody(w, issued.Body())
}

func (s *OAuthServer) serveJWKS(w http.ResponseWriter, r *http.Request) error {
	body := s.server.JWKS()
	h := w.Header()
	h.Set("Content-Type", "application/jwk-set+json")
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(jwksMaxAge/time.Second)))
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	_, err := w.Write(body)
	return err
}

// issuer is the configured issuer or the request's origin.
func (s *OAuthServer) issuer(r *http.Request) string {
	if s.Issuer != "" {
		return s.Issuer
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// clientIDFields are the log fields of the client_id of a refused request.
// A configured client is named (client ids hold no space or control
// character: oauthserver.New checks). Any other id is only hashed and
// measured: it may be a secret pasted into the id field.
func clientIDFields(id string, known bool) []zap.Field {
	switch {
	case known:
		return []zap.Field{zap.String("client_id", id)}
	case id == "":
		return nil
	}
	sum := sha256.Sum256([]byte(id))
	return []zap.Field{
		zap.String("client_id_sha256", hex.EncodeToString(sum[:4])),
		zap.Int("client_id_length", len(id)),
	}
}

// Interface guards
var (
	_ caddy.Provisioner           = (*OAuthServer)(nil)
	_ caddy.Validator             = (*OAuthServer)(nil)
	_ caddyhttp.MiddlewareHandler = (*OAuthServer)(nil)
)

// meter counts the Authorization Server's requests by outcome and its
// refusals by reason: caddy_sinch_oauth_server_requests_total and
// caddy_sinch_oauth_server_rejections_total.
var meter = endpoint.NewMeter(endpoint.AuthServer, "sinch_oauth_server", "token request",
	"Token requests to the embedded Authorization Server")
