package endpoint

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"

	"github.com/hmsgate/caddy-sinch-hms/redisstore"
)

// ParseStore reads a store: `memory`, or `redis` with a URL and/or a
// block (see parseRedisStore); d is on the store's subdirective.
func ParseStore(d *caddyfile.Dispenser, dst **StoreConfig) error {
	name := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	switch backend := d.Val(); backend {
	case "memory":
		*dst = &StoreConfig{Backend: backend}
	case "redis":
		return parseRedisStore(d, name, dst)
	default:
		if !optionName.MatchString(backend) { // a URL, maybe with a password, without `redis` before it
			return d.Errf("%s: unknown backend (not shown: it may hold a password; supported: memory, redis <url>)", name)
		}
		return d.Errf("%s: unknown backend %q (supported: memory, redis)", name, backend)
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// redisOptions are the options of a `redis { }` block, as errors list them.
const redisOptions = "url, sentinel, cluster, username, password, db, tls, min_replicas_acked, key_prefix"

// parseRedisStore parses the rest of a redis store; d is on `redis`:
//
//	<name> redis [<url>] [{
//	    url <url>                       # standalone (or the URL after redis), or
//	    sentinel <host:port>... {       # the sentinels, or
//	        master <name>               # required
//	        username <user>             # the sentinels' own, if any
//	        password <password>
//	    }
//	    cluster <host:port>...          # seed nodes of a Redis Cluster
//	    username <user>
//	    password <password>             # any bytes; best {env.NAME} or {file./path}
//	    db <number>
//	    tls [{                          # TLS on (system roots without ca_file)
//	        ca_file <path>
//	        server_name <name>
//	        cert_file <path>            # a client certificate: with key_file
//	        key_file <path>
//	        insecure_skip_verify        # logged as a warning on every load
//	    }]
//	    min_replicas_acked <n>          # replay_store only; default 0
//	    key_prefix <prefix>
//	}]
//
// Literal values are checked here so that a bad one is reported with its
// line; ones holding placeholders are checked in Provision. No error here
// quotes a token that may be a password (the Dispenser's ArgErr does).
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
		if !optionName.MatchString(opt) { // a URL or password put on a line of its own
			return d.Errf("%s redis: unrecognized option (not shown: it may hold a password); options: %s", name, redisOptions)
		}
		if opt == "url" && sc.URL != "" && !seen[opt] {
			return d.Errf("%s redis: the URL is given twice, after redis and as url", name)
		}
		if seen[opt] {
			return d.Errf("%s redis: %s given more than once", name, opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "url":
			err = redisValue(d, name, opt, &sc.URL)
		case "username":
			err = redisValue(d, name, opt, &sc.Username)
		case "password":
			err = redisValue(d, name, opt, &sc.Password)
		case "key_prefix":
			err = redisValue(d, name, opt, &sc.KeyPrefix)
		case "db":
			err = redisNumber(d, name, opt, &sc.DB)
		case "min_replicas_acked":
			if name == "token_store" {
				return d.Errf("%s redis: min_replicas_acked belongs to replay_store (a lost token is fetched again; a lost nonce is a replay)", name)
			}
			err = redisNumber(d, name, opt, &sc.MinReplicasAcked)
		case "sentinel":
			sc.Sentinel = new(SentinelConfig)
			err = parseSentinel(d, name, sc.Sentinel)
		case "cluster":
			sc.Cluster = &ClusterConfig{Addrs: d.RemainingArgs()}
			if len(sc.Cluster.Addrs) == 0 {
				return d.Errf("%s redis: cluster needs the seed nodes' addresses: cluster host1:7000 host2:7001 host3:7002", name)
			}
		case "tls":
			sc.TLS = new(TLSConfig)
			err = parseRedisTLS(d, name, sc.TLS)
		default:
			return d.Errf("%s redis: unrecognized option %q; options: %s", name, opt, redisOptions)
		}
		if err != nil {
			return err
		}
	}
	if sc.URL == "" && sc.Sentinel == nil && sc.Cluster == nil {
		return d.Errf("%s redis needs a URL, a sentinel or a cluster: `redis <url>`, or `url <url>`, `sentinel <host:port>... { master <name> }` or `cluster <host:port>...` in its block; e.g. redis://redis.internal:6379/0 with `password {env.REDIS_PASSWORD}` in the block", name)
	}
	if err := sc.Validate(); err != nil {
		return d.Errf("%s redis: %v", name, err)
	}
	if o, ok := literalOptions(sc); ok {
		if err := o.Validate(); err != nil {
			return d.Errf("%s: %v", name, err)
		}
	}
	*dst = sc
	return nil
}

// literalOptions are the redisstore.Options of sc for checking at parse
// time, with stand-ins for the credentials (only whether they are set
// counts); ok is false when a target holds a placeholder, checked in
// Provision instead.
func literalOptions(sc *StoreConfig) (*redisstore.Options, bool) {
	o := &redisstore.Options{URL: sc.URL, DB: sc.DB, MinReplicasAcked: sc.MinReplicasAcked,
		Username: nonEmpty(sc.Username), Password: nonEmpty(sc.Password)}
	targets := []string{sc.URL}
	if s := sc.Sentinel; s != nil {
		o.Sentinel = &redisstore.SentinelOptions{Addrs: s.Addrs, Master: s.Master}
		targets = append(targets, s.Addrs...)
	}
	if c := sc.Cluster; c != nil {
		o.Cluster = c.Addrs
		targets = append(targets, c.Addrs...)
	}
	for _, t := range targets {
		if strings.Contains(t, "{") {
			return nil, false
		}
	}
	if t := sc.TLS; t != nil {
		o.TLS = &redisstore.TLSOptions{CertFile: t.CertFile, KeyFile: t.KeyFile}
	}
	return o, true
}

// parseSentinel parses `sentinel <addr>... { master, username, password }`;
// d is on `sentinel`.
func parseSentinel(d *caddyfile.Dispenser, name string, s *SentinelConfig) error {
	s.Addrs = d.RemainingArgs()
	if len(s.Addrs) == 0 {
		return d.Errf("%s redis: sentinel needs the sentinels' addresses: sentinel host1:26379 host2:26379 host3:26379 { master <name> }", name)
	}
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		var field *string
		switch opt {
		case "master":
			field = &s.Master
		case "username":
			field = &s.Username
		case "password":
			field = &s.Password
		default:
			if !optionName.MatchString(opt) {
				return d.Errf("%s redis: sentinel: unrecognized option (not shown: it may hold a password); options: master, username, password", name)
			}
			return d.Errf("%s redis: sentinel: unrecognized option %q; options: master, username, password", name, opt)
		}
		if seen[opt] {
			return d.Errf("%s redis: sentinel: %s given more than once", name, opt)
		}
		seen[opt] = true
		if err := redisValue(d, name, "sentinel: "+opt, field); err != nil {
			return err
		}
	}
	if s.Master == "" {
		return d.Errf("%s redis: sentinel needs master <name> in its block: the name the sentinels monitor the primary under", name)
	}
	return nil
}

// parseRedisTLS parses `tls [{ ... }]`; d is on `tls`.
func parseRedisTLS(d *caddyfile.Dispenser, name string, t *TLSConfig) error {
	if d.NextArg() {
		return d.Errf("%s redis: tls takes no argument, only a block", name)
	}
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if seen[opt] {
			return d.Errf("%s redis: tls: %s given more than once", name, opt)
		}
		seen[opt] = true
		var err error
		switch opt {
		case "ca_file":
			err = redisValue(d, name, "tls: "+opt, &t.CAFile)
		case "server_name":
			err = redisValue(d, name, "tls: "+opt, &t.ServerName)
		case "cert_file":
			err = redisValue(d, name, "tls: "+opt, &t.CertFile)
		case "key_file":
			err = redisValue(d, name, "tls: "+opt, &t.KeyFile)
		case "insecure_skip_verify":
			if d.NextArg() {
				return d.Errf("%s redis: tls: insecure_skip_verify takes no argument", name)
			}
			t.InsecureSkipVerify = true
		default:
			if !optionName.MatchString(opt) {
				return d.Errf("%s redis: tls: unrecognized option (not shown); options: ca_file, server_name, cert_file, key_file, insecure_skip_verify", name)
			}
			return d.Errf("%s redis: tls: unrecognized option %q; options: ca_file, server_name, cert_file, key_file, insecure_skip_verify", name, opt)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// redisValue reads the one, non-empty argument of opt into dst, never
// quoting it.
func redisValue(d *caddyfile.Dispenser, name, opt string, dst *string) error {
	args := d.RemainingArgs()
	if len(args) != 1 {
		return d.Errf("%s redis: %s takes exactly one argument (quote a value holding spaces)", name, opt)
	}
	if args[0] == "" {
		return d.Errf("%s redis: %s is empty", name, opt)
	}
	*dst = args[0]
	return nil
}

// redisNumber reads the one whole number (0 or more) of opt into dst.
func redisNumber(d *caddyfile.Dispenser, name, opt string, dst *int) error {
	var s string
	if err := redisValue(d, name, opt, &s); err != nil {
		return err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return d.Errf("%s redis: %s must be a whole number, 0 or more", name, opt)
	}
	*dst = n
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
