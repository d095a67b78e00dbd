package caddymodule

import (
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
	"github.com/hmsgate/caddy-sinch-hms/redisstore"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// fcmRedisPrefix keeps Google tokens' Redis keys apart from Huawei's: an
// FCM project number can never collide with an HMS App ID.
const fcmRedisPrefix = "fcm:"

// googleFetcher puts the Redis token store between the in-memory cache and
// Google when `token_store redis` is set, with the very SharedFetcher the
// HMS side uses: one Google fetch for all instances, the token sealed at
// rest under a key derived from the service account's private key (a
// reader of Redis alone cannot use it), and Google fetched directly if
// Redis is down. Otherwise it returns inner.
func (h *FCMHandler) googleFetcher(number string, project *fcmupstream.Project, inner tokencache.Fetcher) (tokencache.Fetcher, error) {
	if !h.TokenStore.isRedis() {
		return inner, nil
	}
	c, key, err := pooledRedisClient(h.logger, "sinch_fcm", "token_store", h.TokenStore)
	if err != nil {
		return nil, err
	}
	h.pooled = append(h.pooled, key)
	prefix := h.TokenStore.keyPrefix()
	digest := project.SecretDigest()
	return &redisstore.SharedFetcher{
		Client:  c,
		Key:     redisstore.TokenKey(prefix, fcmRedisPrefix+number, project.TokenURL()),
		EncKey:  redisstore.DeriveKey(string(digest[:])),
		Inner:   inner,
		MinLife: h.refreshBefore(),
		Now:     h.now,
		Logger:  h.logger,
	}, nil
}
