package redisstore

import (
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

func TestOptionsValidate(t *testing.T) {
	sentinel := &SentinelOptions{Addrs: []string{"10.0.0.1:26379"}, Master: "mymaster"}
	for name, tc := range map[string]struct {
		o    Options
		want string // "" = valid
	}{
		"url":                     {Options{URL: "redis://redis.internal:6379/0"}, ""},
		"sentinel":                {Options{Sentinel: sentinel, DB: 2}, ""},
		"cluster":                 {Options{Cluster: []string{"a:7000", "b:7001"}, MinReplicasAcked: 1}, ""},
		"none":                    {Options{}, "no target"},
		"two targets":             {Options{URL: "redis://h/0", Cluster: []string{"a:1"}}, "not url and cluster"},
		"sentinel without master": {Options{Sentinel: &SentinelOptions{Addrs: []string{"a:1"}}}, "needs master"},
		"sentinel without addrs":  {Options{Sentinel: &SentinelOptions{Master: "m"}}, "at least one address"},
		"empty cluster":           {Options{Cluster: []string{}}, "at least one address"},
		"cluster with db":         {Options{Cluster: []string{"a:1"}, DB: 1}, "database 0 only"},
		"bad address":             {Options{Cluster: []string{"pw-in-addr"}}, "address #1 is not host:port"},
		"bad port":                {Options{Cluster: []string{"a:0"}}, "port must be"},
		"address twice":           {Options{Cluster: []string{"a:1", "a:1"}}, "given twice"},
		"db twice":                {Options{URL: "redis://h/3", DB: 2}, "give it once"},
		"db beside the url":       {Options{URL: "redis://h", DB: 2}, ""},
		"negative acks":           {Options{URL: "redis://h", MinReplicasAcked: -1}, "0 or more"},
		"cert without key":        {Options{URL: "redis://h", TLS: &TLSOptions{CertFile: "c.pem"}}, "together"},
		"wait past read timeout":  {Options{URL: "redis://h", MinReplicasAcked: 1, WaitTimeout: time.Second}, "shorter than the read timeout"},
		"wait under url timeout":  {Options{URL: "redis://h?read_timeout=3s", MinReplicasAcked: 1, WaitTimeout: time.Second}, ""},
		"password in url twice":   {Options{URL: "redis://:pw-in-url@h", Password: "other"}, "give it once"},
	} {
		err := tc.o.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v; want valid", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v; want %q", name, err, tc.want)
		case err != nil && (strings.Contains(err.Error(), "pw-in") || strings.Contains(err.Error(), "other")):
			t.Errorf("%s: error %q shows a password", name, err)
		}
	}
}

// TestPoolKey: one key per connection, stable, changed by every setting
// of the connection (a password included) and by none of the store's, and
// showing no byte of any password.
func TestPoolKey(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := func() Options {
		return Options{
			Sentinel: &SentinelOptions{Addrs: []string{"s1:26379", "s2:26379"}, Master: "m", Password: "Qz7/pw#1Xy"},
			Username: "edge", Password: redistest.Passwords[10], DB: 1,
			TLS: &TLSOptions{CAFile: ca},
		}
	}
	key := func(o Options) string {
		t.Helper()
		k, err := o.PoolKey()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k0 := key(base())
	if !strings.HasPrefix(k0, "redisstore/sentinel/") {
		t.Errorf("pool key %q does not name its mode", k0)
	}
	if key(base()) != k0 {
		t.Errorf("the same options gave two pool keys")
	}
	same := base()
	same.MinReplicasAcked, same.KeyPrefix, same.WaitTimeout = 1, "other:", 200*time.Millisecond
	if key(same) != k0 {
		t.Errorf("store settings (min_replicas_acked, key_prefix) changed the pool key: stores would not share a client")
	}
	changes := map[string]func(*Options){
		"password":          func(o *Options) { o.Password += "x" },
		"username":          func(o *Options) { o.Username = "other" },
		"db":                func(o *Options) { o.DB = 2 },
		"sentinel password": func(o *Options) { o.Sentinel.Password = "" },
		"sentinel username": func(o *Options) { o.Sentinel.Username = "u" },
		"master":            func(o *Options) { o.Sentinel.Master = "n" },
		"sentinel addrs":    func(o *Options) { o.Sentinel.Addrs = o.Sentinel.Addrs[:1] },
		"server name":       func(o *Options) { o.TLS.ServerName = "redis.internal" },
		"insecure":          func(o *Options) { o.TLS.InsecureSkipVerify = true },
		"no tls":            func(o *Options) { o.TLS = nil },
		"cluster":           func(o *Options) { o.Sentinel, o.Cluster, o.DB = nil, []string{"s1:26379", "s2:26379"}, 0 },
	}
	seen := map[string]string{k0: "base"}
	for name, change := range changes {
		o := base()
		change(&o)
		k := key(o)
		if prev, dup := seen[k]; dup {
			t.Errorf("changing %s gave the pool key of %s", name, prev)
		}
		seen[k] = name
	}
	// A rotated CA file (same path, new bytes) is a new connection.
	if err := os.WriteFile(ca, []byte("second"), 0o600); err != nil {
		t.Fatal(err)
	}
	if key(base()) == k0 {
		t.Errorf("rewriting ca_file did not change the pool key")
	}
	// A key is its mode and 32 hex digits of an HMAC: no room for a
	// password's bytes, whatever the password.
	for k := range seen {
		checkPoolKeyShape(t, k)
	}
	for i, pw := range redistest.Passwords {
		k := key(Options{URL: "redis://:" + url.QueryEscape(pw) + "@h:6379/0"})
		checkPoolKeyShape(t, k)
		if k == key(Options{URL: "redis://:" + url.QueryEscape(pw+"x") + "@h:6379/0"}) {
			t.Errorf("password #%d: another password in the URL gave the same pool key", i)
		}
	}
	if _, err := (&Options{URL: "redis://h", TLS: &TLSOptions{CAFile: filepath.Join(dir, "missing.pem")}}).PoolKey(); err == nil ||
		!strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("PoolKey with a missing ca_file: %v; want an error naming the file", err)
	}
}

func TestOptionsDescribeAndClients(t *testing.T) {
	for _, tc := range []struct {
		o        Options
		describe string
		client   string
	}{
		{Options{URL: "redis://:pw-in-url@redis.internal:6380/2"}, "redis://redis.internal:6380/2", "*redis.Client"},
		{Options{URL: "redis://redis.internal", DB: 4, TLS: &TLSOptions{}}, "redis://redis.internal:6379/4+tls", "*redis.Client"},
		{Options{URL: "rediss://redis.internal"}, "rediss://redis.internal:6379/0", "*redis.Client"},
		{Options{Sentinel: &SentinelOptions{Addrs: []string{"a:1", "b:2"}, Master: "m", Password: "pw-in-sentinel"}, Password: "pw-data"},
			"sentinel://m@a:1,b:2/0", "*redis.Client"},
		{Options{Cluster: []string{"a:1", "b:2"}, Password: "pw-data", TLS: &TLSOptions{ServerName: "x"}}, "cluster://a:1,b:2+tls", "*redis.ClusterClient"},
	} {
		if got := tc.o.Describe(); got != tc.describe {
			t.Errorf("Describe = %q, want %q", got, tc.describe)
		}
		c, err := tc.o.NewClient(nil)
		if err != nil {
			t.Errorf("%s: NewClient: %v", tc.describe, err)
			continue
		}
		if got := typeName(c); got != tc.client {
			t.Errorf("%s: client %s, want %s", tc.describe, got, tc.client)
		}
		_ = c.Close()
	}
	// A store's settings reach the store.
	o := Options{URL: "redis://h", MinReplicasAcked: 2, KeyPrefix: "edge:"}
	s := o.NewReplayStore(nil, nil)
	if s.MinReplicasAcked != 2 || s.Prefix != "edge:" || s.WaitTimeout != DefaultWaitTimeout {
		t.Errorf("NewReplayStore: %d replicas, prefix %q, wait %v", s.MinReplicasAcked, s.Prefix, s.WaitTimeout)
	}
}

func typeName(c redis.UniversalClient) string {
	switch c.(type) {
	case *redis.Client:
		return "*redis.Client"
	case *redis.ClusterClient:
		return "*redis.ClusterClient"
	}
	return "other"
}

var poolKeyShape = regexp.MustCompile(`^redisstore/(standalone|sentinel|cluster)/[0-9a-f]{32}$`)

func checkPoolKeyShape(t *testing.T, k string) {
	t.Helper()
	if !poolKeyShape.MatchString(k) {
		t.Errorf("pool key %q is not redisstore/<mode>/<32 hex digits>", k)
	}
}
