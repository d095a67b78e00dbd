package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// TestCluster: three primaries, each with a replica. Claims work and a
// replay is refused across instances; one application's keys share one
// slot; WAIT goes to the primary owning the key: with one shard's replica
// frozen, that shard's claims fail closed and the others' do not.
func TestCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	o := Options{Cluster: cl.Addrs()[:2], Password: cl.Password, MinReplicasAcked: 1}
	a, b := optionsClient(t, o), optionsClient(t, o)
	sa, sb := o.NewReplayStore(a, nil), o.NewReplayStore(b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	until := time.Now().Add(time.Minute)
	cc := a.(*redis.ClusterClient)

	// Applications on each of the three shards.
	apps := map[string]string{} // primary address -> application key
	for i := 0; len(apps) < 3 && i < 100; i++ {
		app := fmt.Sprintf("app-%d", i)
		node, err := cc.MasterForKey(ctx, NonceKey(DefaultPrefix, app, "x"))
		if err != nil {
			t.Fatal(err)
		}
		addr := node.Options().Addr
		if _, ok := apps[addr]; !ok {
			apps[addr] = app
		}
	}
	if len(apps) != 3 {
		t.Fatalf("applications found on %d shards, want 3", len(apps))
	}
	for _, app := range apps {
		if ok, err := sa.Claim(ctx, app, "n-1", until); err != nil || !ok {
			t.Fatalf("%s: claim = %v, %v; want fresh", app, ok, err)
		}
		if ok, err := sb.Claim(ctx, app, "n-1", until); err != nil || ok {
			t.Fatalf("%s: the same nonce on another instance = %v, %v; want taken", app, ok, err)
		}
	}

	// One application, one slot: nonces, token and lock.
	slot := func(key string) int64 {
		n, err := cc.ClusterKeySlot(ctx, key).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if s1, s2 := slot(NonceKey(DefaultPrefix, appKey, "n-1")), slot(NonceKey(DefaultPrefix, appKey, "n-2")); s1 != s2 {
		t.Errorf("two nonces of one application on slots %d and %d", s1, s2)
	}
	tok := TokenKey(DefaultPrefix, "123456789", "https://oauth.example/token")
	if s1, s2 := slot(tok), slot(lockKey(tok)); s1 != s2 {
		t.Errorf("a token and its lock on slots %d and %d", s1, s2)
	}
	checkTokenShared(t, "cluster", a, b)

	// Freeze the replica of one shard: only that shard refuses.
	var frozenShard string
	for primary := range apps {
		frozenShard = primary
		break
	}
	replica := replicaOf(t, cl, frozenShard)
	replica.Freeze()
	defer replica.Thaw()
	for primary, app := range apps {
		ok, err := sa.Claim(ctx, app, "n-frozen", until)
		if primary == frozenShard {
			if ok || !errors.Is(err, ErrTooFewReplicas) {
				t.Errorf("%s on the shard whose replica is frozen: %v, %v; want ErrTooFewReplicas", app, ok, err)
			}
		} else if err != nil || !ok {
			t.Errorf("%s on a healthy shard: %v, %v; want fresh (WAIT must go to the key's own primary)", app, ok, err)
		}
	}
	replica.Thaw()
	if ok, err := sa.Claim(ctx, apps[frozenShard], "n-frozen", until); err != nil || !ok {
		t.Errorf("the refused nonce once the replica is back = %v, %v; want fresh", ok, err)
	}
}

// replicaOf is the node replicating the primary at addr.
func replicaOf(t *testing.T, cl *redistest.Cluster, addr string) *redistest.Server {
	t.Helper()
	port := addr[strings.LastIndex(addr, ":")+1:]
	for _, n := range cl.Nodes {
		info, err := n.Client().Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "role:slave") && strings.Contains(info, "master_port:"+port+"\r\n") {
			return n
		}
	}
	t.Fatalf("no replica of %s", addr)
	return nil
}
