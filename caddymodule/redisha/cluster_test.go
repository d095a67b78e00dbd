package redisha

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// TestClusterTwoInstances: a Redis Cluster of three primaries and two
// Caddy processes. An assertion accepted by one instance is a replay on
// the other, both ways; 100 concurrent cold requests over both instances
// cause one Huawei call.
func TestClusterTwoInstances(t *testing.T) {
	c := redistest.StartCluster(t, 3, 0)
	emu := harness.NewHuawei(t)
	emu.SetDelay(300 * time.Millisecond) // every cold request is in flight while Huawei answers
	block := fmt.Sprintf(`redis {
				cluster %s
				password {env.REDIS_PASSWORD}
			}`, strings.Join(c.Addrs(), " "))
	ins := startInstances(t, 2, emu.URL, "replay_store "+block+"\n\t\t\ttoken_store "+block, "REDIS_PASSWORD="+c.Password)

	const n = 100
	assertions := make([]string, n)
	for i := range assertions {
		assertions[i] = mint(false)
	}
	answers := make([]answer, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i] = post(ins[i%2].URL, assertions[i])
		}()
	}
	close(start)
	wg.Wait()
	byAnswer := map[string]int{}
	tokens := map[string]bool{}
	for i, a := range answers {
		byAnswer[a.String()]++
		if a.Status != 200 {
			t.Errorf("cold request %d on instance %d: %v", i, i%2+1, a)
		}
		tokens[a.Token] = true
	}
	if got := emu.Calls(); got != 1 || len(tokens) != 1 {
		t.Errorf("100 concurrent cold requests over both instances: %d Huawei calls, %d distinct tokens; want 1 and 1", got, len(tokens))
	}
	t.Logf("cluster: 100 concurrent cold requests over two instances: %v, %d Huawei call(s)", byAnswer, emu.Calls())

	for i := range 4 { // accepted on one instance, replayed on the other, both ways
		if a := post(ins[(i+1)%2].URL, assertions[i]); !a.replay() {
			t.Errorf("assertion accepted by instance %d, replayed on instance %d: %v; want 401 replayed_nonce", i%2+1, (i+1)%2+1, a)
		}
	}
}
