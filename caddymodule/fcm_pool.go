package caddymodule

import (
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// loadPooledCache returns the token cache named key from statePool (the
// pool that holds the HMS caches too), creating it on first use. The same
// tokencache serves Huawei and Google tokens, so both keep the same
// promises; the caller releases key in Cleanup.
func loadPooledCache(key string, refreshBefore time.Duration, now func() time.Time) (*tokencache.Cache, error) {
	val, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledCache{tokencache.New(tokencache.Config{
			RefreshBefore: refreshBefore,
			Now:           now,
			// The same bounds as the Huawei side: a caller holding a
			// still-valid token waits at most a second for a refresh, and
			// repeated failures leave Google alone for a while.
			FetchTimeout:     huaweiFetchTimeout,
			StaleWait:        huaweiStaleWait,
			BreakerThreshold: huaweiBreakerThreshold,
			BreakerCooldown:  huaweiPause,
			BreakerMaxPause:  huaweiMaxRetryPause,
		})}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("token cache %s: %w", key, err)
	}
	return val.(pooledCache).Cache, nil
}

// pooledCache is a token cache in statePool with nothing running beside it.
type pooledCache struct{ *tokencache.Cache }

func (pooledCache) Destruct() error { return nil }
