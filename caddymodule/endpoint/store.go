package endpoint

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/redisstore"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// The `replay_store` and `token_store` blocks: the glue between the config
// and package redisstore. Redis clients live in the pool, keyed by their
// URL and credentials, so a reload reuses the connections and the last
// config using one closes it.

// StoreConfig chooses where shared state lives.
type StoreConfig struct {
	// Backend is `memory` (the default: this Caddy instance only) or
	// `redis` (shared by every instance using the same Redis).
	Backend string `json:"backend,omitempty"`
	// URL is the Redis URL for the `redis` backend:
	// `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, query
	// options as go-redis's ParseURL reads them. Placeholders such as
	// `{env.NAME}` are expanded in Provision. Give the password with
	// Password rather than in the URL, where one holding `/ ? # % @` must
	// be percent-encoded.
	URL string `json:"url,omitempty"`
	// Username is the Redis ACL user (`redis` backend); placeholders are
	// expanded in Provision. Default: the URL's, or Redis's default user.
	Username string `json:"username,omitempty"`
	// Password is the Redis password (`redis` backend), any bytes, never
	// put into a URL and never shown in an error or log. Write it as a
	// `{env.NAME}` or `{file./path}` placeholder, expanded in Provision, so
	// that it stays out of the JSON config. Default: the URL's, or none.
	Password string `json:"password,omitempty"`
	// KeyPrefix starts every Redis key, so that several deployments can share
	// one Redis. Default: `sinch_hms:`.
	KeyPrefix string `json:"key_prefix,omitempty"`
}

const (
	backendMemory = "memory"
	backendRedis  = "redis"
)

// redisStartupPing bounds the connectivity check made when a client is
// created; it only logs, it never fails the config.
const redisStartupPing = 2 * time.Second

// IsRedis reports whether s selects the Redis backend.
func (s *StoreConfig) IsRedis() bool { return s != nil && s.Backend == backendRedis }

// keyPrefix is the configured key prefix, or redisstore's default.
func (s *StoreConfig) keyPrefix() string {
	if s.KeyPrefix == "" {
		return redisstore.DefaultPrefix
	}
	return s.KeyPrefix
}

// Validate checks a store config without changing it.
func (s *StoreConfig) Validate() error {
	if s == nil {
		return nil
	}
	switch s.Backend {
	case "", backendMemory:
		if s.URL != "" || s.KeyPrefix != "" || s.Username != "" || s.Password != "" {
			return errors.New("url, username, password and key_prefix belong to the redis backend")
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

// pooledRedis is a Redis client in the pool; the last config using it
// closes it.
type pooledRedis struct{ *redis.Client }

func (p pooledRedis) Destruct() error { return p.Close() }

// client resolves the store's URL, username and password (placeholders)
// and returns the pooled client for them, held by holds. Handlers with the
// same URL and credentials share one client. A Redis that is down does not
// fail the config: each request fails closed (replays) or falls back
// (tokens) until it is back. No error holds any part of the password, nor
// of the URL's text (it may hold one).
func (sc *StoreConfig) client(logger *zap.Logger, holds *Holds) (*redis.Client, error) {
	rawURL, err := resolveRedisValue(sc.URL, true)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	var cred redisstore.Credentials
	if sc.Username != "" {
		if cred.Username, err = resolveRedisValue(sc.Username, true); err != nil {
			return nil, fmt.Errorf("username: %w", err)
		}
	}
	if sc.Password != "" {
		// Not trimmed: a password is any bytes ({file.*} drops one
		// trailing newline, as for every secret).
		if cred.Password, err = resolveRedisValue(sc.Password, false); err != nil {
			return nil, fmt.Errorf("password: %w", err)
		}
	}
	opts, err := redisstore.ParseURL(rawURL, cred)
	if err != nil {
		return nil, err
	}
	key := redisPoolKey(rawURL, cred)
	val, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		c := redis.NewClient(opts)
		go pingRedis(logger, c, redisstore.Describe(opts))
		return pooledRedis{c}, nil
	})
	if err != nil {
		return nil, err
	}
	holds.add(key)
	return val.(pooledRedis).Client, nil
}

// redisPoolSalt keys the pool's hash of URL and credentials, so that a
// pool key (in a debugger, a panic) cannot be checked against guessed
// passwords.
var redisPoolSalt = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}()

// redisPoolKey names the client for one URL and credentials.
func redisPoolKey(rawURL string, cred redisstore.Credentials) string {
	m := hmac.New(sha256.New, redisPoolSalt)
	for _, part := range []string{rawURL, cred.Username, cred.Password} {
		fmt.Fprintf(m, "%d:%s", len(part), part)
	}
	return "sinch_hms.redis/" + hex.EncodeToString(m.Sum(nil)[:12])
}

// exactPlaceholder is a value that is one placeholder and nothing else:
// its text is config, not a secret, and may be named in an error.
var exactPlaceholder = regexp.MustCompile(`^\{(env|file)\.[^{}]+\}$`)

// resolveRedisValue is resolveSecret for a store's url, username and
// password, with errors that never quote the value: caddy's replacer
// quotes the placeholder it could not resolve, and `{...}` inside a
// literal password (or a URL holding one) would be quoted with it.
func resolveRedisValue(raw string, trim bool) (string, error) {
	s, err := caddy.NewReplacer().ReplaceOrErr(raw, true, true)
	if err != nil {
		if exactPlaceholder.MatchString(raw) {
			return "", fmt.Errorf("placeholder %s could not be resolved: not set, unreadable or empty", raw)
		}
		return "", errors.New("a placeholder in it could not be resolved, or is empty (the value is not shown: it may hold a password; braces in a literal value are written \\{ \\})")
	}
	if trim {
		s = strings.TrimSpace(s)
	}
	if s == "" {
		return "", errors.New("resolves to an empty value")
	}
	return s, nil
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

// ReplayStore returns the replay store of a handler: the process's nonce
// memory, in front of the pooled Redis store when the store is redis (s may
// be nil: memory).
func (sc *StoreConfig) ReplayStore(logger *zap.Logger, now func() time.Time, holds *Holds) (sinchauth.ReplayStore, error) {
	if !sc.IsRedis() {
		return sinchauth.GuardedReplayStore{Local: processNonces}, nil
	}
	c, err := sc.client(logger, holds)
	if err != nil {
		return nil, err
	}
	shared := &redisstore.ReplayStore{Client: c, Prefix: sc.KeyPrefix, Now: now, Logger: logger}
	return sinchauth.GuardedReplayStore{Local: processNonces, Shared: shared}, nil
}

// SharedToken says how a token is shared through a redis token_store.
type SharedToken struct {
	ID       string // the application's ID, unique within its kind's key space
	TokenURL string // the upstream's token URL: part of the key
	Secret   string // what the token is sealed with at rest
	MinLife  time.Duration
}

// TokenFetcher puts the Redis token store between the in-memory cache and
// the upstream when the store is redis: one upstream fetch for all
// instances, the token sealed at rest under a key derived from the
// application's secret (a reader of Redis alone cannot use it), and the
// upstream fetched directly if Redis is down. Otherwise it returns inner.
func (sc *StoreConfig) TokenFetcher(logger *zap.Logger, now func() time.Time, holds *Holds, t SharedToken, inner tokencache.Fetcher) (tokencache.Fetcher, error) {
	if !sc.IsRedis() {
		return inner, nil
	}
	c, err := sc.client(logger, holds)
	if err != nil {
		return nil, err
	}
	return &redisstore.SharedFetcher{
		Client:  c,
		Key:     redisstore.TokenKey(sc.keyPrefix(), t.ID, t.TokenURL),
		EncKey:  redisstore.DeriveKey(t.Secret),
		Inner:   inner,
		MinLife: t.MinLife,
		Now:     now,
		Logger:  logger,
	}, nil
}
