package endpoint

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hmsgate/caddy-sinch-hms/redisstore"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

func parseStore(t *testing.T, src string) (*StoreConfig, error) {
	t.Helper()
	d := caddyfile.NewTestDispenser(src)
	d.Next()
	var sc *StoreConfig
	err := ParseStore(d, &sc)
	return sc, err
}

// TestParseRedisBlock: the contract's block, each target.
func TestParseRedisBlock(t *testing.T) {
	sc, err := parseStore(t, `replay_store redis {
		sentinel h1:26379 h2:26379 h3:26379 {
			master mymaster
			username sentry
			password {env.SENTINEL_PASSWORD}
		}
		username caddy
		password {env.REDIS_PASSWORD}
		db 3
		tls {
			ca_file /ca.pem
			server_name redis.internal
		}
		min_replicas_acked 1
		key_prefix edge:
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := StoreConfig{Backend: "redis", Username: "caddy", Password: "{env.REDIS_PASSWORD}", DB: 3, MinReplicasAcked: 1, KeyPrefix: "edge:"}
	s, tl := sc.Sentinel, sc.TLS
	sc.Sentinel, sc.TLS = nil, nil
	if *sc != want || s == nil || strings.Join(s.Addrs, " ") != "h1:26379 h2:26379 h3:26379" || s.Master != "mymaster" ||
		s.Username != "sentry" || s.Password != "{env.SENTINEL_PASSWORD}" || tl == nil || *tl != (TLSConfig{CAFile: "/ca.pem", ServerName: "redis.internal"}) {
		t.Errorf("parsed %+v %+v %+v", sc, s, tl)
	}

	sc, err = parseStore(t, "token_store redis {\n cluster a:7000 b:7001\n tls\n}")
	if err != nil || sc.Cluster == nil || len(sc.Cluster.Addrs) != 2 || sc.TLS == nil || *sc.TLS != (TLSConfig{}) {
		t.Errorf("cluster: %+v, %v", sc, err)
	}
	sc, err = parseStore(t, "token_store redis redis://r:6379 {\n db 2\n}")
	if err != nil || sc.DB != 2 {
		t.Errorf("db beside a URL naming none: %+v, %v", sc, err)
	}
	if _, err = parseStore(t, "token_store redis redis://r:6379/1 {\n db 2\n}"); err == nil || !strings.Contains(err.Error(), "give it once") {
		t.Errorf("db beside a URL naming one: %v", err)
	}
}

func TestParseRedisBlockErrors(t *testing.T) {
	for name, tc := range map[string]struct{ src, want string }{
		"two targets":        {"replay_store redis redis://a {\n cluster b:1\n}", "one of url, sentinel and cluster"},
		"sentinel, no addr":  {"replay_store redis {\n sentinel {\n  master m\n }\n}", "sentinel needs the sentinels' addresses"},
		"sentinel no master": {"replay_store redis {\n sentinel a:1 b:2\n}", "needs master <name>"},
		"sentinel unknown":   {"replay_store redis {\n sentinel a:1 {\n  master m\n  pw-in-line\n }\n}", "sentinel: unrecognized option (not shown"},
		"sentinel bad addr":  {"replay_store redis {\n sentinel pw-in-addr {\n  master m\n }\n}", "not host:port (not shown"},
		"cluster, no addr":   {"replay_store redis {\n cluster\n}", "cluster needs the seed nodes"},
		"cluster with db":    {"replay_store redis {\n cluster a:1\n db 1\n}", "database 0 only"},
		"db not a number":    {"replay_store redis redis://a {\n db pw-in-db\n}", "db must be a whole number"},
		"negative replicas":  {"replay_store redis redis://a {\n min_replicas_acked -1\n}", "min_replicas_acked must be a whole number"},
		"token replicas":     {"token_store redis redis://a {\n min_replicas_acked 1\n}", "min_replicas_acked belongs to replay_store"},
		"tls argument":       {"replay_store redis redis://a {\n tls pw-in-tls\n}", "tls takes no argument"},
		"tls cert, no key":   {"replay_store redis redis://a {\n tls {\n  cert_file /c.pem\n }\n}", "cert_file and key_file together"},
		"tls unknown":        {"replay_store redis redis://a {\n tls {\n  verify no\n }\n}", `tls: unrecognized option "verify"`},
		"tls twice":          {"replay_store redis redis://a {\n tls\n tls\n}", "tls given more than once"},
		"skip with value":    {"replay_store redis redis://a {\n tls {\n  insecure_skip_verify pw-in-skip\n }\n}", "takes no argument"},
		"sentinel pw twice":  {"replay_store redis {\n sentinel a:1 {\n  master m\n  password pw-in-1\n  password pw-in-2\n }\n}", "sentinel: password given more than once"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseStore(t, tc.src)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), "Testfile:") {
				t.Errorf("error %q does not name the line", err)
			}
			if strings.Contains(err.Error(), "pw-in") {
				t.Errorf("error %q shows a value that may be a password", err)
			}
		})
	}
}

// TestStoreOptions: placeholders are resolved into redisstore.Options.
func TestStoreOptions(t *testing.T) {
	t.Setenv("SINCH_HMS_TEST_PW", "Hw2@Xk8pGs")
	t.Setenv("SINCH_HMS_TEST_SPW", "Kp7#Lz4qWd")
	sc := &StoreConfig{Backend: "redis", Password: "{env.SINCH_HMS_TEST_PW}", DB: 1, MinReplicasAcked: 2, KeyPrefix: "p:",
		Sentinel: &SentinelConfig{Addrs: []string{"a:1", "b:2"}, Master: "m", Password: "{env.SINCH_HMS_TEST_SPW}"},
		TLS:      &TLSConfig{ServerName: "r.internal", InsecureSkipVerify: true}}
	o, err := sc.options()
	if err != nil {
		t.Fatal(err)
	}
	if o.Password != "Hw2@Xk8pGs" || o.Sentinel.Password != "Kp7#Lz4qWd" || o.Sentinel.Master != "m" || len(o.Sentinel.Addrs) != 2 ||
		o.DB != 1 || o.MinReplicasAcked != 2 || o.KeyPrefix != "p:" || o.TLS.ServerName != "r.internal" || !o.TLS.InsecureSkipVerify {
		t.Errorf("options = %+v", o)
	}
	sc.Sentinel.Password = "{env.SINCH_HMS_TEST_UNSET}"
	if _, err := sc.options(); err == nil || !strings.Contains(err.Error(), "sentinel: password: placeholder {env.SINCH_HMS_TEST_UNSET}") {
		t.Errorf("unset sentinel password: %v", err)
	}
}

// TestStoresShareOneClient: both stores and every handler naming one
// target share one pooled client (per-store settings aside), released by
// the last holder; a different password is another client.
func TestStoresShareOneClient(t *testing.T) {
	core, logs := observer.New(zapcore.WarnLevel)
	logger := zap.New(core)
	replay := &StoreConfig{Backend: "redis", Cluster: &ClusterConfig{Addrs: []string{"127.0.0.1:1"}}, Password: "pw-one",
		MinReplicasAcked: 1, KeyPrefix: "a:", TLS: &TLSConfig{InsecureSkipVerify: true}}
	tokens := &StoreConfig{Backend: "redis", Cluster: &ClusterConfig{Addrs: []string{"127.0.0.1:1"}}, Password: "pw-one",
		KeyPrefix: "b:", TLS: &TLSConfig{InsecureSkipVerify: true}}
	var h1, h2 Holds
	defer h1.Release()
	defer h2.Release()
	c1, _, err := replay.client(logger, &h1)
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := tokens.client(logger, &h2)
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Errorf("replay_store and token_store naming one target got two clients")
	}
	if h1.keys[0] != h2.keys[0] || !strings.HasPrefix(h1.keys[0], "redisstore/cluster/") {
		t.Errorf("pool keys %v %v", h1.keys, h2.keys)
	}
	other := *tokens
	other.Password = "pw-two"
	c3, _, err := other.client(logger, &h2)
	if err != nil || c3 == c1 {
		t.Errorf("another password shares the client (%v)", err)
	}
	warned := 0
	for _, e := range logs.FilterMessageSnippet("insecure_skip_verify").All() {
		warned++
		if strings.Contains(e.Message+fmt.Sprint(e.ContextMap()), "pw-") {
			t.Errorf("the warning shows a password: %v", e)
		}
	}
	if warned != 3 {
		t.Errorf("insecure_skip_verify warned %d times, want once per store loaded (3)", warned)
	}
	if _, err := tokens.TokenFetcher(logger, time.Now, &h2, SharedToken{ID: "1"}, nil); err != nil {
		t.Errorf("token store over a cluster client: %v", err)
	}
	if _, err := replay.TokenFetcher(logger, time.Now, &h2, SharedToken{ID: "1"}, nil); err == nil {
		t.Errorf("a token store with min_replicas_acked accepted")
	}
	s, err := replay.ReplayStore(logger, time.Now, &h1)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := s.(sinchauth.GuardedReplayStore).Shared.(*redisstore.ReplayStore); !ok || r.MinReplicasAcked != 1 || r.Prefix != "a:" || r.Client != c1 {
		t.Errorf("replay store = %+v", s)
	}
}
