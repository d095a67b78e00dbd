package endpoint

import (
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/redisstore"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// The `replay_store` and `token_store` blocks: the glue between the config
// and package redisstore. Redis clients live in the pool, one per
// redisstore.Options.PoolKey (the target and everything that shapes the
// connection), so a reload reuses the connections, both stores and every
// handler naming one target share one client, and the last config using
// it closes it (see redisconn.go).

// StoreConfig chooses where shared state lives. For the `redis` backend
// exactly one of URL, Sentinel and Cluster names the Redis.
type StoreConfig struct {
	// Backend is `memory` (the default: this Caddy instance only) or
	// `redis` (shared by every instance using the same Redis).
	Backend string `json:"backend,omitempty"`
	// URL is a standalone Redis for the `redis` backend:
	// `redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, query
	// options as go-redis's ParseURL reads them. Placeholders such as
	// `{env.NAME}` are expanded in Provision. Give the password with
	// Password rather than in the URL, where one holding `/ ? # % @` must
	// be percent-encoded.
	URL string `json:"url,omitempty"`
	// Sentinel finds the primary through Redis Sentinel, instead of URL:
	// go-redis's failover client follows the sentinels to the new primary
	// after a failover.
	Sentinel *SentinelConfig `json:"sentinel,omitempty"`
	// Cluster is a Redis Cluster, instead of URL: go-redis's cluster
	// client, which follows slot moves and failovers.
	Cluster *ClusterConfig `json:"cluster,omitempty"`
	// Username is the Redis ACL user of the data nodes (`redis` backend);
	// placeholders are expanded in Provision. Default: the URL's, or
	// Redis's default user.
	Username string `json:"username,omitempty"`
	// Password is the data nodes' Redis password (`redis` backend), any
	// bytes, never put into a URL and never shown in an error or log.
	// Write it as a `{env.NAME}` or `{file./path}` placeholder, expanded in
	// Provision, so that it stays out of the JSON config. Default: the
	// URL's, or none.
	Password string `json:"password,omitempty"`
	// DB is the database number, for a URL (whose path may give it instead,
	// not both) or Sentinel; a Cluster has database 0 only. Default: 0.
	DB int `json:"db,omitempty"`
	// TLS turns TLS on (for the sentinels too) and says how the servers'
	// certificates are checked. Default: TLS only for a `rediss://` URL,
	// verified against the system's roots.
	TLS *TLSConfig `json:"tls,omitempty"`
	// MinReplicasAcked (replay_store only): with N >= 1 a nonce counts as
	// fresh only once Redis confirms (WAIT, within 500ms) that N replicas
	// hold it, else the assertion is refused with 503 + Retry-After; an
	// accepted assertion is then refused after its primary fails over. 0
	// (the default): Redis replicates asynchronously, and a failover can
	// forget the last nonces accepted.
	MinReplicasAcked int `json:"min_replicas_acked,omitempty"`
	// KeyPrefix starts every Redis key, so that several deployments can share
	// one Redis. Default: `sinch_hms:`.
	KeyPrefix string `json:"key_prefix,omitempty"`
}

// SentinelConfig finds the primary through Redis Sentinel.
type SentinelConfig struct {
	// Addrs are the sentinels, `host:port` (placeholders expanded in
	// Provision). At least one; give every sentinel.
	Addrs []string `json:"addrs,omitempty"`
	// Master is the name the sentinels monitor the primary under
	// (`sentinel monitor <name> ...`). Required.
	Master string `json:"master,omitempty"`
	// Username is the sentinels' own ACL user, if they have one (not the
	// data nodes'). Default: none.
	Username string `json:"username,omitempty"`
	// Password is the sentinels' own password (their `requirepass`), any
	// bytes, never shown; best a `{env.NAME}` or `{file./path}`
	// placeholder. Default: none.
	Password string `json:"password,omitempty"`
}

// ClusterConfig is a Redis Cluster.
type ClusterConfig struct {
	// Addrs are seed nodes, `host:port` (placeholders expanded in
	// Provision); the client learns the rest from them. At least one.
	Addrs []string `json:"addrs,omitempty"`
}

// TLSConfig turns TLS on for a Redis store.
type TLSConfig struct {
	// CAFile is a PEM file of the CAs that verify the servers. Default:
	// the system's roots.
	CAFile string `json:"ca_file,omitempty"`
	// ServerName is the name checked in the servers' certificates.
	// Default: the host dialled.
	ServerName string `json:"server_name,omitempty"`
	// CertFile and KeyFile are a client certificate and its key (PEM),
	// both or neither. Default: none.
	CertFile string `json:"cert_file,omitempty"`
	KeyFile  string `json:"key_file,omitempty"`
	// InsecureSkipVerify turns off every check of the servers'
	// certificates: anyone on the network path can then read the password
	// and answer in Redis's place, and so accept replays. Logged as a
	// warning on every config load. Default: false.
	InsecureSkipVerify bool `json:"insecure_skip_verify,omitempty"`
}

const (
	backendMemory = "memory"
	backendRedis  = "redis"
)

// IsRedis reports whether s selects the Redis backend.
func (s *StoreConfig) IsRedis() bool { return s != nil && s.Backend == backendRedis }

// keyPrefix is the configured key prefix, or redisstore's default.
func (s *StoreConfig) keyPrefix() string {
	if s.KeyPrefix == "" {
		return redisstore.DefaultPrefix
	}
	return s.KeyPrefix
}

// Validate checks a store config without changing it, reading any file
// or resolving any placeholder (Provision does: see options).
func (s *StoreConfig) Validate() error {
	if s == nil {
		return nil
	}
	switch s.Backend {
	case "", backendMemory:
		if *s != (StoreConfig{Backend: s.Backend}) {
			return errors.New("url, sentinel, cluster, username, password, db, tls, min_replicas_acked and key_prefix belong to the redis backend")
		}
	case backendRedis:
		n := 0
		for _, set := range []bool{s.URL != "", s.Sentinel != nil, s.Cluster != nil} {
			if set {
				n++
			}
		}
		switch {
		case n == 0:
			return errors.New("the redis backend needs a url, a sentinel or a cluster")
		case n > 1:
			return errors.New("the redis backend takes one of url, sentinel and cluster")
		case s.Sentinel != nil && (len(s.Sentinel.Addrs) == 0 || s.Sentinel.Master == ""):
			return errors.New("sentinel needs the sentinels' addresses and master <name>")
		case s.Cluster != nil && len(s.Cluster.Addrs) == 0:
			return errors.New("cluster needs at least one address")
		case s.Cluster != nil && s.DB != 0:
			return errors.New("a cluster has database 0 only: drop db")
		case s.DB < 0:
			return errors.New("db must be 0 or more")
		case s.MinReplicasAcked < 0:
			return errors.New("min_replicas_acked must be 0 or more")
		case s.TLS != nil && (s.TLS.CertFile == "") != (s.TLS.KeyFile == ""):
			return errors.New("tls: give cert_file and key_file together")
		}
	default:
		return fmt.Errorf("unknown backend %q (supported: memory, redis)", s.Backend)
	}
	return nil
}

// ReplayStore returns the replay store of a handler: the process's nonce
// memory, in front of the pooled Redis store when the store is redis (s may
// be nil: memory). Every failure of the Redis store (unreachable, failing
// over, TLS refused, too few replicas acknowledging) makes the assertion
// refused with replay_store_unavailable: 503 + Retry-After, never a replay.
func (sc *StoreConfig) ReplayStore(logger *zap.Logger, now func() time.Time, holds *Holds) (sinchauth.ReplayStore, error) {
	if !sc.IsRedis() {
		return sinchauth.GuardedReplayStore{Local: processNonces}, nil
	}
	c, opts, err := sc.client(logger, holds)
	if err != nil {
		return nil, err
	}
	shared := opts.NewReplayStore(c, logger)
	shared.Now = now
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
// the upstream when the store is redis, in every mode (standalone,
// Sentinel, Cluster: the token and its lock share a hash tag): one
// upstream fetch for all instances, the token sealed at rest under a key
// derived from the application's secret (a reader of Redis alone cannot
// use it), and the upstream fetched directly if Redis is down. Otherwise
// it returns inner.
func (sc *StoreConfig) TokenFetcher(logger *zap.Logger, now func() time.Time, holds *Holds, t SharedToken, inner tokencache.Fetcher) (tokencache.Fetcher, error) {
	if !sc.IsRedis() {
		return inner, nil
	}
	if sc.MinReplicasAcked != 0 {
		return nil, errors.New("min_replicas_acked belongs to replay_store: a token store has nothing to protect across a failover (a lost token is fetched again)")
	}
	c, _, err := sc.client(logger, holds)
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
