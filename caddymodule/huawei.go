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
	huaweiBreakerThreshold = 2
	huaweiPause            = 30 * time.Second
)

// pooledTokenCache is one HMS application's token cache in statePool,
// together with the fetcher (the credentials) it was made for and the
// background refresher that keeps its token fresh. The refresher lives as
// long as the pool entry: Destruct, which runs when the last config using
// the entry is cleaned up, stops it and waits for it, so no goroutine
// outlives the configs that use the cache.
type pooledTokenCache struct {
	*tokencache.Cache
	fetcher tokencache.Fetcher
	logger  atomic.Pointer[zap.Logger] // of the newest config using the entry
	stop    context.CancelFunc
	done    chan struct{}
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
	client := &hmsupstream.Client{
		TokenURL: tokenURL,
		Timeout:  huaweiAttemptTimeout,
		Now:      now,
		Retry:    hmsupstream.RetryPolicy{Deadline: huaweiDeadline},
		OnRetry:  p.logRetry,
	}
	p.fetcher = client.Fetcher(cred)
	p.Cache = tokencache.New(tokencache.Config{
		RefreshBefore:    refreshBefore,
		Now:              now,
		FetchTimeout:     huaweiFetchTimeout,
		StaleWait:        huaweiStaleWait,
		BreakerThreshold: huaweiBreakerThreshold,
		BreakerCooldown:  huaweiPause,
		OnFetch:          p.logFetch,
	})
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	go func() {
		defer close(p.done)
		p.KeepFresh(ctx, cred.AppID, p.fetcher)
	}()
	return p
}

// logFetch logs every finished Huawei fetch with the HMS App ID (the cache
// key). Neither the secret nor the token is ever in the event.
func (p *pooledTokenCache) logFetch(ev tokencache.FetchEvent) {
	log := p.logger.Load()
	fields := []zap.Field{
		zap.String("hms_application_id", ev.Key),
		zap.Bool("background", ev.Background),
		zap.Duration("duration", ev.Duration),
	}
	if ev.Err == nil {
		log.Info("huawei token fetched", append(fields, zap.Time("expires_at", ev.ExpiresAt))...)
		return
	}
	fields = append(fields, zap.Stringer("kind", tokencache.KindOf(ev.Err)), zap.Error(ev.Err))
	if ev.PausedFor > 0 {
		fields = append(fields, zap.Duration("huawei_paused_for", ev.PausedFor))
	}
	log.Error("huawei token fetch failed", fields...)
}

// logRetry logs a failed attempt that will be retried.
func (p *pooledTokenCache) logRetry(appID string, attempt int, err error, wait time.Duration) {
	p.logger.Load().Warn("huawei token attempt failed; retrying",
		zap.String("hms_application_id", appID),
		zap.Int("attempt", attempt),
		zap.Duration("wait", wait),
		zap.Error(err))
}
