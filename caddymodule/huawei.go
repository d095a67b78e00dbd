package caddymodule

import (
	"context"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// Bounds on the Huawei side. Sinch waits only a few seconds for an answer,
// so one fetch, all retries included, ends within huaweiDeadline; a caller
// that holds a still-valid token waits at most huaweiStaleWait for a
// refresh before it gets that token.
const (
	huaweiAttemptTimeout = 3 * time.Second
	huaweiDeadline       = 4 * time.Second
	huaweiFetchTimeout   = huaweiDeadline + time.Second // the cache's outer bound
	huaweiStaleWait      = time.Second
	// After this many failed fetches in a row (each up to three attempts),
	// Huawei is left alone for huaweiPause and requests are answered from
	// memory: the still-valid token, or 503 with the time left.
	// Short on purpose: Sinch itself gets Huawei's full Retry-After; the
	// pause only keeps a crowd of callers from hammering a failing Huawei.
	huaweiBreakerThreshold = 3
	huaweiPause            = 10 * time.Second
	huaweiMaxRetryPause    = 10 * time.Second
)

// testHuaweiTimeout, when a test sets it (nanoseconds), bounds each Huawei
// fetch of the token caches created afterwards to that long, one attempt,
// instead of huaweiAttemptTimeout and huaweiDeadline: so that a test of a
// hanging Huawei need not wait seconds.
var testHuaweiTimeout atomic.Int64

// pooledTokenCache is one HMS application's token cache in statePool,
// together with the fetcher (the credentials) it was made for and the
// background refresher that keeps its token fresh. The refresher lives as
// long as the pool entry: Destruct, which runs when the last config using
// the entry is cleaned up, stops it and waits for it, so no goroutine
// outlives the configs that use the cache.
type pooledTokenCache struct {
	*tokencache.Cache
	huawei tokencache.Fetcher                 // the bare Huawei client for these credentials
	chain  atomic.Pointer[tokencache.Fetcher] // the newest config's fetch chain around huawei
	logger atomic.Pointer[zap.Logger]         // of the newest config using the entry
	stop   context.CancelFunc
	done   chan struct{}
}

// use makes chain (built by the newest config around p.huawei) the way
// this entry fetches, for requests and for the background refresher.
func (p *pooledTokenCache) use(chain tokencache.Fetcher) { p.chain.Store(&chain) }

// Fetch fetches through the newest config's chain, or straight from Huawei
// before any config has set one.
func (p *pooledTokenCache) Fetch(ctx context.Context) (tokencache.Token, error) {
	if f := p.chain.Load(); f != nil {
		return (*f).Fetch(ctx)
	}
	return p.huawei.Fetch(ctx)
}

// Destruct stops the refresher and waits until it has returned.
func (p *pooledTokenCache) Destruct() error {
	p.stop()
	<-p.done
	return nil
}

// newPooledTokenCache builds the client, cache and refresher for one HMS
// application and starts the refresher.
func newPooledTokenCache(cred hmsupstream.Credentials, tokenURL string, refreshBefore time.Duration,
	now func() time.Time, logger *zap.Logger) *pooledTokenCache {
	p := &pooledTokenCache{done: make(chan struct{})}
	p.logger.Store(logger)
	attempt, deadline := huaweiAttemptTimeout, huaweiDeadline
	if d := time.Duration(testHuaweiTimeout.Load()); d > 0 {
		attempt, deadline = d, d
	}
	client := &hmsupstream.Client{
		TokenURL: tokenURL,
		Timeout:  attempt,
		Now:      now,
		Retry:    hmsupstream.RetryPolicy{Deadline: deadline},
		OnRetry:  p.logRetry,
	}
	p.huawei = client.Fetcher(cred)
	p.Cache = tokencache.New(tokencache.Config{
		RefreshBefore:    refreshBefore,
		Now:              now,
		FetchTimeout:     huaweiFetchTimeout,
		StaleWait:        huaweiStaleWait,
		BreakerThreshold: huaweiBreakerThreshold,
		BreakerCooldown:  huaweiPause,
		BreakerMaxPause:  huaweiMaxRetryPause,
		RefreshPause:     forcedRefreshPause,
		OnFetch:          p.logFetch,
	})
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go func() {
		defer close(p.done)
		p.KeepFresh(ctx, cred.AppID, p)
	}()
	return p
}

// logFetch logs when a failed fetch makes the cache leave Huawei alone for
// a while. Each Huawei call itself is logged (and counted) by the config's
// instrumentedFetcher, so a fetch is not logged twice. Neither the secret
// nor the token is ever in the event.
func (p *pooledTokenCache) logFetch(ev tokencache.FetchEvent) {
	if ev.Err == nil || ev.PausedFor <= 0 {
		return
	}
	p.logger.Load().Error("huawei calls paused after repeated failures",
		zap.String("hms_application_id", ev.Key),
		zap.Bool("background", ev.Background),
		zap.Stringer("kind", tokencache.KindOf(ev.Err)),
		zap.Duration("huawei_paused_for", ev.PausedFor),
		zap.Error(ev.Err))
}

// logRetry logs a failed attempt that will be retried.
func (p *pooledTokenCache) logRetry(appID string, attempt int, err error, wait time.Duration) {
	p.logger.Load().Warn("huawei token attempt failed; retrying",
		zap.String("hms_application_id", appID),
		zap.Int("attempt", attempt),
		zap.Duration("wait", wait),
		zap.Error(err))
}
