package caddymodule

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
// their URL and credentials, so a reload reuses the connections and the
// last config using one closes it.

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

// parseRedisStore parses the rest of a redis store; d is on `redis`:
//
//	<name> redis [<url>] [{
//	    url <url>             # instead of the one after redis
//	    username <user>
//	    password <password>   # any bytes; best {env.NAME} or {file./path}
//	    key_prefix <prefix>
//	}]
//
// A literal URL is parsed here so that a bad one is reported with its line;
// one holding placeholders is parsed in Provision. No error here quotes a
// token of the line (the Dispenser's ArgErr does): it may be a password.
func parseRedisStore(d *caddyfile.Dispenser, name string, dst **StoreConfig) error {
	sc := &StoreConfig{Backend: backendRedis}
	if d.NextArg() {
		sc.URL = d.Val()
		if d.NextArg() {
			return d.Errf("%s redis: wrong argument count: one URL (a password goes in the block: password {env.REDIS_PASSWORD})", name)
		}
	}
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		var field *string
		switch opt {
		case "url":
			if sc.URL != "" && !seen[opt] {
				return d.Errf("%s redis: the URL is given twice, after redis and as url", name)
			}
			field = &sc.URL
		case "username":
			field = &sc.Username
		case "password":
			field = &sc.Password
		case "key_prefix":
			field = &sc.KeyPrefix
		default:
			if !optionName.MatchString(opt) { // a URL or password put on a line of its own
				return d.Errf("%s redis: unrecognized option (not shown: it may hold a password); options: url, username, password, key_prefix", name)
			}
			return d.Errf("%s redis: unrecognized option %q", name, opt)
		}
		if seen[opt] {
			return d.Errf("%s redis: %s given more than once", name, opt)
		}
		seen[opt] = true
		args := d.RemainingArgs()
		if len(args) != 1 {
			return d.Errf("%s redis: %s takes exactly one argument (quote a value holding spaces)", name, opt)
		}
		if args[0] == "" {
			return d.Errf("%s redis: %s is empty", name, opt)
		}
		*field = args[0]
	}
	if sc.URL == "" {
		return d.Errf("%s redis needs a URL: `redis <url>`, or `url <url>` in its block; e.g. redis://redis.internal:6379/0 with `password {env.REDIS_PASSWORD}` in the block", name)
	}
	if !strings.Contains(sc.URL, "{") {
		// Stand-ins for the credentials: only whether they are set counts.
		cred := redisstore.Credentials{Username: nonEmpty(sc.Username), Password: nonEmpty(sc.Password)}
		if _, err := redisstore.ParseURL(sc.URL, cred); err != nil {
			return d.Errf("%s: %v", name, err)
		}
	}
	*dst = sc
	return nil
}

// optionName is what an option's name looks like; anything else is not
// quoted in an error.
var optionName = regexp.MustCompile(`^[a-z_]{1,32}$`)

// nonEmpty is "x" if s is set, else "".
func nonEmpty(s string) string {
	if s == "" {
		return ""
	}
	return "x"
}

// pooledRedis is a Redis client in statePool; the last config using it
// closes it.
type pooledRedis struct{ *redis.Client }

func (p pooledRedis) Destruct() error { return p.Close() }

// redisClient resolves the store's URL, username and password (placeholders)
// and returns the pooled client for them and the pool key to release. A
// Redis that is down does not fail the config: each request fails closed
// (replays) or falls back (tokens) until it is back.
func (h *Handler) redisClient(name string, sc *StoreConfig) (*redis.Client, string, error) {
	return pooledRedisClient(h.logger, "sinch_hms", name, sc)
}

// pooledRedisClient is redisClient for any handler of the module (module
// names it in errors); handlers with the same URL and credentials share
// one client. No error holds any part of the password, nor of the URL's
// text (it may hold one).
func pooledRedisClient(logger *zap.Logger, module, name string, sc *StoreConfig) (*redis.Client, string, error) {
	rawURL, err := resolveRedisValue(sc.URL, true)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %s: url: %w", module, name, err)
	}
	var cred redisstore.Credentials
	if sc.Username != "" {
		if cred.Username, err = resolveRedisValue(sc.Username, true); err != nil {
			return nil, "", fmt.Errorf("%s: %s: username: %w", module, name, err)
		}
	}
	if sc.Password != "" {
		// Not trimmed: a password is any bytes ({file.*} drops one
		// trailing newline, as for every secret).
		if cred.Password, err = resolveRedisValue(sc.Password, false); err != nil {
			return nil, "", fmt.Errorf("%s: %s: password: %w", module, name, err)
		}
	}
	opts, err := redisstore.ParseURL(rawURL, cred)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %s: %w", module, name, err)
	}
	key := redisPoolKey(rawURL, cred)
	val, _, err := statePool.LoadOrNew(key, func() (caddy.Destructor, error) {
		c := redis.NewClient(opts)
		go pingRedis(logger, c, redisstore.Describe(opts))
		return pooledRedis{c}, nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("%s: %s: %w", module, name, err)
	}
	return val.(pooledRedis).Client, key, nil
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
