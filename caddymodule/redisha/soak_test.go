package redisha

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// chaosDuration is SINCH_HMS_CHAOS as a duration ("1" = 30s); the soak
// is skipped without it.
func chaosDuration(t *testing.T) time.Duration {
	v := os.Getenv("SINCH_HMS_CHAOS")
	if v == "" {
		t.Skip("the chaos soak runs with SINCH_HMS_CHAOS=<duration> (e.g. 45s; 1 = 30s)")
	}
	if v == "1" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("SINCH_HMS_CHAOS=%q: want a duration such as 45s", v)
	}
	return d
}

// soakStats are the soak's figures.
type soakStats struct {
	mu                 sync.Mutex
	answers            map[string]int // "<kind>: <answer>"
	replaysAccepted    int
	forgedAccepted     int
	freshRefused       int // fresh valid, refused with anything but 503 + Retry-After
	violations         []string
	accepted           []string // assertions answered 200, to replay
	stretchStart       time.Time
	longest503         time.Duration
	fresh200, fresh503 int
}

func (s *soakStats) record(kind, target, assertion string, a answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	label := "no answer (caddy killed)"
	if a.Status != 0 {
		label = fmt.Sprint(a.Status, " ", refusalOf(a))
	}
	s.answers[kind+": "+label]++
	now := time.Now()
	bad := func(counter *int) {
		*counter++
		if len(s.violations) < 20 {
			s.violations = append(s.violations, fmt.Sprintf("%s on %s: %v", kind, target, a))
		}
	}
	switch kind {
	case "fresh":
		switch {
		case a.Status == 200:
			s.fresh200++
			if !s.stretchStart.IsZero() {
				s.longest503 = max(s.longest503, now.Sub(s.stretchStart))
				s.stretchStart = time.Time{}
			}
			s.accepted = append(s.accepted, assertion)
		case a.unavailable():
			s.fresh503++
			if s.stretchStart.IsZero() {
				s.stretchStart = now
			}
		case a.Status != 0:
			bad(&s.freshRefused)
		}
	case "replay":
		if a.Status == 200 {
			bad(&s.replaysAccepted)
		}
	case "forged":
		if a.Status == 200 {
			bad(&s.forgedAccepted)
		}
	}
}

// refusalOf names a refusal by its reason where the description gives a
// known one, else by its description's start.
func refusalOf(a answer) string {
	for _, r := range []string{"replayed_nonce", "bad_signature", "replay_store_unavailable"} {
		if strings.Contains(a.Error, r) {
			return r
		}
	}
	if len(a.Error) > 60 {
		return a.Error[:60] + "..."
	}
	return a.Error
}

func (s *soakStats) pickAccepted(r *rand.Rand) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.accepted) == 0 {
		return "", false
	}
	return s.accepted[r.IntN(len(s.accepted))], true
}

// TestChaosSoak: two Caddy processes on a Sentinel group (min_replicas_acked
// 1), a Huawei emulator that flaps, and clients sending fresh, replayed
// and forged assertions to both, while the test kills (SIGKILL) and
// restarts a Caddy process or the Redis primary at random. No replay and
// no forged assertion is ever accepted; a fresh one is answered 200 or
// 503 + Retry-After, nothing else.
func TestChaosSoak(t *testing.T) {
	dur := chaosDuration(t)
	g := redistest.StartSentinels(t, time.Second)
	emu := harness.NewHuawei(t)
	emu.SetExpiresIn(310) // with refresh_before 5m: a refresh every ~10s
	ins := startInstances(t, 2, emu.URL, sentinelStores(g), sentinelEnv(g)...)
	st := &soakStats{answers: map[string]int{}}

	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 3 { // the clients
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil {
				target := ins[r.IntN(2)]
				kind, as := "fresh", ""
				switch p := r.Float64(); {
				case p < 0.25:
					var ok bool
					if as, ok = st.pickAccepted(r); ok {
						kind = "replay"
					}
				case p < 0.4:
					kind, as = "forged", mint(true)
				}
				if as == "" {
					as = mint(false)
				}
				st.record(kind, target.Name, as, post(target.URL, as))
				time.Sleep(10 * time.Millisecond) // a steady load, not a flood
			}
		}()
	}
	var flaps int
	wg.Add(1)
	go func() { // Huawei flaps
		defer wg.Done()
		faults := []huaweitest.Fault{{}, {}, {Kind: huaweitest.FaultStatus, Status: 500, Body: `{"error":"internal"}`},
			{Kind: huaweitest.FaultReset}, {Kind: huaweitest.FaultThrottle, RetryAfter: time.Second}, {Kind: huaweitest.FaultHang}}
		r := rand.New(rand.NewPCG(99, uint64(time.Now().UnixNano())))
		for {
			select {
			case <-ctx.Done():
				emu.SetFault(huaweitest.Fault{})
				emu.Release()
				return
			case <-time.After(time.Duration(500+r.IntN(1500)) * time.Millisecond):
			}
			emu.SetFault(faults[r.IntN(len(faults))])
			emu.Release()
			flaps++
		}
	}()

	// The chaos, on the test goroutine (the helpers may fail the test).
	r := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	var caddyKills, redisKills, redisKillsDeferred int
	var failovers []time.Duration
	deadline := time.Now().Add(dur)
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(500+r.IntN(2000)) * time.Millisecond)
		if r.IntN(2) == 0 {
			victim := ins[r.IntN(2)]
			victim.Kill()
			caddyKills++
			time.Sleep(time.Duration(200+r.IntN(1000)) * time.Millisecond)
			victim.Restart()
			continue
		}
		primary, replica := g.Primary, g.Replicas[0]
		if addr, err := g.MasterAddr(ctx); err == nil && addr == replica.Addr {
			primary, replica = replica, primary
		}
		if !g.ReplicaSeen(replica.Addr) {
			// One failure at a time: the primary is killed only once its
			// replica is in sync and every sentinel sees it up.
			redisKillsDeferred++
			continue
		}
		killed := time.Now()
		primary.Kill()
		redisKills++
		for {
			if addr, err := g.MasterAddr(ctx); err == nil && addr == replica.Addr {
				break
			}
			if time.Since(killed) > 30*time.Second {
				t.Fatalf("the sentinels promoted no replica within 30s")
			}
			time.Sleep(50 * time.Millisecond) // readiness poll
		}
		failovers = append(failovers, time.Since(killed).Round(time.Millisecond))
		primary.RestartAsReplica(replica)
		g.WaitInSync(t, replica, 1) // one failure at a time: see below
	}
	stop()
	wg.Wait()
	for _, in := range ins { // the last word: every accepted assertion, replayed on both
		if !in.Running() {
			in.Restart()
		}
	}
	st.mu.Lock()
	all := append([]string(nil), st.accepted...)
	st.mu.Unlock()
	for i, as := range all {
		st.record("replay", ins[i%2].Name, as, post(ins[i%2].URL, as))
	}

	var lines []string
	for k, v := range st.answers {
		lines = append(lines, fmt.Sprintf("%s = %d", k, v))
	}
	sort.Strings(lines)
	t.Logf("chaos soak, %v: %d Caddy kills, %d Redis primary kills (promoted after %v; %d deferred: the replica not yet seen up by every sentinel), %d Huawei fault changes",
		dur, caddyKills, redisKills, failovers, redisKillsDeferred, flaps)
	t.Logf("chaos soak: requests by answer:\n\t%s", strings.Join(lines, "\n\t"))
	t.Logf("chaos soak: replays accepted %d (must be 0), forged accepted %d (must be 0), fresh valid refused with anything but 503 %d (must be 0); fresh 200 %d, fresh 503 %d; Huawei calls %d; longest 503 stretch %v",
		st.replaysAccepted, st.forgedAccepted, st.freshRefused, st.fresh200, st.fresh503, emu.Calls(), st.longest503.Round(time.Millisecond))
	if st.replaysAccepted+st.forgedAccepted+st.freshRefused > 0 {
		t.Errorf("chaos soak: must-be-0 figures are not 0:\n\t%s", strings.Join(st.violations, "\n\t"))
	}
	if st.fresh200 == 0 {
		t.Errorf("chaos soak: no fresh assertion accepted at all")
	}
}
