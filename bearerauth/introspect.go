package bearerauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
)

// Defaults of an introspection verifier.
const (
	DefaultIntrospectionTimeout   = 5 * time.Second
	DefaultIntrospectionCacheTTL  = 5 * time.Minute
	DefaultIntrospectionCacheSize = 10000
	// maxIntrospectionBytes bounds an introspection answer.
	maxIntrospectionBytes = 64 << 10
)

// IntrospectionConfig configures an RFC 7662 verifier for opaque tokens.
type IntrospectionConfig struct {
	// URL of the AS's introspection endpoint.
	URL string
	// ClientID and ClientSecret authenticate this resource server at the
	// introspection endpoint (client_secret_basic, RFC 6749 §2.3.1).
	ClientID, ClientSecret string
	// Issuer, when set, must equal the answer's `iss`.
	Issuer string
	// Audience, when set, must be (or be in) the answer's `aud`.
	Audience string
	// RequiredScopes must all be in the answer's `scope`.
	RequiredScopes []string
	// ClockSkew is the leeway on exp and nbf.
	ClockSkew time.Duration
	// CacheTTL is the longest an answer is reused; never beyond the
	// token's exp. Default: DefaultIntrospectionCacheTTL. Negative: off.
	CacheTTL time.Duration
	// CacheSize bounds the cached answers. Default: DefaultIntrospectionCacheSize.
	CacheSize int
	// Timeout bounds one introspection call. Default: DefaultIntrospectionTimeout.
	Timeout time.Duration
	// Client makes the requests. Default: a plain http.Client. A copy is
	// used that follows no redirect (a 3xx is an endpoint failure).
	Client *http.Client
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// IntrospectionVerifier verifies opaque tokens by asking the AS.
type IntrospectionVerifier struct {
	cfg   IntrospectionConfig
	cache *resultCache
}

// NewIntrospectionVerifier checks cfg and returns a verifier.
func NewIntrospectionVerifier(cfg IntrospectionConfig) (*IntrospectionVerifier, error) {
	u, err := url.Parse(cfg.URL)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return nil, fmt.Errorf("introspection URL %q is not an absolute http(s) URL", cfg.URL)
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, errors.New("introspection needs a client id and a client secret")
	case cfg.ClockSkew < 0:
		return nil, errors.New("negative clock skew")
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultIntrospectionCacheTTL
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = DefaultIntrospectionCacheSize
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultIntrospectionTimeout
	}
	// A redirect would re-post the caller's token and our credentials
	// elsewhere, and have that host's "active" trusted: none is followed.
	cfg.Client = httpclient.NoRedirects(cfg.Client)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &IntrospectionVerifier{cfg: cfg, cache: newResultCache(cfg.CacheSize)}, nil
}

// introspection is the part of an RFC 7662 §2.2 answer that is checked.
type introspection struct {
	Active   bool            `json:"active"`
	Scope    any             `json:"scope"`
	ClientID string          `json:"client_id"`
	Sub      string          `json:"sub"`
	Iss      string          `json:"iss"`
	Aud      json.RawMessage `json:"aud"`
	Exp      *json.Number    `json:"exp"`
	Nbf      *json.Number    `json:"nbf"`
}

// Verify implements Verifier. A positive answer is cached (by the token's
// SHA-256) until the token's exp or for CacheTTL, whichever comes first;
// a negative one is not, so a token the AS has just issued is never
// refused from the cache.
func (v *IntrospectionVerifier) Verify(ctx context.Context, token string) (*Principal, error) {
	if token == "" || len(token) > MaxTokenBytes {
		return nil, reject(ReasonMalformed, "empty or longer than 8 KiB")
	}
	now := v.cfg.Now()
	key := tokenKey(token)
	if p, ok := v.cache.get(key, now); ok {
		if p.ExpiresAt.IsZero() || now.Before(p.ExpiresAt.Add(v.cfg.ClockSkew)) {
			return p, nil
		}
	}
	ans, err := v.introspect(ctx, token)
	if err != nil {
		return nil, err
	}
	p, err := v.check(ans, now)
	if err != nil {
		return nil, err
	}
	if v.cfg.CacheTTL > 0 {
		until := now.Add(v.cfg.CacheTTL)
		if !p.ExpiresAt.IsZero() && p.ExpiresAt.Before(until) {
			until = p.ExpiresAt
		}
		v.cache.put(key, p, until, now)
	}
	return p, nil
}

// introspect asks the AS about token (RFC 7662 §2.1).
func (v *IntrospectionVerifier) introspect(ctx context.Context, token string) (*introspection, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	body := url.Values{"token": {token}, "token_type_hint": {"access_token"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.cfg.URL, strings.NewReader(body))
	if err != nil {
		return nil, unavailable("building the request", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(v.cfg.ClientID), url.QueryEscape(v.cfg.ClientSecret))
	resp, err := v.cfg.Client.Do(req)
	if err != nil {
		return nil, unavailable("calling the introspection endpoint", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxIntrospectionBytes))
		what := fmt.Sprintf("the introspection endpoint answered HTTP %d", resp.StatusCode)
		if httpclient.IsRedirect(resp.StatusCode) {
			what += ", a redirect, which is not followed"
		}
		return nil, unavailable(what, nil)
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxIntrospectionBytes))
	dec.UseNumber()
	var ans introspection
	if err := dec.Decode(&ans); err != nil {
		return nil, unavailable("the introspection answer is not JSON", nil)
	}
	return &ans, nil
}

// unavailable is a failure of the introspection endpoint: our side's
// problem, not the token's. cause is kept for errors.Is but not shown in
// Detail (a URL error might echo the request).
func unavailable(what string, cause error) *Error {
	return &Error{Reason: ReasonIntrospection, Detail: what, cause: cause}
}

// check applies RFC 7662 §4's advice: active, then the token's own limits.
func (v *IntrospectionVerifier) check(a *introspection, now time.Time) (*Principal, error) {
	if !a.Active {
		return nil, reject(ReasonInactive, "the authorization server says the token is not active")
	}
	p := &Principal{Subject: a.Sub, ClientID: firstNonEmpty(a.ClientID, a.Sub), Issuer: a.Iss}
	if a.Exp != nil {
		exp, err := a.Exp.Int64()
		if err != nil {
			return nil, reject(ReasonMissingClaim, "exp is not an integer")
		}
		p.ExpiresAt = time.Unix(exp, 0)
		if !now.Before(p.ExpiresAt.Add(v.cfg.ClockSkew)) {
			return nil, reject(ReasonExpired, "the token has expired")
		}
	}
	if a.Nbf != nil {
		nbf, err := a.Nbf.Int64()
		if err != nil || now.Add(v.cfg.ClockSkew).Before(time.Unix(nbf, 0)) {
			return nil, reject(ReasonNotYetValid, "the token is not valid yet")
		}
	}
	if v.cfg.Issuer != "" && a.Iss != v.cfg.Issuer {
		return nil, reject(ReasonIssuer, "iss is not the configured issuer")
	}
	if v.cfg.Audience != "" && !audienceContains(a.Aud, v.cfg.Audience) {
		return nil, reject(ReasonAudience, "aud does not contain the configured audience")
	}
	scopes, ok := parseScopes(a.Scope)
	if !ok {
		return nil, reject(ReasonMissingClaim, "scope is neither a string nor an array of strings")
	}
	p.Scopes = scopes
	if err := checkScopes(scopes, v.cfg.RequiredScopes); err != nil {
		return nil, err
	}
	return p, nil
}

// audienceContains reads aud as a string or an array of strings.
func audienceContains(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && slices.Contains(many, want)
}
