package caddymodule

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// statePool holds the state that must outlive one config: Huawei token
// caches and replay stores. During a reload the old and the new handler
// overlap; both hold the same entries, and an entry is destroyed only when
// the last config using it is cleaned up.
var statePool = caddy.NewUsagePool()

// pooledReplayStore is a replay store in statePool.
type pooledReplayStore struct{ sinchauth.ReplayStore }

func (pooledReplayStore) Destruct() error { return nil }

// tokenCacheKey names one cache entry: the same HMS application with the
// same secret, token URL and refresh window keeps its token across a reload;
// a changed secret gets a new, empty cache. The secret is hashed so the key
// (which may show up in a debugger or a panic) never holds it.
func (h *Handler) tokenCacheKey(appID, secret string) string {
	sum := sha256.Sum256([]byte(h.HuaweiTokenURL + "\x00" + appID + "\x00" + secret))
	return fmt.Sprintf("sinch_hms.tokens/%s/%d/%s", appID, h.refreshBefore(), hex.EncodeToString(sum[:12]))
}

// loadTokenCache returns the pooled cache for one HMS application, creating
// it (and starting its refresher) on first use, and the pool key to release
// in Cleanup. The newest config's logger takes over the entry's logs.
func (h *Handler) loadTokenCache(appID, secret string) (*pooledTokenCache, string, error) {
	key := h.tokenCacheKey(appID, secret)
	val, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		cred := hmsupstream.Credentials{AppID: appID, AppSecret: secret}
		return newPooledTokenCache(cred, h.HuaweiTokenURL, h.refreshBefore(), h.now, h.logger), nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("sinch_hms: token cache for %q: %w", appID, err)
	}
	p := val.(*pooledTokenCache)
	p.logger.Store(h.logger)
	return p, key, nil
}

// loadReplayStore returns the pooled in-memory replay store. There is one
// per process: nonces are namespaced by application key, and sharing it
// across configs means a reload opens no replay window.
func (h *Handler) loadReplayStore() (sinchauth.ReplayStore, string, error) {
	if h.ReplayStore.isRedis() {
		return h.redisReplayStore()
	}
	const key = "sinch_hms.replay/memory"
	val, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		return pooledReplayStore{sinchauth.NewMemoryReplayStore(currentTime)}, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("sinch_hms: replay store: %w", err)
	}
	return val.(pooledReplayStore).ReplayStore, key, nil
}
