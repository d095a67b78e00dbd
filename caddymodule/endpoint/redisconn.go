package endpoint

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/redisstore"
)

// redisStartupPing bounds the connectivity check made when a client is
// created; it only logs, it never fails the config.
const redisStartupPing = 2 * time.Second

// pooledRedis is a Redis client in the pool; the last config using it
// closes it.
type pooledRedis struct{ redis.UniversalClient }

func (p pooledRedis) Destruct() error { return p.Close() }

// client resolves the store's placeholders into redisstore.Options and
// returns the pooled client for them (one per Options.PoolKey), held by
// holds: handlers and stores naming the same target with the same
// credentials and TLS files share one client, across reloads. A Redis that
// is down does not fail the config: each request fails closed (replays)
// or falls back (tokens) until it is back. No error holds any part of a
// password, nor of the URL's text (it may hold one).
func (sc *StoreConfig) client(logger *zap.Logger, holds *Holds) (redis.UniversalClient, *redisstore.Options, error) {
	opts, err := sc.options()
	if err != nil {
		return nil, nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	key, err := opts.PoolKey() // reads the TLS files: a rotated certificate is a new client
	if err != nil {
		return nil, nil, err
	}
	desc := opts.Describe()
	if opts.TLS != nil && opts.TLS.InsecureSkipVerify {
		// On every config load, not only when the client is made.
		logger.Warn("redis tls: insecure_skip_verify is on: the server's certificate is NOT verified, so anyone on the network path can read the Redis password and answer in Redis's place (and so accept replays); use ca_file instead",
			zap.String("redis", desc))
	}
	val, _, err := pool.LoadOrNew(key, func() (caddy.Destructor, error) {
		c, err := opts.NewClient(nil) // the warning above is ours
		if err != nil {
			return nil, err
		}
		go pingRedis(logger, c, desc)
		return pooledRedis{c}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	holds.add(key)
	return val.(pooledRedis).UniversalClient, opts, nil
}

// options resolves the store's placeholders into redisstore.Options.
// Passwords are not trimmed: a password is any bytes ({file.*} drops one
// trailing newline, as for every secret).
func (sc *StoreConfig) options() (*redisstore.Options, error) {
	o := &redisstore.Options{DB: sc.DB, MinReplicasAcked: sc.MinReplicasAcked, KeyPrefix: sc.KeyPrefix}
	var err error
	if sc.URL != "" {
		if o.URL, err = resolveRedisValue(sc.URL, true); err != nil {
			return nil, fmt.Errorf("url: %w", err)
		}
	}
	if err := resolveOptional("username", sc.Username, &o.Username, true); err != nil {
		return nil, err
	}
	if err := resolveOptional("password", sc.Password, &o.Password, false); err != nil {
		return nil, err
	}
	if s := sc.Sentinel; s != nil {
		o.Sentinel = &redisstore.SentinelOptions{Master: s.Master}
		if o.Sentinel.Addrs, err = resolveAddrs("sentinel", s.Addrs); err != nil {
			return nil, err
		}
		if err := resolveOptional("sentinel: username", s.Username, &o.Sentinel.Username, true); err != nil {
			return nil, err
		}
		if err := resolveOptional("sentinel: password", s.Password, &o.Sentinel.Password, false); err != nil {
			return nil, err
		}
	}
	if c := sc.Cluster; c != nil {
		if o.Cluster, err = resolveAddrs("cluster", c.Addrs); err != nil {
			return nil, err
		}
	}
	if t := sc.TLS; t != nil {
		o.TLS = &redisstore.TLSOptions{InsecureSkipVerify: t.InsecureSkipVerify}
		for _, f := range []struct {
			name     string
			raw      string
			resolved *string
		}{
			{"tls: ca_file", t.CAFile, &o.TLS.CAFile},
			{"tls: server_name", t.ServerName, &o.TLS.ServerName},
			{"tls: cert_file", t.CertFile, &o.TLS.CertFile},
			{"tls: key_file", t.KeyFile, &o.TLS.KeyFile},
		} {
			if err := resolveOptional(f.name, f.raw, f.resolved, true); err != nil {
				return nil, err
			}
		}
	}
	return o, nil
}

// resolveOptional resolves raw into dst unless raw is empty; the error
// names the option.
func resolveOptional(name, raw string, dst *string, trim bool) error {
	if raw == "" {
		return nil
	}
	v, err := resolveRedisValue(raw, trim)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	*dst = v
	return nil
}

// resolveAddrs resolves a list of addresses.
func resolveAddrs(name string, raw []string) ([]string, error) {
	out := make([]string, len(raw))
	for i, a := range raw {
		if err := resolveOptional(fmt.Sprintf("%s address #%d", name, i+1), a, &out[i], true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// exactPlaceholder is a value that is one placeholder and nothing else:
// its text is config, not a secret, and may be named in an error.
var exactPlaceholder = regexp.MustCompile(`^\{(env|file)\.[^{}]+\}$`)

// resolveRedisValue is resolveSecret for a store's values, with errors
// that never quote the value: caddy's replacer quotes the placeholder it
// could not resolve, and `{...}` inside a literal password (or a URL
// holding one) would be quoted with it.
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
// refused request, that Redis cannot be reached, and why (refused, TLS:
// x509 unknown authority, auth), from go-redis's error: it holds no
// password.
func pingRedis(logger *zap.Logger, c redis.UniversalClient, redacted string) {
	ctx, cancel := context.WithTimeout(context.Background(), redisStartupPing)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		logger.Warn("redis cannot be reached: until it can, replay_store redis refuses assertions with 503 (fail closed) and token_store redis fetches from upstream without it",
			zap.String("redis", redacted), zap.Error(err))
		return
	}
	logger.Info("redis store connected", zap.String("redis", redacted))
}
