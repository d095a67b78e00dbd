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
		return pooledTokenCache{tokencache.New(tokencache.Config{RefreshBefore: refreshBefore, Now: now})}, nil
	})
	if err != nil {
		return nil, fmt.Errorf("token cache %s: %w", key, err)
	}
	return val.(pooledTokenCache).Cache, nil
}
