package hms

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/redisstore"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// These tests play two Caddy instances behind a load balancer with two
// sinch_hms handlers in the test Caddy, /edge1/token and /edge2/token, that
// accept the same audience and share one real redis-server. Their
// refresh_before differs (5m, 4m) on purpose: in-memory token caches are
// pooled per process by configuration, and two identical handlers would
// share one; with different ones, the only thing the two "instances" share
// is Redis, as two processes would.

const (
	edge1Path = "/edge1/token"
	edge2Path = "/edge2/token"
)

var (
	edge1URL = harness.Base + edge1Path
	edge2URL = harness.Base + edge2Path
)

// twoInstances is the Caddyfile of the two handlers on redisURL; extra
// lines go into both.
func twoInstances(huaweiURL, redisURL string, extra ...string) string {
	handler := func(path, refresh string) string {
		return fmt.Sprintf(`
	route %s {
		sinch_hms {
			sinch_application %s %s
			audience %s
			replay_store redis %s
			hms_application %s %s
			huawei_token_url %s
			token_store redis %s
			refresh_before %s
			%s
		}
	}`, path, harness.AppKey, harness.SinchSecret, harness.TokenURL, redisURL, harness.HMSAppID, harness.HMSAppSecret, huaweiURL, redisURL, refresh,
			strings.Join(extra, "\n\t\t\t"))
	}
	return fmt.Sprintf("\n%s {%s\n%s\n}\n", harness.Base, handler(edge1Path, "5m"), handler(edge2Path, "4m"))
}

func withNonce(n string) harness.MintOpt { return func(p *sinchauth.MintParams) { p.Nonce = n } }

// wantReplay asserts the refusal of a replayed assertion.

// wantStoreDown asserts the fail-closed answer while Redis is down.

func TestRedisReplayRejectedByTheOtherInstance(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	tester := harness.StartCaddy(t, twoInstances(emu.URL, rds.URL()))

	first := harness.AssertionForm(harness.Mint(t, withNonce("nonce-edge-1"))).Encode()
	harness.PostForm(t, tester.Client, edge1URL, first).WantToken(t)
	harness.PostForm(t, tester.Client, edge2URL, first).WantReplay(t)
	harness.PostForm(t, tester.Client, edge1URL, first).WantReplay(t)

	second := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, edge2URL, second).WantToken(t)
	harness.PostForm(t, tester.Client, edge1URL, second).WantReplay(t)

	// The nonce is in Redis, under the application's namespace, for the
	// assertion's remaining life plus the clock skew (5m + 60s).
	ctx := context.Background()
	ttl, err := rds.Client().PTTL(ctx, redisstore.NonceKey(redisstore.DefaultPrefix, harness.AppKey, "nonce-edge-1")).Result()
	if err != nil || ttl <= 5*time.Minute || ttl > 6*time.Minute {
		t.Errorf("nonce key PTTL = %v, %v; want between 5m and 6m", ttl, err)
	}
}

func TestRedisColdRequestsOverTwoInstancesCallHuaweiOnce(t *testing.T) {
	emu := harness.NewHuawei(t)
	emu.SetDelay(300 * time.Millisecond) // keep the one fetch in flight while the rest arrive
	rds := redistest.Start(t, redistest.Options{})
	harness.StartCaddy(t, twoInstances(emu.URL, rds.URL()))

	const n = 100
	bodies := make([]string, n)
	for i := range bodies {
		bodies[i] = harness.AssertionForm(harness.Mint(t)).Encode()
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	tokens := make([]string, n)
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			target := edge1URL
			if i%2 == 1 {
				target = edge2URL
			}
			a := harness.PostForm(t, client, target, bodies[i])
			statuses[i] = a.Status
			tokens[i], _ = a.Body["access_token"].(string)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if statuses[i] != http.StatusOK || tokens[i] == "" || tokens[i] != tokens[0] {
			t.Fatalf("request %d: status %d; all %d must get the same token", i, statuses[i], n)
		}
	}
	if c := emu.Calls(); c != 1 {
		t.Errorf("%d cold requests over two instances made %d Huawei calls, want exactly 1", n, c)
	}

	// At rest in Redis the token is sealed: the raw value does not hold it.
	key := redisstore.TokenKey(redisstore.DefaultPrefix, harness.HMSAppID, emu.URL)
	raw, err := rds.Client().Get(context.Background(), key).Bytes()
	if err != nil {
		t.Fatalf("no shared token under %s: %v", key, err)
	}
	if bytes.Contains(raw, []byte(tokens[0])) {
		t.Errorf("the Huawei token is stored in the clear in Redis")
	}
}

func TestRedisOutageFailsClosedAndRecovers(t *testing.T) {
	emu := harness.NewHuawei(t)
	// Persistent, as a Redis holding nonces should be: a restart keeps them.
	rds := redistest.Start(t, redistest.Options{Persistent: true})
	tester := harness.StartCaddy(t, twoInstances(emu.URL, rds.URL()))

	accepted := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, edge1URL, accepted).WantToken(t)

	rds.Stop()
	during := harness.AssertionForm(harness.Mint(t)).Encode()
	for _, target := range []string{edge1URL, edge2URL} {
		// This process accepted it: its own memory refuses it without Redis.
		harness.PostForm(t, tester.Client, target, accepted).WantReplay(t)
		harness.PostForm(t, tester.Client, target, during).WantStoreDown(t) // nor any new assertion
	}

	rds.Restart() // same port; Caddy is not restarted nor reloaded
	harness.PostForm(t, tester.Client, edge2URL, accepted).WantReplay(t)
	harness.PostForm(t, tester.Client, edge1URL, during).WantToken(t) // refused while down, so never used
	harness.PostForm(t, tester.Client, edge2URL, during).WantReplay(t)
	harness.PostForm(t, tester.Client, edge2URL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	if c := emu.Calls(); c != 1 {
		t.Errorf("Huawei calls = %d, want 1 (the outage does not touch the token cache)", c)
	}
}

func TestRedisDownAtStartLoadsAndFailsClosed(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	rds.Stop()
	// The config loads although Redis is down: requests fail closed instead.
	tester := harness.StartCaddy(t, twoInstances(emu.URL, rds.URL()))
	body := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, edge1URL, body).WantStoreDown(t)

	rds.Restart()
	harness.PostForm(t, tester.Client, edge1URL, body).WantToken(t)
	harness.PostForm(t, tester.Client, edge2URL, body).WantReplay(t)
}

func TestRedisURLPlaceholderAndBadURL(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	t.Setenv("SINCH_HMS_TEST_REDIS_PASSWORD", rds.Password)
	url := "redis://:{env.SINCH_HMS_TEST_REDIS_PASSWORD}@" + rds.Addr + "/0"
	tester := harness.StartCaddy(t, twoInstances(emu.URL, url))
	body := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, edge1URL, body).WantToken(t)
	harness.PostForm(t, tester.Client, edge2URL, body).WantReplay(t)

	// A URL that resolves to something unparsable fails the load, without
	// showing the password.
	t.Setenv("SINCH_HMS_TEST_REDIS_URL", "redis://:"+rds.Password+"@"+rds.Addr+"/notadb")
	msg := harness.LoadError(t, harness.GlobalOptions+twoInstances(emu.URL, "{env.SINCH_HMS_TEST_REDIS_URL}"))
	if !strings.Contains(msg, "invalid database number") {
		t.Errorf("load error %q does not name the bad URL", msg)
	}
	if strings.Contains(msg, rds.Password) {
		t.Errorf("load error shows the Redis password")
	}
}

// TestRedisClientSurvivesReload: the Redis client is pooled by URL, so the
// new config reuses it and the old config's cleanup does not close it.
func TestRedisClientSurvivesReload(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	tester := harness.StartCaddy(t, twoInstances(emu.URL, rds.URL()))
	before := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, edge1URL, before).WantToken(t)

	tester = harness.StartCaddy(t, twoInstances(emu.URL, rds.URL(), "clock_skew 30s"))
	harness.PostForm(t, tester.Client, edge2URL, before).WantReplay(t)
	harness.PostForm(t, tester.Client, edge2URL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	if c := emu.Calls(); c != 1 {
		t.Errorf("Huawei calls = %d across a reload, want 1", c)
	}
}
