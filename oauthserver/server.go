package oauthserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// Scopes Sinch asks for.
const (
	ScopeHuaweiPush   = "https://push-api.cloud.huawei.com"
	ScopeFCMMessaging = "https://www.googleapis.com/auth/firebase.messaging"
)

// DefaultScopes are allowed when Config.Scopes is empty: what Sinch needs
// for HMS and FCM.
var DefaultScopes = []string{ScopeHuaweiPush, ScopeFCMMessaging}

// DefaultTokenLifetime is the lifetime of an issued token when
// Config.TokenLifetime is zero.
const DefaultTokenLifetime = time.Hour

// TokenType is the JOSE typ header of RFC 9068 access tokens.
const TokenType = "at+jwt"

// Config configures a Server.
type Config struct {
	// Clients maps client_id to client_secret. At least one.
	Clients map[string]string
	// ClientScopes gives a client of Clients its own scopes: it may ask
	// only for those, and a request of it without a scope parameter is
	// granted all of them. Each must be one of Scopes. A client without an
	// entry may ask for any of Scopes.
	ClientScopes map[string][]string
	// Scopes are the scopes a client may ask for; empty = DefaultScopes.
	// A request without a scope parameter is granted all of them (or its
	// client's ClientScopes).
	Scopes []string
	// TokenLifetime is exp - iat of issued tokens; zero = DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Keys are the signing keys: the first signs, every one is published
	// in the JWKS (kid: its RFC 7638 thumbprint), so a verifier can be
	// given a new key before it signs anything. Rotation: add the new key
	// second and reload every instance (and verifier); move it first and
	// reload; drop the old one a TokenLifetime later. Every instance
	// serving the same issuer must hold the same keys.
	Keys []ed25519.PrivateKey
	// Key is the one signing key when Keys is empty (the older form of
	// Keys); setting both is an error.
	Key ed25519.PrivateKey
	// Issuer is the iss of issued tokens: a fixed value, never taken from
	// a request (a request's Host is the caller's to choose). Token needs
	// it; only the deprecated Exchange, which takes the issuer per call,
	// works without.
	Issuer string
	// Audience is the aud of issued tokens; empty = Issuer.
	Audience string
	// Limiter limits failed client authentications (Token consults it
	// before comparing a secret); nil = an authlimit.Memory with the
	// default policy. authlimit.Unlimited{} turns limiting off.
	Limiter authlimit.Limiter
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Server issues access tokens. It is safe for concurrent use.
type Server struct {
	clients      clientSet
	clientScopes map[string][]string
	scopes       []string
	lifetime     time.Duration
	keys         []ed25519.PrivateKey // keys[0] signs
	kid          string
	jwks         []byte
	issuer       string
	audience     string
	limiter      authlimit.Limiter
	now          func() time.Time
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if len(cfg.Clients) == 0 {
		return nil, errors.New("oauthserver: no client configured")
	}
	if cfg.TokenLifetime < 0 {
		return nil, errors.New("oauthserver: negative token lifetime")
	}
	keys, err := signingKeys(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		clients:      make(clientSet, len(cfg.Clients)),
		clientScopes: make(map[string][]string, len(cfg.ClientScopes)),
		scopes:       slices.Clone(cfg.Scopes),
		lifetime:     cfg.TokenLifetime,
		keys:         keys,
		issuer:       cfg.Issuer,
		audience:     cfg.Audience,
		limiter:      cfg.Limiter,
		now:          cfg.Now,
	}
	for id, secret := range cfg.Clients {
		if id == "" || secret == "" {
			return nil, errors.New("oauthserver: a client has an empty id or secret")
		}
		if strings.ContainsFunc(id, isSpaceOrControl) {
			return nil, fmt.Errorf("oauthserver: client id %q holds a space or control character", id)
		}
		s.clients[id] = sha256.Sum256([]byte(secret))
	}
	if len(s.scopes) == 0 {
		s.scopes = slices.Clone(DefaultScopes)
	}
	for _, sc := range s.scopes {
		if sc == "" || strings.ContainsFunc(sc, isSpaceOrControl) {
			return nil, fmt.Errorf("oauthserver: scope %q is not a single scope token", sc)
		}
	}
	if err := s.setClientScopes(cfg.ClientScopes); err != nil {
		return nil, err
	}
	if err := s.setIssuer(); err != nil {
		return nil, err
	}
	if s.lifetime == 0 {
		s.lifetime = DefaultTokenLifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.limiter == nil {
		s.limiter, _ = authlimit.NewMemory(authlimit.MemoryConfig{Now: s.now}) // default policy: valid
	}
	pubs := make([]ed25519.PublicKey, len(keys))
	for i, k := range keys {
		pubs[i] = k.Public().(ed25519.PublicKey)
	}
	s.kid = Thumbprint(pubs[0])
	s.jwks = JWKSJSON(pubs...)
	return s, nil
}

// signingKeys are cfg's Keys, or its Key, checked.
func signingKeys(cfg Config) ([]ed25519.PrivateKey, error) {
	keys := cfg.Keys
	switch {
	case len(keys) > 0 && cfg.Key != nil:
		return nil, errors.New("oauthserver: both Key and Keys are set: use Keys")
	case len(keys) == 0 && cfg.Key != nil:
		keys = []ed25519.PrivateKey{cfg.Key}
	case len(keys) == 0:
		return nil, errors.New("oauthserver: no Ed25519 signing key")
	}
	seen := make(map[string]bool, len(keys))
	for i, k := range keys {
		if len(k) != ed25519.PrivateKeySize {
			return nil, fmt.Errorf("oauthserver: signing key %d is not an Ed25519 private key", i+1)
		}
		kid := Thumbprint(k.Public().(ed25519.PublicKey))
		if seen[kid] {
			return nil, fmt.Errorf("oauthserver: signing key %d (kid %s) is given twice", i+1, kid)
		}
		seen[kid] = true
	}
	return slices.Clone(keys), nil
}

// setClientScopes checks and stores the clients' own scopes.
func (s *Server) setClientScopes(cs map[string][]string) error {
	for id, scopes := range cs {
		if _, ok := s.clients[id]; !ok {
			return fmt.Errorf("oauthserver: scopes given for %q, which is no configured client", id)
		}
		if len(scopes) == 0 {
			return fmt.Errorf("oauthserver: client %q has an empty scope list: give it scopes or no list", id)
		}
		for _, sc := range scopes {
			if !slices.Contains(s.scopes, sc) {
				return fmt.Errorf("oauthserver: client %q: scope %q is not one of the server's scopes", id, sc)
			}
		}
		s.clientScopes[id] = slices.Compact(slices.Clone(scopes))
	}
	return nil
}

// setIssuer checks the fixed issuer and audience; the audience defaults to
// the issuer.
func (s *Server) setIssuer() error {
	for what, v := range map[string]string{"issuer": s.issuer, "audience": s.audience} {
		if strings.ContainsFunc(v, isSpaceOrControl) {
			return fmt.Errorf("oauthserver: %s %q holds a space or control character", what, v)
		}
	}
	if s.audience == "" {
		s.audience = s.issuer
	}
	if s.audience != "" && s.issuer == "" {
		return errors.New("oauthserver: an audience without an issuer")
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// KeyID is the kid of issued tokens: the signing key's RFC 7638 thumbprint.
func (s *Server) KeyID() string { return s.kid }

// KeyIDs are the kids of every key in the JWKS, the signing key first.
func (s *Server) KeyIDs() []string {
	out := make([]string, len(s.keys))
	for i, k := range s.keys {
		out[i] = Thumbprint(k.Public().(ed25519.PublicKey))
	}
	return out
}

// PublicKey is the key that verifies newly issued tokens.
func (s *Server) PublicKey() ed25519.PublicKey { return s.keys[0].Public().(ed25519.PublicKey) }

// PublicKeys are the public halves of every key, the signing key first.
func (s *Server) PublicKeys() []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, len(s.keys))
	for i, k := range s.keys {
		out[i] = k.Public().(ed25519.PublicKey)
	}
	return out
}

// JWKS is the encoded JWK Set holding every verification key.
func (s *Server) JWKS() []byte { return s.jwks }

// Issuer is the fixed iss of the tokens Token issues ("" if none is set).
func (s *Server) Issuer() string { return s.issuer }

// Audience is the fixed aud of the tokens Token issues.
func (s *Server) Audience() string { return s.audience }

// Issued is a granted token request.
type Issued struct {
	ClientID    string
	Method      string // MethodSecretPost or MethodSecretBasic
	Scopes      []string
	AccessToken string
	ExpiresIn   int64
	// ScopeChanged: the granted scope differs from the requested one (none
	// was requested), so RFC 6749 §5.1 requires it in the answer.
	ScopeChanged bool
}

// Body is the RFC 6749 §5.1 answer: access_token, expires_in, token_type
// and, only when it differs from what was asked for, scope.
func (i *Issued) Body() []byte {
	answer := struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope,omitempty"`
	}{AccessToken: i.AccessToken, ExpiresIn: i.ExpiresIn, TokenType: "Bearer"}
	if i.ScopeChanged {
		answer.Scope = strings.Join(i.Scopes, " ")
	}
	b, _ := json.Marshal(answer) // strings and an int: cannot fail
	return b
}

// TokenRequest is one parsed token request.
type TokenRequest struct {
	Form oauthresp.Form
	// Authorization is the request's Authorization header.
	Authorization string
	// Addr is the source address the limiter counts failures by: the
	// client IP (Caddy's trusted-proxy-aware client_ip, or the connection's
	// remote address, host:port is fine). It is reduced by
	// authlimit.AddrKey.
	Addr string
}

// Token handles one token request. The token's iss and aud are the
// configured Issuer and Audience, whatever the request says. The checks
// run in the order of RFC 6749 §5.2's table: grant type, client
// authentication, scope. Before a secret is compared the Limiter is asked:
// over the limit, the answer is 429 invalid_client with Retry-After and no
// secret is compared.
func (s *Server) Token(ctx context.Context, req TokenRequest) (*Issued, *oauthresp.Error) {
	if s.issuer == "" {
		return nil, refuse(ReasonNoIssuer, "the authorization server has no issuer configured")
	}
	return s.exchange(ctx, req, s.limiter, s.issuer, s.audience)
}

// Exchange handles one parsed token request (form body and Authorization
// header). issuer and audience become the token's iss and aud.
//
// Deprecated: use Token, whose issuer and audience are fixed configuration
// rather than values a caller may derive from a request, and which limits
// failed client authentications. Exchange does not limit them: it does not
// know the source address.
func (s *Server) Exchange(form oauthresp.Form, authorization, issuer, audience string) (*Issued, *oauthresp.Error) {
	return s.exchange(context.Background(), TokenRequest{Form: form, Authorization: authorization},
		authlimit.Unlimited{}, issuer, audience)
}

func (s *Server) exchange(ctx context.Context, req TokenRequest, limiter authlimit.Limiter, issuer, audience string) (*Issued, *oauthresp.Error) {
	form := req.Form
	if oerr := checkGrantType(form); oerr != nil {
		return nil, oerr
	}
	cred, oerr := readCredentials(form, req.Authorization)
	if oerr != nil {
		return nil, oerr
	}
	// Every id that is no client is counted under one key: a spray of
	// random ids must not create one key each.
	limitID := cred.id
	if _, known := s.clients[cred.id]; !known {
		limitID = ""
	}
	addr := authlimit.AddrKey(req.Addr)
	if retry, ok := limiter.Allow(ctx, limitID, addr); !ok {
		oerr := refuse(ReasonRateLimited, "too many failed client authentications; try again later")
		oerr.RetryAfter = retry
		return nil, oerr
	}
	if !s.clients.authenticate(cred) {
		limiter.Failed(ctx, limitID, addr)
		return nil, refuse(ReasonClientCredentials, "client authentication failed")
	}
	limiter.Succeeded(ctx, limitID, addr)
	scopes, changed, oerr := s.grantScopes(form, cred.id)
	if oerr != nil {
		return nil, oerr
	}
	tok, exp, err := s.sign(cred.id, scopes, issuer, audience)
	if err != nil {
		return nil, refuse(ReasonSignFailed, "could not sign the access token")
	}
	return &Issued{ClientID: cred.id, Method: cred.method, Scopes: scopes, AccessToken: tok,
		ExpiresIn: oauthresp.ExpiresIn(exp, s.now()), ScopeChanged: changed}, nil
}

func checkGrantType(form oauthresp.Form) *oauthresp.Error {
	switch gt := form.Get("grant_type"); {
	case gt == "":
		return refuse(ReasonMissingParameter, "grant_type is missing")
	case gt != "client_credentials":
		return refuse(ReasonGrantType, "grant_type must be client_credentials")
	}
	return nil
}

// grantScopes returns the scopes to grant clientID: those requested (RFC
// 6749 §3.3, space-separated, each allowed to it), or all allowed to it
// when the parameter is absent — the pre-defined default §3.3 lets a server
// choose. A client with its own scopes is allowed those, any other the
// server's.
func (s *Server) grantScopes(form oauthresp.Form, clientID string) ([]string, bool, *oauthresp.Error) {
	allowed, own := s.clientScopes[clientID]
	if !own {
		allowed = s.scopes
	}
	if !form.Has("scope") {
		return slices.Clone(allowed), true, nil
	}
	requested := strings.Fields(form.Get("scope"))
	if len(requested) == 0 {
		return nil, false, refuse(ReasonScope, "scope is empty")
	}
	var granted []string
	for _, sc := range requested {
		if !slices.Contains(allowed, sc) {
			return nil, false, refuse(ReasonScope, "scope %s is not allowed here", quote.Text(sc, 60))
		}
		if !slices.Contains(granted, sc) {
			granted = append(granted, sc)
		}
	}
	return granted, false, nil
}

// claims are the RFC 9068 §2.2 claims of an issued token.
type claims struct {
	jwt.RegisteredClaims
	Scope    string `json:"scope"`
	ClientID string `json:"client_id"`
}

// sign mints an RFC 9068 access token for clientID and returns it with its
// expiry.
func (s *Server) sign(clientID string, scopes []string, issuer, audience string) (string, time.Time, error) {
	now := s.now().Truncate(time.Second)
	exp := now.Add(s.lifetime)
	jti, err := randomID()
	if err != nil {
		return "", exp, err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   clientID,
			Audience:  jwt.ClaimStrings{audience},
			IssuedAt:  jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
			ID:        jti,
		},
		Scope:    strings.Join(scopes, " "),
		ClientID: clientID,
	})
	tok.Header["typ"] = TokenType
	tok.Header["kid"] = s.kid
	signed, err := tok.SignedString(s.keys[0])
	if err != nil {
		return "", exp, fmt.Errorf("oauthserver: signing: %w", err)
	}
	return signed, exp, nil
}

// randomID is a 128-bit random jti.
func randomID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("oauthserver: jti: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}
