package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// TestSentinelFailover: a primary, a replica and three sentinels (with a
// password of their own). With min_replicas_acked 1, a nonce claimed
// before the primary is SIGKILLed is still taken after the sentinels
// promote the replica; while the new primary has no replica, fresh claims
// fail closed (an error, never a replay), and the same nonce is fresh once
// the old primary is back as its replica.
func TestSentinelFailover(t *testing.T) {
	g := redistest.StartSentinels(t, time.Second)
	o := Options{
		Sentinel: &SentinelOptions{Addrs: g.SentinelAddrs(), Master: g.MasterName, Password: g.SentinelPassword},
		Password: g.Password, MinReplicasAcked: 1,
	}
	c := optionsClient(t, o)
	s := o.NewReplayStore(c, nil)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	checkTokenShared(t, "sentinel-before", c, optionsClient(t, o))

	if ok, err := s.Claim(ctx, appKey, "before-failover", until); err != nil || !ok {
		t.Fatalf("claim before the failover = %v, %v; want fresh", ok, err)
	}
	oldPrimary := g.Primary
	killed := time.Now()
	oldPrimary.Kill()

	// Until the failover, claims fail; after it, the old nonce is taken.
	var failedDuring int
	for {
		ok, err := s.Claim(ctx, appKey, "before-failover", until)
		if err == nil && ok {
			t.Fatalf("the nonce claimed before the failover was accepted again after it")
		}
		if err == nil {
			break
		}
		failedDuring++
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("no failover 20s after the primary was killed: %v", err)
		}
		time.Sleep(100 * time.Millisecond) // Sinch's retry, compressed
	}
	failover := time.Since(killed)
	addr, err := g.MasterAddr(ctx)
	if err != nil || addr != g.Replicas[0].Addr {
		t.Fatalf("the sentinels name %s as primary (%v), want the replica %s", addr, err, g.Replicas[0].Addr)
	}

	// No replica left: a fresh nonce fails closed (503), released.
	ok, err := s.Claim(ctx, appKey, "after-failover", until)
	if ok || !errors.Is(err, ErrTooFewReplicas) {
		t.Fatalf("fresh claim with no replica left = %v, %v; want ErrTooFewReplicas", ok, err)
	}
	// The old primary comes back empty (no persistence), as a replica of
	// the new one.
	oldPrimary.RestartAsReplica(g.Replicas[0])
	restarted := time.Now()
	for {
		ok, err := s.Claim(ctx, appKey, "after-failover", until)
		if err == nil && !ok {
			t.Fatalf("the retried nonce of a claim refused for too few replicas was called a replay")
		}
		if ok {
			break
		}
		if time.Since(restarted) > 20*time.Second {
			t.Fatalf("fresh claims still fail 20s after the old primary came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("sentinel failover: old nonce refused again %v after SIGKILL of the primary (%d claims failed closed meanwhile); fresh claims with min_replicas_acked 1 work %v after the old primary restarted",
		failover.Round(time.Millisecond), failedDuring, time.Since(restarted).Round(time.Millisecond))
	if ok, err := s.Claim(ctx, appKey, "before-failover", until); err != nil || ok {
		t.Errorf("the nonce claimed before the failover, at the end = %v, %v; want taken", ok, err)
	}
	checkTokenShared(t, "sentinel-after", c, optionsClient(t, o))
}
