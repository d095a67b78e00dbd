package redisstore

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Options are one Redis store's settings, as the Caddyfile's block gives
// them (see the package doc): exactly one of URL, Sentinel and Cluster
// names the target, the rest shape the connection and the store.
type Options struct {
	// URL is a standalone Redis: `redis://host:port/db` (`rediss://` for
	// TLS, `unix://` for a socket), as ParseURL takes it.
	URL string
	// Sentinel is a primary found through Redis Sentinel.
	Sentinel *SentinelOptions
	// Cluster are seed addresses (host:port) of a Redis Cluster.
	Cluster []string

	// Username and Password log in to the data nodes (not the sentinels):
	// any bytes, never part of a URL.
	Username string
	Password string
	// DB is the database number; standalone (where the URL's path may give
	// it instead, not both) and Sentinel only: a Cluster has database 0.
	DB int
	// TLS, if set, turns TLS on (for the sentinels too), with these files.
	TLS *TLSOptions

	// MinReplicasAcked (replay store only): with N >= 1, a nonce counts
	// as fresh only once WAIT confirms that N replicas hold it; see
	// ReplayStore.MinReplicasAcked for what each value promises.
	MinReplicasAcked int
	// WaitTimeout bounds that WAIT; 0 = DefaultWaitTimeout. It must be
	// shorter than the read timeout (DefaultIOTimeout, or the URL's).
	WaitTimeout time.Duration
	// KeyPrefix starts every key; "" = DefaultPrefix.
	KeyPrefix string
}

// SentinelOptions find the primary through Redis Sentinel.
type SentinelOptions struct {
	// Addrs are the sentinels (host:port).
	Addrs []string
	// Master is the name the sentinels monitor the primary under.
	Master string
	// Username and Password log in to the sentinels (requirepass or an
	// ACL user there), not to the data nodes.
	Username string
	Password string
}

// TLSOptions turn TLS on. With none of the files, the system's roots
// verify the server.
type TLSOptions struct {
	// CAFile is a PEM file of the CAs that verify the server; "" = the
	// system's.
	CAFile string
	// ServerName is the name checked in the server's certificate; "" = the
	// host dialled (the URL's host, each node's address).
	ServerName string
	// CertFile and KeyFile are a client certificate (PEM), both or neither.
	CertFile, KeyFile string
	// InsecureSkipVerify turns off every check of the server's
	// certificate: anyone on the path can then read the password and
	// answer in Redis's place. NewClient logs a warning whenever it is on.
	InsecureSkipVerify bool
}

// Modes, as Mode names them.
const (
	ModeStandalone = "standalone"
	ModeSentinel   = "sentinel"
	ModeCluster    = "cluster"
)

// DefaultWaitTimeout bounds WAIT when MinReplicasAcked >= 1: a replica on
// the same network acknowledges within milliseconds, and the request waits
// on it while Sinch waits on us. It stays below DefaultIOTimeout, the read
// timeout that also bounds WAIT's reply.
const DefaultWaitTimeout = 500 * time.Millisecond

// Mode is ModeStandalone, ModeSentinel or ModeCluster; "" when none or
// several targets are set (Validate says which).
func (o *Options) Mode() string {
	var modes []string
	if o.URL != "" {
		modes = append(modes, ModeStandalone)
	}
	if o.Sentinel != nil {
		modes = append(modes, ModeSentinel)
	}
	if o.Cluster != nil {
		modes = append(modes, ModeCluster)
	}
	if len(modes) != 1 {
		return ""
	}
	return modes[0]
}

// Validate checks the options without reading any file or reaching any
// server. Its errors never hold any part of a password, nor of the URL's
// text (it may hold one).
func (o *Options) Validate() error {
	_, err := o.check()
	return err
}

// check is Validate, returning the standalone URL's options.
func (o *Options) check() (*redis.Options, error) {
	var set []string
	if o.URL != "" {
		set = append(set, "url")
	}
	if o.Sentinel != nil {
		set = append(set, "sentinel")
	}
	if o.Cluster != nil {
		set = append(set, "cluster")
	}
	if len(set) != 1 {
		if len(set) == 0 {
			return nil, errors.New("redis: no target: give url, sentinel or cluster")
		}
		return nil, fmt.Errorf("redis: give one of url, sentinel and cluster, not %s", strings.Join(set, " and "))
	}
	if o.DB < 0 {
		return nil, errors.New("redis: db must be 0 or more")
	}
	if o.MinReplicasAcked < 0 {
		return nil, errors.New("redis: min_replicas_acked must be 0 or more")
	}
	if o.WaitTimeout < 0 {
		return nil, errors.New("redis: the wait timeout must be positive")
	}
	var std *redis.Options
	switch {
	case o.URL != "":
		var err error
		if std, err = ParseURL(o.URL, Credentials{Username: o.Username, Password: o.Password}); err != nil {
			return nil, err
		}
		if o.DB != 0 && urlNamesDB(o.URL) {
			return nil, errors.New("redis: the URL's path gives a database and db gives one too: give it once")
		}
	case o.Sentinel != nil:
		if err := checkAddrs("sentinel", o.Sentinel.Addrs); err != nil {
			return nil, err
		}
		if o.Sentinel.Master == "" {
			return nil, errors.New("redis: sentinel needs master <name>: the name the sentinels monitor the primary under")
		}
	default:
		if err := checkAddrs("cluster", o.Cluster); err != nil {
			return nil, err
		}
		if o.DB != 0 {
			return nil, errors.New("redis: a cluster has database 0 only: drop db")
		}
	}
	if t := o.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		return nil, errors.New("redis: tls: give cert_file and key_file together")
	}
	if o.MinReplicasAcked > 0 {
		if read := o.readTimeout(std); o.waitTimeout(std) >= read {
			return nil, fmt.Errorf("redis: the wait timeout (%v) must be shorter than the read timeout (%v), which bounds WAIT's reply", o.waitTimeout(std), read)
		}
	}
	return std, nil
}

// readTimeout is the clients' read timeout (the URL may set it).
func (o *Options) readTimeout(std *redis.Options) time.Duration {
	if std != nil && std.ReadTimeout > 0 {
		return std.ReadTimeout
	}
	return DefaultIOTimeout
}

// waitTimeout is WaitTimeout, or its default: DefaultWaitTimeout, or half
// the read timeout if that is shorter.
func (o *Options) waitTimeout(std *redis.Options) time.Duration {
	if o.WaitTimeout > 0 {
		return o.WaitTimeout
	}
	return min(DefaultWaitTimeout, o.readTimeout(std)/2)
}

// urlNamesDB reports whether a URL that ParseURL took has a database path.
func urlNamesDB(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Scheme != "unix" && strings.Trim(u.Path, "/") != "" ||
		err == nil && u.Query().Has("db")
}

// checkAddrs checks a list of host:port addresses (not secret, so named,
// except one that does not parse: it may be a misplaced password).
func checkAddrs(what string, addrs []string) error {
	if len(addrs) == 0 {
		return fmt.Errorf("redis: %s needs at least one address (host:port)", what)
	}
	seen := map[string]bool{}
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" || port == "" {
			return fmt.Errorf("redis: %s address #%d is not host:port (not shown: it may hold a password)", what, i+1)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("redis: %s address %q: the port must be 1-65535", what, a)
		}
		if seen[a] {
			return fmt.Errorf("redis: %s address %q given twice", what, a)
		}
		seen[a] = true
	}
	return nil
}

// tlsConfig reads the TLS files; nil without TLS. std is the standalone
// URL's options (its TLSConfig, from rediss://, is the starting point).
func (o *Options) tlsConfig(std *redis.Options) (*tls.Config, error) {
	t := o.TLS
	if t == nil {
		if std != nil {
			return std.TLSConfig, nil
		}
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify}
	if cfg.ServerName == "" && std != nil && std.Network != "unix" {
		cfg.ServerName, _, _ = net.SplitHostPort(std.Addr)
	}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("redis: tls: read ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("redis: tls: ca_file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	if t.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			// tls's errors name the files and what is wrong, never a key's bytes.
			return nil, fmt.Errorf("redis: tls: load cert_file and key_file: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// NewClient returns the client for these options: redis.NewClient for a
// URL, and through redis.NewUniversalClient redis.NewFailoverClient for
// Sentinel, redis.NewClusterClient for a Cluster, with this package's timeouts and retries (see ParseURL). It
// reads the TLS files but does not connect: a Redis that is down at
// start-up must not stop the config from loading. logger (nil = none)
// receives a warning when InsecureSkipVerify is on. Errors never hold any
// part of a password or of the URL's text.
//
// Make one client per PoolKey and share it: every store and handler that
// names the same target uses the one client, across config reloads.
func (o *Options) NewClient(logger *zap.Logger) (redis.UniversalClient, error) {
	std, err := o.check()
	if err != nil {
		return nil, err
	}
	tlsCfg, err := o.tlsConfig(std)
	if err != nil {
		return nil, err
	}
	if o.TLS != nil && o.TLS.InsecureSkipVerify && logger != nil {
		logger.Warn("redis tls: insecure_skip_verify is on: the server's certificate is NOT verified, so anyone on the network path can read the Redis password and answer in Redis's place (and so accept replays); use ca_file instead",
			zap.String("redis", o.Describe()))
	}
	if o.Mode() == ModeStandalone {
		if o.DB != 0 {
			std.DB = o.DB
		}
		std.TLSConfig = tlsCfg
		return redis.NewClient(std), nil
	}
	u := &redis.UniversalOptions{
		Username:      o.Username,
		Password:      o.Password,
		DB:            o.DB,
		TLSConfig:     tlsCfg,
		DialTimeout:   DefaultDialTimeout,
		ReadTimeout:   DefaultIOTimeout,
		WriteTimeout:  DefaultIOTimeout,
		MaxRetries:    DefaultMaxRetries,
		DialerRetries: DefaultDialerRetries,
	}
	if s := o.Sentinel; s != nil { // NewFailoverClient
		u.Addrs, u.MasterName, u.SentinelUsername, u.SentinelPassword = s.Addrs, s.Master, s.Username, s.Password
	} else { // NewClusterClient, even with one seed address
		u.Addrs, u.IsClusterMode = o.Cluster, true
	}
	return redis.NewUniversalClient(u), nil
}

// NewReplayStore is the ReplayStore these options describe, on c (the
// client of NewClient, shared).
func (o *Options) NewReplayStore(c redis.UniversalClient, logger *zap.Logger) *ReplayStore {
	std, _ := o.check()
	wait := time.Duration(0)
	if o.MinReplicasAcked > 0 {
		wait = o.waitTimeout(std)
	}
	return &ReplayStore{Client: c, Prefix: o.KeyPrefix, Logger: logger,
		MinReplicasAcked: o.MinReplicasAcked, WaitTimeout: wait}
}

// Describe names the target for logs and errors: `redis://host:port/db`
// (as Describe does for a URL), `sentinel://master@addr,addr/db` or
// `cluster://addr,addr`, with `+tls` when TLS is on. It holds no username
// nor password.
func (o *Options) Describe() string {
	var s string
	switch o.Mode() {
	case ModeStandalone:
		opts, err := parseURL(o.URL)
		if err != nil {
			return "(unparsable URL)"
		}
		if o.DB != 0 {
			opts.DB = o.DB
		}
		if s = Describe(opts); opts.TLSConfig != nil {
			return s // rediss:// says it
		}
	case ModeSentinel:
		s = "sentinel://" + o.Sentinel.Master + "@" + strings.Join(o.Sentinel.Addrs, ",") + "/" + strconv.Itoa(o.DB)
	case ModeCluster:
		s = "cluster://" + strings.Join(o.Cluster, ",")
	default:
		return "(no single redis target)"
	}
	if o.TLS != nil {
		s += "+tls"
	}
	return s
}

// poolSalt keys PoolKey's hash, so that a pool key (in a debugger, a
// panic, a log) cannot be checked against guessed passwords. It is one per
// process, as a caddy.UsagePool is.
var poolSalt = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return b
}()

// PoolKey names the connection these options make, for a pool of shared
// clients (caddy.UsagePool): equal for options that make the same client
// (mode, URL, addresses, master, usernames, passwords, db, TLS settings
// and the bytes of the TLS files), different as soon as any of them
// differs, changing a password or rotating a certificate included. It
// leaves out what is per store (MinReplicasAcked, WaitTimeout,
// KeyPrefix): stores that differ only there share a client.
//
// It shows no byte of any of them: `redisstore/<mode>/` and an HMAC under
// a key random to the process, so it is stable for the life of the
// process (across config reloads) and no further. The error (an unreadable
// TLS file, invalid options) is Validate's or names the file.
func (o *Options) PoolKey() (string, error) {
	if _, err := o.check(); err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, poolSalt)
	put := func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(m, "%d:%s;", len(p), p)
		}
	}
	put(o.Mode(), o.URL, o.Username, o.Password, strconv.Itoa(o.DB))
	if s := o.Sentinel; s != nil {
		put(s.Master, s.Username, s.Password, strconv.Itoa(len(s.Addrs)))
		put(s.Addrs...)
	}
	put(strconv.Itoa(len(o.Cluster)))
	put(o.Cluster...)
	if t := o.TLS; t != nil {
		put("tls", t.ServerName, strconv.FormatBool(t.InsecureSkipVerify))
		for _, f := range []string{t.CAFile, t.CertFile, t.KeyFile} {
			if err := putFile(m, f); err != nil {
				return "", err
			}
		}
	}
	return "redisstore/" + o.Mode() + "/" + hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// putFile writes a file's path and bytes into h ("" = no file).
func putFile(h hash.Hash, path string) error {
	fmt.Fprintf(h, "%d:%s;", len(path), path)
	if path == "" {
		return nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("redis: tls: read %s: %w", path, err)
	}
	fmt.Fprintf(h, "%d:", len(b))
	h.Write(b)
	return nil
}
