package hms

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// Bounds of one Huawei fetch: Sinch waits only a few seconds for an
// answer, so one fetch, all retries included, ends within huaweiDeadline
// (and the cache's endpoint.UpstreamFetchTimeout bounds it again).
const (
	huaweiAttemptTimeout = 3 * time.Second
	huaweiDeadline       = 4 * time.Second
)

// huawei is Huawei as the glue shows it: metrics caddy_sinch_hms_huawei_*,
// cache_requests_total and token_seconds_left, the admin API's
// hms_applications and its answers when no token can be had.
var huawei = endpoint.NewKind(endpoint.Kind{
	Name:        "Huawei",
	Noun:        "HMS application",
	IDDesc:      "HMS App ID",
	IDLabel:     "hms_app",
	IDField:     "hms_application_id",
	StatusKey:   "hms_applications",
	QueryParam:  "hms_app",
	Credentials: "credentials",
	Fix:         "check its App ID and App secret",
	Rejected:    endpoint.HuaweiRejected,
	Unavailable: endpoint.HuaweiUnavailable,
}, "sinch_hms", "huawei")

// tokenURL is the configured Huawei token URL or Huawei's.
func (h *Handler) tokenURL() string {
	if h.HuaweiTokenURL == "" {
		return hmsupstream.DefaultTokenURL
	}
	return h.HuaweiTokenURL
}

// loadHuawei attaches the pooled state of one HMS application and sets
// this config's fetch chain on it. The same application with the same
// secret, token URL and refresh window keeps its token across a reload; a
// changed secret gets a new, empty cache. The secret is hashed so the pool
// key (which may show up in a debugger or a panic) never holds it.
func (h *Handler) loadHuawei(appID, secret string) (*endpoint.Upstream, error) {
	refreshBefore := endpoint.OrDefault(h.RefreshBefore, endpoint.DefaultRefreshBefore)
	sum := sha256.Sum256([]byte(h.HuaweiTokenURL + "\x00" + appID + "\x00" + secret))
	u, err := endpoint.LoadUpstream(endpoint.UpstreamConfig{
		Kind:          huawei,
		ID:            appID,
		PoolKey:       fmt.Sprintf("sinch_hms.tokens/%s/%d/%s", appID, refreshBefore, hex.EncodeToString(sum[:12])),
		Host:          hmsupstream.HostOf(h.tokenURL()),
		NewSource:     h.huaweiClient(hmsupstream.Credentials{AppID: appID, AppSecret: secret}),
		RefreshBefore: refreshBefore,
		Now:           h.now,
		Logger:        h.logger,
	}, &h.holds)
	if err != nil {
		return nil, err
	}
	chain, err := h.TokenStore.TokenFetcher(h.logger, h.now, &h.holds, endpoint.SharedToken{
		ID: appID, TokenURL: h.tokenURL(), Secret: secret, MinLife: refreshBefore,
	}, u.Instrumented())
	if err != nil {
		return nil, fmt.Errorf("token_store: %w", err)
	}
	u.Use(chain, !h.DisableMetrics)
	return u, nil
}

// huaweiClient builds the Huawei client of one application, logging its
// retries through the state's newest logger.
func (h *Handler) huaweiClient(cred hmsupstream.Credentials) func(u *endpoint.Upstream) tokencache.Fetcher {
	return func(u *endpoint.Upstream) tokencache.Fetcher {
		attempt, deadline := huaweiAttemptTimeout, huaweiDeadline
		if d := testhook.UpstreamTimeout(); d > 0 {
			attempt, deadline = d, d
		}
		client := &hmsupstream.Client{
			TokenURL: h.HuaweiTokenURL,
			Timeout:  attempt,
			Now:      h.now,
			Retry:    hmsupstream.RetryPolicy{Deadline: deadline},
			OnRetry: func(appID string, attempt int, err error, wait time.Duration) {
				u.Logger().Warn("huawei token attempt failed; retrying",
					zap.String("hms_application_id", appID),
					zap.Int("attempt", attempt),
					zap.Duration("wait", wait),
					zap.Error(err))
			},
		}
		return client.Fetcher(cred)
	}
}
