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

	"golang.org/x/time/rate"

	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
)

// Defaults of an introspection verifier.
const (
	DefaultIntrospectionTimeout   = 5 * time.Second
	DefaultIntrospectionCacheTTL  = 5 * time.Minute
	DefaultIntrospectionCacheSize = 10000
	// DefaultNegativeCacheTTL is how long a refusal the AS's answer
	// justifies (inactive, expired, wrong iss/aud/scope) is reused.
	DefaultNegativeCacheTTL = 30 * time.Second
	// DefaultIntrospectionRate and DefaultIntrospectionBurst bound the
	// calls to the introspection endpoint: per second, and at once.
	DefaultIntrospectionRate  = 10
	DefaultIntrospectionBurst = 20
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
	// Issuers are further accepted values of `iss`: when Issuer or Issuers
	// is set, the answer's iss must be one of them.
	Issuers []string
	// Audience, when set, must be (or be in) the answer's `aud`.
	Audience string
	// Audiences are further accepted audiences: when Audience or Audiences
	// is set, the answer's aud must be or contain one of them.
	Audiences []string
	// RequiredScopes must all be in the answer's `scope`.
	RequiredScopes []string
	// ClockSkew is the leeway on exp and nbf.
	ClockSkew time.Duration
	// CacheTTL is the longest an answer is reused; never beyond the
	// token's exp. Default: DefaultIntrospectionCacheTTL. Negative: off.
	CacheTTL time.Duration
	// CacheSize bounds the cached answers, positive and negative each.
	// Default: DefaultIntrospectionCacheSize.
	CacheSize int
	// NegativeCacheTTL is how long a refusal justified by the AS's answer
	// (inactive, expired, wrong iss, aud or scope) is reused, so a forged
	// or revoked token sent again costs no call. Default:
	// DefaultNegativeCacheTTL. Negative: off.
	NegativeCacheTTL time.Duration
	// Rate bounds the introspection calls per second and Burst those at
	// once (a token bucket), so a flood of forged opaque tokens cannot make
	// as many calls on the AS. A token neither cached nor within the bound
	// is refused with ReasonIntrospectionThrottled, a Temporary error (the
	// glue answers 503 + Retry-After: the token may be good, it was not
	// checked); cached answers, positive or negative, are still used.
	// Defaults: DefaultIntrospectionRate, DefaultIntrospectionBurst.
	// Negative Rate: unbounded.
	Rate  float64
	Burst int
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
	cfg       IntrospectionConfig
	issuers   []string
	audiences []string
	cache     *resultCache[*Principal]
	refused   *resultCache[*Error] // kept apart: forged tokens cannot evict good answers
	calls     *rate.Limiter        // nil = unbounded
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
	if cfg.NegativeCacheTTL == 0 {
		cfg.NegativeCacheTTL = DefaultNegativeCacheTTL
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultIntrospectionRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultIntrospectionBurst
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
	v := &IntrospectionVerifier{
		cfg:       cfg,
		issuers:   accepted(cfg.Issuer, cfg.Issuers),
		audiences: accepted(cfg.Audience, cfg.Audiences),
		cache:     newResultCache[*Principal](cfg.CacheSize),
		refused:   newResultCache[*Error](cfg.CacheSize),
	}
	if cfg.Rate > 0 {
		v.calls = rate.NewLimiter(rate.Limit(cfg.Rate), cfg.Burst)
	}
	return v, nil
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
// SHA-256) until the token's exp or for CacheTTL, whichever comes first; a
// refusal the answer justifies, for NegativeCacheTTL (short: a token the
// AS has only just issued may have been asked about too early). A token
// found in neither cache is introspected if the call bound allows.
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
	if e, ok := v.refused.get(key, now); ok {
		return nil, e
	}
	if v.calls != nil && !v.calls.AllowN(now, 1) {
		return nil, reject(ReasonIntrospectionThrottled, "too many tokens to introspect at once; try again shortly")
	}
	ans, err := v.introspect(ctx, token)
	if err != nil {
		return nil, err
	}
	p, err := v.check(ans, now)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && cacheableRefusal(e.Reason) && v.cfg.NegativeCacheTTL > 0 {
			v.refused.put(key, e, now.Add(v.cfg.NegativeCacheTTL), now)
		}
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
	if len(v.issuers) > 0 && !slices.Contains(v.issuers, a.Iss) {
		return nil, reject(ReasonIssuer, "iss is not the configured issuer")
	}
	if len(v.audiences) > 0 && !audienceContains(a.Aud, v.audiences) {
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

// audienceContains reads aud as a string or an array of strings and
// reports whether it holds one of want.
func audienceContains(raw json.RawMessage, want []string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return slices.Contains(want, one)
	}
	var many []string
	return json.Unmarshal(raw, &many) == nil && slices.ContainsFunc(many, func(a string) bool { return slices.Contains(want, a) })
}

// cacheableRefusal: the AS's answer, not the moment, refuses the token.
// not_yet_valid is left out (it may become valid within the TTL), and so
// are the endpoint's failures.
func cacheableRefusal(r Reason) bool {
	switch r {
	case ReasonInactive, ReasonExpired, ReasonIssuer, ReasonAudience, ReasonScope, ReasonMissingClaim:
		return true
	}
	return false
}
