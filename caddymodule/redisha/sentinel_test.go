package redisha

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// sentinelStores are both stores on the Sentinel group g, the replay
// store with min_replicas_acked 1; the passwords come from the
// environment (sentinelEnv).
func sentinelStores(g *redistest.Sentinels) string {
	block := fmt.Sprintf(`redis {
				sentinel %s {
					master %s
					password {env.SENTINEL_PASSWORD}
				}
				password {env.REDIS_PASSWORD}
				%%s
			}`, strings.Join(g.SentinelAddrs(), " "), g.MasterName)
	return "replay_store " + fmt.Sprintf(block, "min_replicas_acked 1") + "\n\t\t\ttoken_store " + fmt.Sprintf(block, "")
}

func sentinelEnv(g *redistest.Sentinels) []string {
	return []string{"REDIS_PASSWORD=" + g.Password, "SENTINEL_PASSWORD=" + g.SentinelPassword}
}

// TestSentinelFailoverTwoInstances: a primary, a replica, three sentinels
// and two Caddy processes. The primary is SIGKILLed while fresh
// assertions and replays of accepted ones keep coming to both instances;
// once the sentinels have promoted the replica, the old primary is
// started again as its replica (as its supervisor would). Every answer is
// 200 or 503 + Retry-After for a fresh assertion, never 200 for a replay;
// the assertion accepted on instance 1 before the kill is refused on
// instance 2 after it; the Huawei token fetched before is reused after.
func TestSentinelFailoverTwoInstances(t *testing.T) {
	g := redistest.StartSentinels(t, time.Second)
	emu := harness.NewHuawei(t)
	ins := startInstances(t, 2, emu.URL, sentinelStores(g), sentinelEnv(g)...)
	one, two := ins[0], ins[1]

	before := mint(false)
	a := post(one.URL, before)
	if a.Status != 200 {
		t.Fatalf("instance 1, before the kill: %v\n%s", a, one.Log())
	}
	token := a.Token
	if a := post(two.URL, mint(false)); a.Status != 200 || a.Token != token {
		t.Fatalf("instance 2, before the kill: %v (same token: %v)", a, a.Token == token)
	}
	callsBefore := emu.Calls()

	// The load: fresh assertions to both instances, and a replay, to the
	// other instance, of each one accepted.
	var (
		mu             sync.Mutex
		fresh, replays = map[string]int{}, map[string]int{}
		bad            []string
		first503       time.Time
		killed         time.Time
		recovered      = map[int]time.Duration{}
		stop           = make(chan struct{})
		wg             sync.WaitGroup
	)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				from, to := ins[(w+i)%2], ins[(w+i+1)%2]
				as := mint(false)
				a := post(from.URL, as)
				now := time.Now()
				mu.Lock()
				fresh[a.String()[:3]]++
				switch {
				case a.Status == 200:
					if !killed.IsZero() {
						if _, ok := recovered[(w+i)%2]; !ok {
							recovered[(w+i)%2] = now.Sub(killed)
						}
					}
				case a.unavailable():
					if first503.IsZero() {
						first503 = now
					}
				default:
					bad = append(bad, "fresh assertion on "+from.Name+": "+a.String())
				}
				mu.Unlock()
				if a.Status == 200 {
					r := post(to.URL, as)
					mu.Lock()
					replays[r.String()[:3]]++
					if !r.replay() && !r.unavailable() {
						bad = append(bad, "replay on "+to.Name+": "+r.String())
					}
					mu.Unlock()
				}
				time.Sleep(20 * time.Millisecond) // a steady trickle, not a flood
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)

	oldPrimary, replica := g.Primary, g.Replicas[0]
	mu.Lock()
	killed = time.Now()
	mu.Unlock()
	oldPrimary.Kill()
	ctx := context.Background()
	var promoted time.Duration
	for {
		if addr, err := g.MasterAddr(ctx); err == nil && addr == replica.Addr {
			promoted = time.Since(killed)
			break
		}
		if time.Since(killed) > 20*time.Second {
			t.Fatalf("the sentinels promoted no replica within 20s")
		}
		time.Sleep(50 * time.Millisecond) // readiness poll
	}
	oldPrimary.RestartAsReplica(replica)
	restarted := time.Since(killed)

	const bound = 15 * time.Second
	deadline := time.Now().Add(bound)
	for {
		mu.Lock()
		n := len(recovered)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fresh assertions not answered 200 by both instances within %v of the kill (recovered: %v)", bound, recovered)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // some load after the recovery
	close(stop)
	wg.Wait()

	// The assertion accepted on instance 1 before the kill, on instance 2.
	if a := post(two.URL, before); !a.replay() {
		t.Errorf("instance 2, after the failover, the assertion accepted on instance 1 before it: %v; want 401 replayed_nonce", a)
	}
	// The token fetched before the failover, from Redis, by a Caddy that
	// starts with an empty cache.
	two.Kill()
	two.Restart()
	if a := post(two.URL, mint(false)); a.Status != 200 || a.Token != token {
		t.Errorf("instance 2 restarted after the failover: %v, same token as before it: %v", a, a.Token == token)
	}

	for _, b := range bad {
		t.Error(b)
	}
	t.Logf("sentinel failover: primary SIGKILLed; sentinels promoted the replica after %v; old primary back as replica after %v; fresh assertions 200 again on instance 1 after %v, on instance 2 after %v (bound %v)",
		promoted.Round(time.Millisecond), restarted.Round(time.Millisecond), recovered[0].Round(time.Millisecond), recovered[1].Round(time.Millisecond), bound)
	t.Logf("sentinel failover: fresh assertions by answer %v; replays of accepted ones by answer %v; first 503 %v after the kill",
		fresh, replays, first503.Sub(killed).Round(time.Millisecond))
	t.Logf("sentinel failover: Huawei calls %d before the failover, %d in all (the token was reused after it, by a restarted instance too)",
		callsBefore, emu.Calls())
	if emu.Calls() != callsBefore || callsBefore != 1 {
		t.Errorf("Huawei calls = %d (%d before the failover), want 1", emu.Calls(), callsBefore)
	}
}
