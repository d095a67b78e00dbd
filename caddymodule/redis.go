package caddymodule

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream"
	"github.com/hmsgate/caddy-sinch-hms/redisstore"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// The `redis` backend of replay_store and token_store: the glue between the
// config and package redisstore. Redis clients live in statePool, keyed by
// their URL, so a reload reuses the connections and the last config using
// one closes it.

const (
	backendMemory = "memory"
	backendRedis  = "redis"
)

// redisStartupPing bounds the connectivity check made when a client is
// created; it only logs, it never fails the config.
const redisStartupPing = 2 * time.Second

// isRedis reports whether s selects the Redis backend.
func (s *StoreConfig) isRedis() bool { return s != nil && s.Backend == backendRedis }

// keyPrefix is the configured key prefix, or redisstore's default.
func (s *StoreConfig) keyPrefix() string {
	if s.KeyPrefix == "" {
		return redisstore.DefaultPrefix
	}
	return s.KeyPrefix
}

// check validates a store config without changing it.
func (s *StoreConfig) check() error {
	if s == nil {
		return nil
	}
	switch s.Backend {
	case "", backendMemory:
		if s.URL != "" || s.KeyPrefix != "" {
			return errors.New("url and key_prefix belong to the redis backend")
		}
	case backendRedis:
		if s.URL == "" {
			return errors.New("the redis backend needs a url")
		}
	default:
		return fmt.Errorf("unknown backend %q (supported: memory, redis)", s.Backend)
	}
	return nil
}

// parseRedisStore parses the rest of `<name> redis <url> [{ key_prefix <p> }]`;
// d is on `redis`. A literal URL is parsed here so that a bad one is
// reported with its line; one holding placeholders is parsed in Provision.
func parseRedisStore(d *caddyfile.Dispenser, name string, dst **StoreConfig) error {
	if !d.NextArg() {
		return d.Errf("%s redis needs a URL, e.g. redis://:{env.REDIS_PASSWORD}@redis.internal:6379/0", name)
	}
	sc := &StoreConfig{Backend: backendRedis, URL: d.Val()}
	if d.NextArg() {
		return d.ArgErr()
	}
	if !strings.Contains(sc.URL, "{") {
		if _, err := redisstore.ParseURL(sc.URL); err != nil {
			return d.Errf("%s: %v", name, err)
		}
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "key_prefix":
			if sc.KeyPrefix != "" {
				return d.Errf("key_prefix given more than once")
			}
			if err := parseSingle(d, &sc.KeyPrefix); err != nil {
				return err
			}
		default:
			return d.Errf("%s redis: unrecognized option %q", name, d.Val())
		}
	}
	*dst = sc
	return nil
}

// pooledRedis is a Redis client in statePool; the last config using it
// closes it.
type pooledRedis struct{ *redis.Client }

func (p pooledRedis) Destruct() error { return p.Close() }

// redisClient resolves the store's URL (it may hold a password placeholder)
// and returns the pooled client for it and the pool key to release. A Redis
// that is down does not fail the config: each request fails closed (replays)
// or falls back (tokens) until it is back.
func (h *Handler) redisClient(name string, sc *StoreConfig) (*redis.Client, string, error) {
	return pooledRedisClient(h.logger, "sinch_hms", name, sc)
}

// pooledRedisClient is redisClient for any handler of the module (module
// names it in errors); handlers with the same URL share one client.
func pooledRedisClient(logger *zap.Logger, module, name string, sc *StoreConfig) (*redis.Client, string, error) {
	rawURL, err := resolveSecret(sc.URL)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %s: url: %w", module, name, err)
	}
	sum := sha256.Sum256([]byte(rawURL))
	key := "sinch_hms.redis/" + hex.EncodeToString(sum[:12]) // hashed: the URL may hold a password
	val, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, err := redisstore.NewClient(rawURL)
		if err != nil {
			return nil, err
		}
		go pingRedis(logger, c, redisstore.Redact(rawURL))
		return pooledRedis{c}, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %s: %w", module, name, err)
	}
	return val.(pooledRedis).Client, key, nil
}

// pingRedis tells the operator at start-up, rather than at the first
// refused request, that Redis cannot be reached.
func pingRedis(logger *zap.Logger, c *redis.Client, redacted string) {
	ctx, cancel := context.WithTimeout(context.Background(), redisStartupPing)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		logger.Warn("redis cannot be reached: until it can, replay_store redis refuses assertions with 503 (fail closed) and token_store redis fetches from upstream without it",
			zap.String("redis", redacted), zap.Error(err))
		return
	}
	logger.Info("redis store connected", zap.String("redis", redacted))
}

// redisReplayStore is loadReplayStore for `replay_store redis`.
func (h *Handler) redisReplayStore() (sinchauth.ReplayStore, string, error) {
	c, key, err := h.redisClient("replay_store", h.ReplayStore)
	if err != nil {
		return nil, "", err
	}
	return &redisstore.ReplayStore{
		Client: c,
		Prefix: h.ReplayStore.KeyPrefix,
		Now:    h.now,
		Logger: h.logger,
	}, key, nil
}

// tokenFetcher puts the Redis token store between the in-memory cache and
// Huawei when `token_store redis` is set; otherwise it returns inner.
func (h *Handler) tokenFetcher(appID, secret string, inner tokencache.Fetcher) (tokencache.Fetcher, error) {
	if !h.TokenStore.isRedis() {
		return inner, nil
	}
	c, key, err := h.redisClient("token_store", h.TokenStore)
	if err != nil {
		return nil, err
	}
	h.pooled = append(h.pooled, key)
	prefix := h.TokenStore.keyPrefix()
	tokenURL := h.HuaweiTokenURL
	if tokenURL == "" {
		tokenURL = hmsupstream.DefaultTokenURL
	}
	return &redisstore.SharedFetcher{
		Client:  c,
		Key:     redisstore.TokenKey(prefix, appID, tokenURL),
		EncKey:  redisstore.DeriveKey(secret),
		Inner:   inner,
		MinLife: h.refreshBefore(),
		Now:     h.now,
		Logger:  h.logger,
	}, nil
}
