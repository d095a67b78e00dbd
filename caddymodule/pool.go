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

// processNonces is the replay memory of the whole process. It is never
// destroyed: a reload to a config without sinch_hms and back, a switch of
// replay_store between memory and redis, a changed key_prefix, or two
// handlers on different stores cannot open a replay window, since every
// handler's store consults it first (see sinchauth.GuardedReplayStore).
// Memory follows the live nonces: each is forgotten once its assertion has
// expired.
var processNonces = sinchauth.NewMemoryReplayStore(currentTime)

// loadReplayStore returns the handler's replay store: processNonces, in
// front of the pooled Redis store when replay_store is redis; and the pool
// key to release in Cleanup ("" for none).
func (h *Handler) loadReplayStore() (sinchauth.ReplayStore, string, error) {
	if !h.ReplayStore.isRedis() {
		return sinchauth.GuardedReplayStore{Local: processNonces}, "", nil
	}
	shared, key, err := h.redisReplayStore()
	if err != nil {
		return nil, "", err
	}
	return sinchauth.GuardedReplayStore{Local: processNonces, Shared: shared}, key, nil
}
