package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Groups of servers (a primary with replicas and sentinels, a cluster)
// take consecutive ports from a range of their own, away from the single
// servers' range: 127.0.0.1:9220-9279 by default, moved by
// SINCH_HMS_TEST_REDIS_GROUP_PORT_BASE (its size stays groupPortCount).
// The process tests (redisha.test), which `go test ./...` runs beside
// redisstore.test, take a range of their own: 9640-9699 by default, or the
// groupPortCount ports after the moved range.
const groupPortCount = 60

func groupPortBase() int {
	own := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test") == "redisha"
	if v, err := strconv.Atoi(os.Getenv("SINCH_HMS_TEST_REDIS_GROUP_PORT_BASE")); err == nil && v > 0 {
		if own {
			return v + groupPortCount
		}
		return v
	}
	if own {
		return 9640
	}
	return 9220
}

// GroupPorts returns n consecutive loopback ports of the group range that
// are free now; the test fails if there are none.
func GroupPorts(t testing.TB, n int) []int {
	t.Helper()
	base := groupPortBase()
	for start := base; start+n <= base+groupPortCount; start++ {
		ports := make([]int, 0, n)
		for p := start; p < start+n; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				break
			}
			_ = l.Close()
			ports = append(ports, p)
		}
		if len(ports) == n {
			return ports
		}
	}
	t.Fatalf("redistest: no %d consecutive free ports in 127.0.0.1:%d-%d", n, base, base+groupPortCount-1)
	return nil
}

// groupPassword is one password for every server of a group: replicas and
// sentinels must log in to the primary, and a hex value can be given on
// the command line and in config files as it is.
func groupPassword() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Replicated is a primary and its replicas, all with Password.
type Replicated struct {
	Primary  *Server
	Replicas []*Server
	Password string
}

// StartReplicated starts a primary and n replicas of it on ports (1+n of
// them, from GroupPorts) and waits until every replica is in sync.
func StartReplicated(t testing.TB, ports []int, n int) *Replicated {
	t.Helper()
	pw := groupPassword()
	g := &Replicated{Password: pw}
	// masterauth on the primary too: after a failover it is a replica.
	g.Primary = StartOn(t, ports[0], Options{Password: pw, Args: replicationArgs(pw)})
	for i := range n {
		g.Replicas = append(g.Replicas, StartOn(t, ports[1+i], Options{Password: pw,
			Args: append(replicationArgs(pw), "--replicaof", "127.0.0.1", strconv.Itoa(ports[0]))}))
	}
	g.WaitInSync(t, g.Primary, n)
	return g
}

// replicationArgs let a server log in to its primary (every server: after
// a failover a primary is a replica), and sync at once rather than after
// redis-server's 5s wait for more replicas to share a diskless transfer.
func replicationArgs(pw string) []string {
	return []string{"--masterauth", pw, "--repl-diskless-sync-delay", "0"}
}

// RestartAsReplica starts s again (stopped or killed) as a replica of
// primary: an old primary brought back after a failover, configured as
// the sentinels would make it, without waiting for them to.
func (s *Server) RestartAsReplica(primary *Server) {
	s.t.Helper()
	s.opts.Args = append(append([]string{}, s.opts.Args...), "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port()))
	s.Restart()
}

// WaitInSync waits (at most 15s) until primary reports n replicas online.
func (g *Replicated) WaitInSync(t testing.TB, primary *Server, n int) {
	t.Helper()
	c := primary.Client()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		info, err := c.Info(ctx, "replication").Result()
		cancel()
		if err == nil && strings.Count(info, ",state=online,") >= n && acked(c, n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %d replicas of %s not in sync after 15s (info: %v, %v)", n, primary.Addr, firstLines(info, 8), err)
		}
		time.Sleep(50 * time.Millisecond) // readiness poll
	}
}

// acked reports whether n replicas acknowledge a write within 2s: online
// replicas may still be loading what they were sent.
func acked(c *redis.Client, n int) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var wait *redis.Cmd
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "redistest:sync", "1", time.Minute)
		wait = p.Do(ctx, "WAIT", n, 2000) // on the connection of the write
		return nil
	})
	got, _ := wait.Int()
	return err == nil && got >= n
}

// Sentinels are a Replicated group watched by sentinels, under MasterName.
type Sentinels struct {
	*Replicated
	MasterName string
	Sentinels  []*Server
	// SentinelPassword is the sentinels' own password (not the data nodes').
	SentinelPassword string
}

// SentinelAddrs are the sentinels' addresses.
func (g *Sentinels) SentinelAddrs() []string { return addrs(g.Sentinels) }

func addrs(servers []*Server) []string {
	var out []string
	for _, s := range servers {
		out = append(out, s.Addr)
	}
	return out
}

// StartSentinels starts a primary, one replica and three sentinels (quorum
// 2) that call the primary down after downAfter and fail over quickly: 5
// ports from GroupPorts.
func StartSentinels(t testing.TB, downAfter time.Duration) *Sentinels {
	t.Helper()
	ports := GroupPorts(t, 5)
	g := &Sentinels{Replicated: StartReplicated(t, ports[:2], 1), MasterName: "sinchtest", SentinelPassword: groupPassword()}
	ms := strconv.Itoa(int(downAfter.Milliseconds()))
	conf := strings.Join([]string{
		"sentinel monitor " + g.MasterName + " 127.0.0.1 " + strconv.Itoa(ports[0]) + " 2",
		"sentinel auth-pass " + g.MasterName + " " + g.Password,
		"sentinel down-after-milliseconds " + g.MasterName + " " + ms,
		"sentinel failover-timeout " + g.MasterName + " 2000",
		"sentinel parallel-syncs " + g.MasterName + " 1",
	}, "\n")
	for _, p := range ports[2:] {
		g.Sentinels = append(g.Sentinels, StartOn(t, p, Options{Password: g.SentinelPassword, Sentinel: conf}))
	}
	// Ready once every sentinel knows the replica and the other sentinels.
	g.waitSentinels(t, "know the replica and each other", func(c *redis.Client, ctx context.Context) (any, bool) {
		m, err := c.Do(ctx, "SENTINEL", "MASTER", g.MasterName).Result()
		return m, err == nil && field(m, "num-slaves") == "1" && field(m, "num-other-sentinels") == "2"
	})
	return g
}

// ReplicaSeen reports whether every sentinel lists addr as a replica
// that is up (flags exactly "slave", link ok): until then, a failover
// would have no replica to promote.
func (g *Sentinels) ReplicaSeen(addr string) bool {
	for _, s := range g.Sentinels {
		c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: g.SentinelPassword, MaxRetries: -1})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		reps, _ := c.Do(ctx, "SENTINEL", "REPLICAS", g.MasterName).Slice()
		cancel()
		_ = c.Close()
		seen := false
		for _, r := range reps {
			seen = seen || field(r, "name") == addr && field(r, "flags") == "slave" && field(r, "master-link-status") == "ok"
		}
		if !seen {
			return false
		}
	}
	return true
}

// waitSentinels polls every sentinel (at most 15s in all) until ok.
func (g *Sentinels) waitSentinels(t testing.TB, what string, ok func(*redis.Client, context.Context) (any, bool)) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, s := range g.Sentinels {
		c := s.Client()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			reply, done := ok(c, ctx)
			cancel()
			if done {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: sentinel %s does not %s after 15s: %v", s.Addr, what, reply)
			}
			time.Sleep(50 * time.Millisecond) // readiness poll
		}
	}
}

// MasterAddr is the primary's address as the first sentinel that answers
// sees it.
func (g *Sentinels) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, s := range g.Sentinels {
		c := redis.NewSentinelClient(&redis.Options{Addr: s.Addr, Password: g.SentinelPassword, MaxRetries: -1})
		addr, err := c.GetMasterAddrByName(ctx, g.MasterName).Result()
		_ = c.Close()
		if err == nil && len(addr) == 2 {
			return net.JoinHostPort(addr[0], addr[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("redistest: no sentinel names the primary: %v", last)
}

// field is one field of a SENTINEL MASTER reply (a flat list or a map).
func field(reply any, name string) string {
	switch r := reply.(type) {
	case []any:
		for i := 0; i+1 < len(r); i += 2 {
			if fmt.Sprint(r[i]) == name {
				return fmt.Sprint(r[i+1])
			}
		}
	case map[any]any:
		if v, ok := r[name]; ok {
			return fmt.Sprint(v)
		}
	}
	return ""
}

// Cluster is a Redis Cluster of primaries, each with replicas, all with
// Password.
type Cluster struct {
	Nodes    []*Server
	Password string
}

// Addrs are every node's address.
func (c *Cluster) Addrs() []string { return addrs(c.Nodes) }

// StartCluster starts primaries*(1+replicas) cluster nodes (two ports each
// from GroupPorts: the client port and the cluster bus port, both in the
// range), joins them with `redis-cli --cluster create` and waits until
// every node sees the cluster ok and every replica in sync.
func StartCluster(t testing.TB, primaries, replicas int) *Cluster {
	t.Helper()
	cli := requireCLI(t)
	n := primaries * (1 + replicas)
	ports := GroupPorts(t, 2*n)
	c := &Cluster{Password: groupPassword()}
	var addrs []string
	for i := range n {
		s := StartOn(t, ports[i], Options{Password: c.Password, Args: append([]string{
			"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "1000", "--cluster-port", strconv.Itoa(ports[n+i]),
		}, replicationArgs(c.Password)...)})
		c.Nodes = append(c.Nodes, s)
		addrs = append(addrs, s.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	cmd := exec.Command(cli, args...)
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+c.Password) // not on the command line
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v: %s", err, lastLines(string(out), 10))
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range c.Nodes {
		cl := s.Client()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			info, err := cl.ClusterInfo(ctx).Result()
			repl, err2 := cl.Info(ctx, "replication").Result()
			cancel()
			synced := strings.Contains(repl, "role:master") || strings.Contains(repl, "master_link_status:up")
			if err == nil && err2 == nil && strings.Contains(info, "cluster_state:ok") && synced {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster node %s not ready after 20s: %v %v", s.Addr, firstLines(info, 3), err)
			}
			time.Sleep(50 * time.Millisecond) // readiness poll
		}
	}
	return c
}

// requireCLI is Require for redis-cli (Debian package redis-tools).
func requireCLI(t testing.TB) string {
	t.Helper()
	return requireBinary(t, "redis-cli", "redis-tools")
}

func requireBinary(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("SINCH_HMS_REQUIRE_REDIS") == "1" {
		t.Fatalf("%s not found on PATH and SINCH_HMS_REQUIRE_REDIS=1: apt-get install -y %s", name, pkg)
	}
	t.Skipf("%s not found on PATH (apt-get install -y %s); set SINCH_HMS_REQUIRE_REDIS=1 to fail instead", name, pkg)
	return ""
}

func firstLines(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[:min(n, len(lines))], " | ")
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
