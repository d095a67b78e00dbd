package bearerauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"golang.org/x/time/rate"

	"github.com/hmsgate/caddy-sinch-hms/internal/httpclient"
)

// Defaults of a JWKS key source.
const (
	DefaultJWKSRefreshInterval    = time.Hour
	DefaultJWKSUnknownKIDInterval = time.Minute
	DefaultJWKSFetchTimeout       = 5 * time.Second
	// maxJWKSBytes bounds a JWKS document; real ones are a few KiB.
	maxJWKSBytes = 1 << 20
)

// JWKSConfig configures a key source that reads the Authorization
// Server's JSON Web Key Set.
type JWKSConfig struct {
	// URL of the JWKS (the AS metadata's jwks_uri).
	URL string
	// RefreshInterval is how often the JWKS is fetched in the background.
	// Default: DefaultJWKSRefreshInterval.
	RefreshInterval time.Duration
	// UnknownKIDInterval is the least time between two fetches triggered
	// by a token whose kid is not known (an AS that rotated its key, or a
	// forged token). Default: DefaultJWKSUnknownKIDInterval.
	UnknownKIDInterval time.Duration
	// FetchTimeout bounds one fetch, including the first one at start-up.
	// It is also the longest a request waits for the unknown-kid rate
	// limiter. Default: DefaultJWKSFetchTimeout.
	FetchTimeout time.Duration
	// Client makes the requests; a client without a timeout is fine (the
	// fetch timeout applies). Default: http.DefaultClient's transport. A
	// copy is used that follows no redirect.
	Client *http.Client
	// OnError is told of failed fetches (for logging); it may be nil. The
	// error never holds key material.
	OnError func(error)
	// OnKeySkipped is told of each key of a fetched set that is left out
	// (an RSA key under 2048 bits), for a warning; it may be nil. The rest
	// of the set is used. The error names the kid, never key material.
	OnKeySkipped func(error)
}

// NewJWKS returns a KeySource reading cfg.URL. The first fetch happens now
// but a failure does not fail: the AS may be down while Caddy starts, and
// keys are fetched again on the first token with an unknown kid (at most
// once per UnknownKIDInterval) and every RefreshInterval. Background
// refreshing stops when ctx is done: pass the provisioning context, so an
// unloaded config leaves nothing running.
//
// A token must name its key by kid (ReasonMissingKID otherwise), and the
// key must be for signing ("use" sig or absent, "key_ops" with verify if
// present) and, if the JWK has an "alg", be used with that alg only. RSA
// keys under 2048 bits are left out of the set (OnKeySkipped is told).
func NewJWKS(ctx context.Context, cfg JWKSConfig) (KeySource, error) {
	if cfg.URL == "" {
		return nil, errors.New("no JWKS URL")
	}
	cfg = jwksDefaults(cfg)
	onError := func(_ context.Context, err error) {
		if cfg.OnError != nil {
			cfg.OnError(err)
		}
	}
	store, err := jwkset.NewStorageFromHTTP(cfg.URL, jwkset.HTTPClientStorageOptions{
		Client:                    limitedClient(cfg.Client),
		Storage:                   newCheckedSet(cfg.OnKeySkipped),
		Ctx:                       ctx,
		HTTPTimeout:               cfg.FetchTimeout,
		NoErrorReturnFirstHTTPReq: true,
		RefreshErrorHandler:       onError,
		RefreshInterval:           cfg.RefreshInterval,
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", cfg.URL, err)
	}
	client, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{cfg.URL: store},
		// A request waits at most FetchTimeout for the limiter (and the
		// fetch shares that deadline); one that would wait longer fails
		// at once, so a storm of forged kids costs one fetch per interval.
		RateLimitWaitMax:  cfg.FetchTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(cfg.UnknownKIDInterval), 1),
	})
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", cfg.URL, err)
	}
	return &jwksKeys{storage: client}, nil
}

func jwksDefaults(cfg JWKSConfig) JWKSConfig {
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = DefaultJWKSRefreshInterval
	}
	if cfg.UnknownKIDInterval <= 0 {
		cfg.UnknownKIDInterval = DefaultJWKSUnknownKIDInterval
	}
	if cfg.FetchTimeout <= 0 {
		cfg.FetchTimeout = DefaultJWKSFetchTimeout
	}
	return cfg
}

// limitedClient returns a copy of c (or of a default client) that follows
// no redirect (a 3xx is a failed fetch: keys come from the configured URL
// only) and whose responses are cut off at maxJWKSBytes, so a broken or
// hostile JWKS endpoint cannot make us buffer without end.
func limitedClient(c *http.Client) *http.Client {
	out := httpclient.NoRedirects(c)
	base := out.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	out.Transport = limitTransport{base: base, max: maxJWKSBytes}
	return out
}

type limitTransport struct {
	base http.RoundTripper
	max  int64
}

func (t limitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = limitedBody{Reader: io.LimitReader(resp.Body, t.max), Closer: resp.Body}
	return resp, nil
}

type limitedBody struct {
	io.Reader
	io.Closer
}
