package oauthserver

import (
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
	// Scopes are the scopes a client may ask for; empty = DefaultScopes.
	// A request without a scope parameter is granted all of them.
	Scopes []string
	// TokenLifetime is exp - iat of issued tokens; zero = DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Key signs the tokens. Required: every instance serving the same
	// issuer must share it, or tokens of one fail on another.
	Key ed25519.PrivateKey
	// Now is the clock; nil = time.Now.
	Now func() time.Time
}

// Server issues access tokens. It is safe for concurrent use.
type Server struct {
	clients  clientSet
	scopes   []string
	lifetime time.Duration
	key      ed25519.PrivateKey
	kid      string
	jwks     []byte
	now      func() time.Time
}

// New checks cfg and returns a Server.
func New(cfg Config) (*Server, error) {
	if len(cfg.Clients) == 0 {
		return nil, errors.New("oauthserver: no client configured")
	}
	if len(cfg.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("oauthserver: no Ed25519 signing key")
	}
	if cfg.TokenLifetime < 0 {
		return nil, errors.New("oauthserver: negative token lifetime")
	}
	s := &Server{
		clients:  make(clientSet, len(cfg.Clients)),
		scopes:   slices.Clone(cfg.Scopes),
		lifetime: cfg.TokenLifetime,
		key:      cfg.Key,
		now:      cfg.Now,
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
	if s.lifetime == 0 {
		s.lifetime = DefaultTokenLifetime
	}
	if s.now == nil {
		s.now = time.Now
	}
	pub := cfg.Key.Public().(ed25519.PublicKey)
	s.kid = Thumbprint(pub)
	s.jwks = JWKSJSON(pub)
	return s, nil
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }

// KeyID is the kid of issued tokens: the key's RFC 7638 thumbprint.
func (s *Server) KeyID() string { return s.kid }

// PublicKey is the key that verifies issued tokens.
func (s *Server) PublicKey() ed25519.PublicKey { return s.key.Public().(ed25519.PublicKey) }

// JWKS is the encoded JWK Set holding the verification key.
func (s *Server) JWKS() []byte { return s.jwks }

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

// Exchange handles one parsed token request (form body and Authorization
// header). issuer and audience become the token's iss and aud. The checks
// run in the order of RFC 6749 §5.2's table: grant type, client
// authentication, scope.
func (s *Server) Exchange(form oauthresp.Form, authorization, issuer, audience string) (*Issued, *oauthresp.Error) {
	if oerr := checkGrantType(form); oerr != nil {
		return nil, oerr
	}
	cred, oerr := readCredentials(form, authorization)
	if oerr != nil {
		return nil, oerr
	}
	if !s.clients.authenticate(cred) {
		return nil, refuse(ReasonClientCredentials, "client authentication failed")
	}
	scopes, changed, oerr := s.grantScopes(form)
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

// grantScopes returns the scopes to grant: those requested (RFC 6749 §3.3,
// space-separated, each allowed), or all allowed ones when the parameter is
// absent — the pre-defined default §3.3 lets a server choose.
func (s *Server) grantScopes(form oauthresp.Form) ([]string, bool, *oauthresp.Error) {
	if !form.Has("scope") {
		return slices.Clone(s.scopes), true, nil
	}
	requested := strings.Fields(form.Get("scope"))
	if len(requested) == 0 {
		return nil, false, refuse(ReasonScope, "scope is empty")
	}
	var granted []string
	for _, sc := range requested {
		if !slices.Contains(s.scopes, sc) {
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
	signed, err := tok.SignedString(s.key)
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
