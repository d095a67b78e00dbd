package endpoint

import (
	"bytes"
	"context"
	"crypto"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/caddyserver/caddy/v2"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/bearerauth"
	"github.com/hmsgate/caddy-sinch-hms/oauthresp"
)

// BearerConfig turns on Alt A: bearer access tokens issued by the
// customer's own OAuth 2.0 Authorization Server. JWT access tokens
// (RFC 9068) are verified through the AS's JWKS (`jwks_url`) or a fixed
// public key (`public_key`); opaque tokens through RFC 7662 introspection
// (`introspection_url`). With both, a token shaped like a JWT is verified
// locally and any other is introspected.
//
// sinch_hms and sinch_fcm take the same block, so they configure and check
// bearer tokens alike.
type BearerConfig struct {
	// JWKSURL is the AS's JSON Web Key Set (its metadata's `jwks_uri`).
	// Fetched at start-up (an AS that is down does not fail the config),
	// again on a token with an unknown `kid` (at most once per
	// `jwks_min_refresh_interval`) and every `jwks_refresh_interval`.
	JWKSURL string `json:"jwks_url,omitempty"`

	// PublicKey is the path of a PEM file holding the AS's PKIX public key
	// (RSA of 2048 bits or more, ECDSA P-256 or Ed25519): no network hop.
	// Use it instead of `jwks_url`, e.g. with the embedded server's key.
	// A file may hold several PEM blocks, or be a JWK Set (JSON).
	PublicKey string `json:"public_key,omitempty"`

	// PublicKeys are more public key files, beside PublicKey: every key of
	// them all verifies, chosen by the token's `kid` (the key's RFC 7638
	// thumbprint, as the embedded server writes it; with exactly one key a
	// token need not name it). Give the embedded server's old and new key
	// while its signing key is rotated.
	PublicKeys []string `json:"public_keys,omitempty"`

	// Issuer is the required `iss` of JWT access tokens (Issuer or Issuers
	// is required with `jwks_url` or `public_key`); for introspection, the
	// required `iss` of the answer when set.
	Issuer string `json:"issuer,omitempty"`

	// Issuers are more accepted values of `iss`, beside Issuer.
	Issuers []string `json:"issuers,omitempty"`

	// Audience is the value `aud` must be or contain (Audience or
	// Audiences is required for JWT access tokens; for introspection,
	// checked when set).
	Audience string `json:"audience,omitempty"`

	// Audiences are more accepted audiences, beside Audience: `aud` must be
	// or contain one of them all.
	Audiences []string `json:"audiences,omitempty"`

	// Scopes are scopes the token must all grant, read from `scope` (a
	// space-separated string or an array) or `scp`. Default: none.
	Scopes []string `json:"scopes,omitempty"`

	// IntrospectionURL is the AS's RFC 7662 introspection endpoint, for
	// opaque tokens.
	IntrospectionURL string `json:"introspection_url,omitempty"`

	// IntrospectionClientID authenticates this endpoint to the
	// introspection endpoint (HTTP Basic, client_secret_basic).
	IntrospectionClientID string `json:"introspection_client_id,omitempty"`

	// IntrospectionClientSecret goes with IntrospectionClientID; write it as
	// an `{env.NAME}` or `{file./path}` placeholder.
	IntrospectionClientSecret string `json:"introspection_client_secret,omitempty"`

	// ClockSkew is the leeway on `exp`, `nbf` and `iat`. Default: 60s.
	ClockSkew caddy.Duration `json:"clock_skew,omitempty"`

	// JWKSRefreshInterval is how often the JWKS is fetched in the
	// background. Default: 1h.
	JWKSRefreshInterval caddy.Duration `json:"jwks_refresh_interval,omitempty"`

	// JWKSMinRefreshInterval is the least time between two JWKS fetches
	// caused by tokens with an unknown `kid`, so forged tokens cannot make
	// a refresh storm. Default: 1m.
	JWKSMinRefreshInterval caddy.Duration `json:"jwks_min_refresh_interval,omitempty"`
}

// Validate checks the configuration without changing it.
func (b *BearerConfig) Validate() error {
	hasKeys := len(b.keyFiles()) > 0
	hasJWT := b.JWKSURL != "" || hasKeys
	switch {
	case b.JWKSURL != "" && hasKeys:
		return errors.New("bearer: jwks_url and public_key are exclusive: choose one")
	case !hasJWT && b.IntrospectionURL == "":
		return errors.New("bearer: needs jwks_url, public_key or introspection_url")
	case hasJWT && ((b.Issuer == "" && len(b.Issuers) == 0) || (b.Audience == "" && len(b.Audiences) == 0)):
		return errors.New("bearer: JWT access tokens need issuer and audience")
	case b.IntrospectionURL != "" && (b.IntrospectionClientID == "" || b.IntrospectionClientSecret == ""):
		return errors.New("bearer: introspection_url needs introspection_client <client_id> <client_secret>")
	case b.ClockSkew < 0 || b.JWKSRefreshInterval < 0 || b.JWKSMinRefreshInterval < 0:
		return errors.New("bearer: durations must not be negative")
	}
	for name, u := range map[string]string{"jwks_url": b.JWKSURL, "introspection_url": b.IntrospectionURL} {
		if err := CheckHTTPURL(u); err != nil {
			return fmt.Errorf("bearer: %s: %w", name, err)
		}
	}
	return nil
}

// Provision builds the verifier. A JWKS is fetched on ctx, so its
// background refresh ends when the config that owns ctx is unloaded.
func (b *BearerConfig) Provision(ctx caddy.Context) (*Bearer, error) {
	v, err := b.provision(ctx)
	if err != nil {
		return nil, err
	}
	return &Bearer{v}, nil
}

func (b *BearerConfig) provision(ctx caddy.Context) (bearerauth.Verifier, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	var v bearerauth.ByShape
	if b.JWKSURL != "" || len(b.keyFiles()) > 0 {
		jwtV, err := b.provisionJWT(ctx)
		if err != nil {
			return nil, err
		}
		v.JWT = jwtV
	}
	if b.IntrospectionURL != "" {
		opaque, err := b.provisionIntrospection()
		if err != nil {
			return nil, err
		}
		v.Opaque = opaque
	}
	return v, nil
}

func (b *BearerConfig) provisionJWT(ctx caddy.Context) (*bearerauth.JWTVerifier, error) {
	keys, err := b.keySource(ctx)
	if err != nil {
		return nil, err
	}
	v, err := bearerauth.NewJWTVerifier(bearerauth.JWTConfig{
		Keys:           keys,
		Issuer:         b.Issuer,
		Issuers:        b.Issuers,
		Audience:       b.Audience,
		Audiences:      b.Audiences,
		RequiredScopes: b.Scopes,
		ClockSkew:      OrDefault(b.ClockSkew, DefaultClockSkew),
	})
	if err != nil {
		return nil, fmt.Errorf("bearer: %w", err)
	}
	return v, nil
}

// keySource is the JWKS or the fixed public keys.
func (b *BearerConfig) keySource(ctx caddy.Context) (bearerauth.KeySource, error) {
	if files := b.keyFiles(); len(files) > 0 {
		return loadPublicKeys(files)
	}
	logger := ctx.Logger()
	keys, err := bearerauth.NewJWKS(ctx, bearerauth.JWKSConfig{
		URL:                b.JWKSURL,
		RefreshInterval:    time.Duration(b.JWKSRefreshInterval),
		UnknownKIDInterval: time.Duration(b.JWKSMinRefreshInterval),
		OnError: func(err error) {
			logger.Warn("JWKS fetch failed; keeping the keys already known",
				zap.String("jwks_url", b.JWKSURL), zap.Error(err))
		},
		OnKeySkipped: func(err error) {
			logger.Warn("JWKS key left out; the other keys are used",
				zap.String("jwks_url", b.JWKSURL), zap.Error(err))
		},
	})
	if err != nil {
		return nil, fmt.Errorf("bearer: %w", err)
	}
	return keys, nil
}

// keyFiles are the public key files, PublicKey first.
func (b *BearerConfig) keyFiles() []string {
	var files []string
	if b.PublicKey != "" {
		files = append(files, b.PublicKey)
	}
	return append(files, b.PublicKeys...)
}

// loadPublicKeys reads the public key files (placeholders allowed): PEM
// files of one or more keys, or one JWK Set file.
func loadPublicKeys(paths []string) (bearerauth.KeySource, error) {
	var pubs []crypto.PublicKey
	for _, path := range paths {
		data, err := ReadKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("bearer: public_key: %w", err)
		}
		if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
			if len(paths) > 1 {
				return nil, fmt.Errorf("bearer: public_key %s is a JWK Set: give it alone, or put every key in it", path)
			}
			keys, err := bearerauth.NewJWKSFromJSON(trimmed)
			if err != nil {
				return nil, fmt.Errorf("bearer: public_key %s: %w", path, err)
			}
			return keys, nil
		}
		found, err := bearerauth.ParsePublicKeysPEM(data)
		if err != nil {
			return nil, fmt.Errorf("bearer: public_key %s: %w", path, err)
		}
		pubs = append(pubs, found...)
	}
	keys, err := bearerauth.NewStaticKeys(pubs...)
	if err != nil {
		return nil, fmt.Errorf("bearer: public_key: %w", err)
	}
	return keys, nil
}

func (b *BearerConfig) provisionIntrospection() (*bearerauth.IntrospectionVerifier, error) {
	secret, err := ResolveSecret(b.IntrospectionClientSecret)
	if err != nil {
		return nil, fmt.Errorf("bearer: introspection client secret: %w", err)
	}
	v, err := bearerauth.NewIntrospectionVerifier(bearerauth.IntrospectionConfig{
		URL:            b.IntrospectionURL,
		ClientID:       b.IntrospectionClientID,
		ClientSecret:   secret,
		Issuer:         b.Issuer,
		Issuers:        b.Issuers,
		Audience:       b.Audience,
		Audiences:      b.Audiences,
		RequiredScopes: b.Scopes,
		ClockSkew:      OrDefault(b.ClockSkew, DefaultClockSkew),
	})
	if err != nil {
		return nil, fmt.Errorf("bearer: %w", err)
	}
	return v, nil
}

// Bearer is the verifier a provisioned `bearer` block built.
type Bearer struct{ v bearerauth.Verifier }

// Verify checks token and maps a refusal to its RFC 6750 answer: 401
// invalid_token with a Bearer challenge, also for a token without a
// required scope (the contract's table has one answer for every bad token;
// the description names the missing scope); 503 temporarily_unavailable
// when the introspection endpoint failed, which is not the caller's fault.
func (b *Bearer) Verify(ctx context.Context, token string) (*bearerauth.Principal, *oauthresp.Error) {
	p, err := b.v.Verify(ctx, token)
	if err == nil {
		return p, nil
	}
	reason := bearerauth.ReasonOf(err)
	r, ok := bearerRefusals[reason]
	if !ok {
		r = BearerRejected
	}
	if r.Status == http.StatusServiceUnavailable {
		msg := "the token introspection endpoint cannot be reached; try again"
		if reason == bearerauth.ReasonIntrospectionThrottled {
			msg = "too many unknown tokens to introspect right now; try again"
		}
		oerr := r.New("%s", msg)
		oerr.RetryAfter = RetryAfterIntrospection
		return nil, oerr
	}
	detail := "the bearer token was refused"
	var e *bearerauth.Error
	if errors.As(err, &e) && e.Detail != "" {
		detail = fmt.Sprintf("bearer token rejected (%s): %s", e.Reason, e.Detail)
	}
	oerr := r.New("%s", detail)
	return nil, oerr.WithHeader("WWW-Authenticate", oauthresp.BearerChallenge(oauthresp.ErrInvalidToken, oerr.Description))
}
