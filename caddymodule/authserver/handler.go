// Package authserver is the sinch_oauth_server Caddy module: an embedded
// OAuth 2.0 Authorization Server for the client credentials grant
// (handler.go: the module and a request's whole path; caddyfile.go;
// command.go: the sinch-token-check CLI command). What it shares with
// sinch_hms and sinch_fcm is in package endpoint.
package authserver

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

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
// exp, jti and client_id; iss and aud are fixed configuration, whatever the
// request's Host. GET answers with the JWK Set of every signing key, so an
// outside verifier's jwks_url may point at the same URL. Failed client
// authentications are limited per source address and client_id (429 with
// Retry-After, no secret compared); a correct secret from an address that
// has not been failing is never refused because of someone else's guesses.
type OAuthServer struct {
	// Clients may get tokens: client_id and client_secret each, and
	// optionally the client's own scopes. Write the secret as an
	// `{env.NAME}` or `{file./path}` placeholder.
	Clients []OAuthClient `json:"clients,omitempty"`

	// Scopes a client may ask for. A request without a scope is granted
	// all of them (or its client's own scopes). Default: the Huawei push
	// scope and the FCM messaging scope (https://push-api.cloud.huawei.com
	// and https://www.googleapis.com/auth/firebase.messaging).
	Scopes []string `json:"scopes,omitempty"`

	// TokenLifetime is the lifetime of an issued token. Default: 1h.
	TokenLifetime caddy.Duration `json:"token_lifetime,omitempty"`

	// SigningKey is the path of the Ed25519 private key (PKCS#8 PEM, as
	// `openssl genpkey -algorithm ed25519` writes) that signs the tokens.
	// All instances behind one issuer must share it, and a verifier's
	// `public_key` names its public half. Placeholders such as
	// `{env.NAME}` are expanded. One of SigningKey and SigningKeys is
	// required.
	SigningKey string `json:"signing_key,omitempty"`

	// SigningKeys are more signing key files, after SigningKey: the first
	// key of the two lists signs, and every key is served in the JWKS (kid:
	// its RFC 7638 thumbprint), so verifiers learn a new key before it
	// signs. Rotation: add the new key second and reload every instance;
	// move it first and reload; drop the old one a token_lifetime later.
	SigningKeys []string `json:"signing_keys,omitempty"`

	// Issuer is the `iss` of issued tokens, fixed: never taken from a
	// request's Host. Required in JSON; the Caddyfile defaults it to the
	// site's address (e.g. `https://auth.example.com`), and requires it
	// when the site has no fixed host or several.
	Issuer string `json:"issuer,omitempty"`

	// Audience is the `aud` of issued tokens. Default: the issuer.
	Audience string `json:"audience,omitempty"`

	// LimitStore is where failed client authentications are counted:
	// `memory` (the default: this instance) or `redis` (every instance
	// using the same Redis and key_prefix counts the same guesses; while
	// Redis cannot answer, each instance counts in its memory). Per source
	// address and client_id, a burst of 10 failures, then one per second,
	// a 5-minute pause after 100 in a row; over the limit the answer is
	// 429 with Retry-After and no secret is compared.
	LimitStore *endpoint.StoreConfig `json:"limit_store,omitempty"`

	server *oauthserver.Server
	record endpoint.Recorder
	logger *zap.Logger
	now    func() time.Time
	holds  endpoint.Holds
}

// OAuthClient is one client of the embedded Authorization Server.
type OAuthClient struct {
	// ClientID is the client_id (the Sinch Dashboard's "Client Id").
	ClientID string `json:"client_id,omitempty"`
	// ClientSecret is the client_secret; write it as a placeholder.
	ClientSecret string `json:"client_secret,omitempty"`
	// Scopes, if set, are all this client may ask for (each one of the
	// server's scopes), and what a request of it without a scope gets.
	// Default: the server's scopes.
	Scopes []string `json:"scopes,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (OAuthServer) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.sinch_oauth_server",
		New: func() caddy.Module { return new(OAuthServer) },
	}
}

// Provision resolves the client secrets, loads the signing keys, takes
// the guess limiter (kept across reloads) and builds the server.
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
	clients, scopes, err := s.resolveClients()
	if err != nil {
		return err
	}
	keys, err := loadSigningKeys(s.keyFiles())
	if err != nil {
		return err
	}
	limiter, err := s.LimitStore.GuessLimiter(s.logger, &s.holds, s.Issuer)
	if err != nil {
		return fmt.Errorf("limit_store: %w", err)
	}
	srv, err := oauthserver.New(oauthserver.Config{
		Clients:       clients,
		ClientScopes:  scopes,
		Scopes:        s.Scopes,
		TokenLifetime: time.Duration(s.TokenLifetime),
		Keys:          keys,
		Issuer:        s.Issuer,
		Audience:      s.Audience,
		Limiter:       limiter,
		Now:           s.now,
	})
	if err != nil {
		return err
	}
	s.server = srv
	if err := meter.Register(ctx); err != nil {
		return err
	}
	s.logger.Info("authorization server ready", zap.String("issuer", srv.Issuer()),
		zap.String("kid", srv.KeyID()), zap.Strings("kids", srv.KeyIDs()), zap.Int("clients", len(clients)))
	return nil
}

// Cleanup lets go of the pooled guess limiter (and its Redis client); the
// next config's handler holds them already, so a reload keeps them.
func (s *OAuthServer) Cleanup() error { return s.holds.Release() }

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
	auth := r.Header.Get("Authorization")
	issued, oerr := s.server.Token(r.Context(), oauthserver.TokenRequest{Form: form, Authorization: auth, Addr: clientAddr(r)})
	if oerr != nil {
		return s.record.Refuse(w, r, "", oerr, clientIDFields(s.server.PresentedClientID(form, auth))...)
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

// clientAddr is the address failed authentications are counted by: the
// client IP as Caddy sees it (its trusted_proxies setting decides whether a
// forwarded one counts), else the connection's remote address.
func clientAddr(r *http.Request) string {
	if ip, ok := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string); ok && ip != "" {
		return ip
	}
	return r.RemoteAddr
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
	_ caddy.CleanerUpper          = (*OAuthServer)(nil)
	_ caddyhttp.MiddlewareHandler = (*OAuthServer)(nil)
)

// meter counts the Authorization Server's requests by outcome and its
// refusals by reason: caddy_sinch_oauth_server_requests_total and
// caddy_sinch_oauth_server_rejections_total.
var meter = endpoint.NewMeter(endpoint.AuthServer, "sinch_oauth_server", "token request",
	"Token requests to the embedded Authorization Server")
