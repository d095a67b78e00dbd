package bearerauth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hmsgate/caddy-sinch-hms/internal/quote"
)

// AllowedAlgorithms are the JWS algorithms a JWT access token may use:
// asymmetric only. HS* would let anyone holding the "secret" (for a JWKS,
// the public key) mint tokens, and `none` is no signature at all.
var AllowedAlgorithms = []string{"RS256", "PS256", "ES256", "EdDSA"}

// JWTConfig configures a JWT access token verifier (RFC 9068).
type JWTConfig struct {
	// Keys finds the verification key: a JWKS (NewJWKS) or a StaticKey.
	Keys KeySource
	// Issuer is the required `iss`.
	Issuer string
	// Issuers are further accepted values of `iss`: a token's iss must
	// equal Issuer or one of them.
	Issuers []string
	// Audience is the value `aud` must be or contain.
	Audience string
	// Audiences are further accepted audiences: `aud` must be or contain
	// Audience or one of them.
	Audiences []string
	// RequiredScopes must all be granted by the token's scope claim.
	RequiredScopes []string
	// ClockSkew is the leeway on exp, nbf and iat.
	ClockSkew time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// JWTVerifier verifies JWT access tokens. Build it with NewJWTVerifier.
type JWTVerifier struct {
	cfg       JWTConfig
	parser    *jwt.Parser
	issuers   []string
	audiences []string
}

// NewJWTVerifier checks cfg and returns a verifier.
func NewJWTVerifier(cfg JWTConfig) (*JWTVerifier, error) {
	issuers, audiences := accepted(cfg.Issuer, cfg.Issuers), accepted(cfg.Audience, cfg.Audiences)
	switch {
	case cfg.Keys == nil:
		return nil, errors.New("no key source (jwks_url or public_key)")
	case len(issuers) == 0:
		return nil, errors.New("no issuer: a JWT access token's iss must be checked")
	case len(audiences) == 0:
		return nil, errors.New("no audience: a JWT access token's aud must be checked")
	case cfg.ClockSkew < 0:
		return nil, errors.New("negative clock skew")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods(AllowedAlgorithms),
		jwt.WithStrictDecoding(),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(cfg.ClockSkew),
		jwt.WithTimeFunc(cfg.Now),
	)
	return &JWTVerifier{cfg: cfg, parser: parser, issuers: issuers, audiences: audiences}, nil
}

// accepted is one and many, without the empty and repeated values.
func accepted(one string, many []string) []string {
	var out []string
	for _, v := range append([]string{one}, many...) {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// checkIssuerAudience: iss is one of issuers and aud holds one of
// audiences. golang-jwt checks one value of each only.
func checkIssuerAudience(c jwt.MapClaims, issuers, audiences []string) error {
	iss, err := c.GetIssuer()
	switch {
	case err != nil:
		return reject(ReasonMalformed, "claims could not be read")
	case iss == "":
		return reject(ReasonMissingClaim, "a required claim (exp, iss or aud) is missing")
	case !slices.Contains(issuers, iss):
		return reject(ReasonIssuer, "iss is not the configured issuer")
	}
	aud, err := c.GetAudience()
	switch {
	case err != nil:
		return reject(ReasonMalformed, "claims could not be read")
	case len(aud) == 0:
		return reject(ReasonMissingClaim, "a required claim (exp, iss or aud) is missing")
	case !slices.ContainsFunc(aud, func(a string) bool { return slices.Contains(audiences, a) }):
		return reject(ReasonAudience, "aud does not contain the configured audience")
	}
	return nil
}

// Verify implements Verifier. The header is checked (alg, typ, crit)
// before any key is looked up, so a forged token cannot make the JWKS
// refresh unless it at least claims an allowed algorithm.
func (v *JWTVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if token == "" || len(token) > MaxTokenBytes || strings.Count(token, ".") != 2 {
		return nil, reject(ReasonMalformed, "not a compact JWS of at most 8 KiB")
	}
	claims := jwt.MapClaims{}
	tok, err := v.parser.ParseWithClaims(token, claims, v.keyfunc(ctx))
	if err != nil {
		return nil, classify(tok, err)
	}
	if err := checkIssuerAudience(claims, v.issuers, v.audiences); err != nil {
		return nil, err
	}
	scopes, ok := tokenScopes(claims)
	if !ok {
		return nil, reject(ReasonMissingClaim, "scope (or scp) is neither a string nor an array of strings")
	}
	if err := checkScopes(scopes, v.cfg.RequiredScopes); err != nil {
		return nil, err
	}
	return principalOf(claims, scopes), nil
}

// keyfunc checks the header, then asks the key source.
func (v *JWTVerifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	inner := v.cfg.Keys.KeyfuncCtx(ctx)
	return func(t *jwt.Token) (any, error) {
		if err := checkHeader(t.Header); err != nil {
			return nil, err
		}
		key, err := inner(t)
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return nil, e
			}
			kid, _ := t.Header["kid"].(string)
			return nil, &Error{Reason: ReasonUnknownKey, Detail: "no key for kid " + quote.Text(kid, maxQuoted), cause: err}
		}
		return key, nil
	}
}

// checkHeader accepts the media types RFC 9068 and common servers use for
// access tokens (or none), so an ID token or a logout token of the same AS
// cannot pass for an access token when the AS types them; and it refuses a
// crit header, whose extensions golang-jwt would silently ignore.
func checkHeader(h map[string]any) error {
	if _, ok := h["crit"]; ok {
		return reject(ReasonType, "a crit header is not supported")
	}
	typ, present := h["typ"]
	if !present {
		return nil
	}
	s, _ := typ.(string)
	switch strings.ToLower(s) {
	case "at+jwt", "application/at+jwt", "jwt":
		return nil
	}
	return reject(ReasonType, fmt.Sprintf("typ %s is not an access token type (at+jwt or JWT)", quote.Text(s, maxQuoted)))
}

// classify maps a golang-jwt error to a Reason.
func classify(tok *jwt.Token, err error) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return reject(ReasonMalformed, "not a well-formed JWT")
	case errors.Is(err, jwt.ErrTokenUnverifiable), errors.Is(err, jwt.ErrTokenSignatureInvalid) && !allowedAlg(tok):
		return reject(ReasonAlgorithm, fmt.Sprintf("alg %s is not allowed (want one of %s)",
			quote.Text(algOf(tok), maxQuoted), strings.Join(AllowedAlgorithms, ", ")))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return reject(ReasonSignature, "the signature does not verify")
	case errors.Is(err, jwt.ErrTokenExpired):
		return reject(ReasonExpired, "the token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return reject(ReasonNotYetValid, "the token is not valid yet (nbf or iat in the future)")
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return reject(ReasonIssuer, "iss is not the configured issuer")
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return reject(ReasonAudience, "aud does not contain the configured audience")
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return reject(ReasonMissingClaim, "a required claim (exp, iss or aud) is missing")
	}
	return reject(ReasonMalformed, "claims could not be read")
}

func algOf(tok *jwt.Token) string {
	if tok == nil {
		return ""
	}
	s, _ := tok.Header["alg"].(string)
	return s
}

func allowedAlg(tok *jwt.Token) bool { return slices.Contains(AllowedAlgorithms, algOf(tok)) }

// tokenScopes reads `scope` (string or array) and, if absent, `scp`.
func tokenScopes(c jwt.MapClaims) ([]string, bool) {
	if v, ok := c["scope"]; ok {
		return parseScopes(v)
	}
	return parseScopes(c["scp"])
}

func principalOf(c jwt.MapClaims, scopes []string) *Principal {
	p := &Principal{
		Subject: stringClaim(c["sub"]),
		Issuer:  stringClaim(c["iss"]),
		Scopes:  scopes,
	}
	p.ClientID = firstNonEmpty(stringClaim(c["client_id"]), stringClaim(c["azp"]), p.Subject)
	if exp, err := c.GetExpirationTime(); err == nil && exp != nil {
		p.ExpiresAt = exp.Time
	}
	return p
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
