package hms

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
)

// siteWithSecret is hmsSite with another HMS App secret.
func siteWithSecret(huaweiURL, hmsSecret string) string {
	return strings.Replace(harness.HMSSite(huaweiURL, ""), "hms_application "+harness.HMSAppID+" "+harness.HMSAppSecret,
		"hms_application "+harness.HMSAppID+" "+hmsSecret, 1)
}

// plainSite is a config without sinch_hms: loading it unloads the module.
var plainSite = fmt.Sprintf("\n%s {\n\trespond \"no sinch_hms here\"\n}\n", harness.Base)

// goroutinesRunning counts the goroutines whose stack holds fn.
func goroutinesRunning(fn string) int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) {
			count++
		}
	}
	return count
}

const (
	refresherFrame = "tokencache.(*Cache).KeepFresh("
	fetchFrame     = "tokencache.(*Cache).fetch("
)

// TestChangedSecretDropsToken: a reload with the same HMS secret keeps the
// token; one with a changed secret starts with an empty cache (the old
// token was obtained with credentials no longer configured), and still
// opens no replay window.
func TestChangedSecretDropsToken(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	used := harness.AssertionForm(harness.Mint(t)).Encode()
	tok := harness.PostForm(t, tester.Client, harness.TokenURL, used).WantToken(t)

	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	if got := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t); got != tok {
		t.Errorf("same config reloaded: token changed")
	}
	if n := emu.Calls(); n != 1 {
		t.Errorf("Huawei calls = %d after a same-secret reload, want 1", n)
	}

	const rotated = "rotated+hms/secret=="
	emu.AddApp(harness.HMSAppID, rotated)
	tester = harness.StartCaddy(t, siteWithSecret(emu.URL, rotated))
	if got := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t); got == tok {
		t.Errorf("secret changed: the old token was still served")
	}
	if n := emu.Calls(); n != 2 {
		t.Errorf("Huawei calls = %d after a changed-secret reload, want 2", n)
	}
	harness.PostForm(t, tester.Client, harness.TokenURL, used).WantError(t, http.StatusUnauthorized, "invalid_client")
}

// TestRefresherStopsWithConfig: each pooled token cache runs one background
// refresher; reloads share it, a changed secret replaces it, and unloading
// the module stops it: no goroutine of ours outlives the configs using it.
func TestRefresherStopsWithConfig(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, plainSite)
	tester.Client.CloseIdleConnections()
	base := runtime.NumGoroutine()
	if n := goroutinesRunning(refresherFrame); n != 0 {
		t.Fatalf("%d refreshers before the module is loaded", n)
	}

	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	if n := goroutinesRunning(refresherFrame); n != 1 {
		t.Fatalf("%d refreshers with one HMS application, want 1", n)
	}
	for range 3 {
		tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, "clock_skew 30s"))
		tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	}
	if n := goroutinesRunning(refresherFrame); n != 1 {
		t.Fatalf("%d refreshers after 6 reloads, want still 1", n)
	}
	emu.AddApp(harness.HMSAppID, "rotated")
	tester = harness.StartCaddy(t, siteWithSecret(emu.URL, "rotated"))
	if n := goroutinesRunning(refresherFrame); n != 1 {
		t.Fatalf("%d refreshers after a changed secret, want 1 (the old one stopped)", n)
	}

	tester = harness.StartCaddy(t, plainSite)
	if n := goroutinesRunning(refresherFrame); n != 0 {
		t.Fatalf("%d refreshers after the module was unloaded, want 0", n)
	}
	tester.Client.CloseIdleConnections()
	eventually(t, "goroutines back to the baseline", func() bool {
		return goroutinesRunning(fetchFrame) == 0 && runtime.NumGoroutine() <= base+4
	})
	t.Logf("goroutines: %d with the plain config before, %d after load, reloads and unload", base, runtime.NumGoroutine())
}

// TestBackgroundRefreshInCaddy: with a short-lived token, the refresher
// renews it before it turns stale, and the next request is answered with
// the renewed token without a Huawei call of its own.
func TestBackgroundRefreshInCaddy(t *testing.T) {
	emu := harness.NewHuawei(t)
	emu.SetExpiresIn(6) // stale after 4s (refresh_before 2s), refreshed in the background at 3s
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, "refresh_before 2s"))
	first := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	eventually(t, "a background refresh", func() bool { return len(emu.IssuedTokens(harness.HMSAppID)) >= 2 })
	issued := emu.IssuedTokens(harness.HMSAppID)
	if issued[0] != first {
		t.Fatalf("first answer is not Huawei's first token")
	}
	eventually(t, "the refreshed token in the cache", func() bool { return cachedToken(harness.HMSAppID) == issued[1] })
	got := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)
	if got != issued[1] && (len(emu.IssuedTokens(harness.HMSAppID)) < 3 || got != emu.IssuedTokens(harness.HMSAppID)[2]) {
		t.Errorf("answer is not a token the refresher fetched")
	}
}

// cachedToken returns what the pooled cache of hmsAppID holds now.
func cachedToken(hmsAppID string) string {
	if u := endpoint.FindLive(huawei, hmsAppID); u != nil {
		if tok, ok := u.Peek(); ok {
			return tok.AccessToken
		}
	}
	return ""
}

// TestReplayRefusedAcrossUnload: a reload to a config without sinch_hms and
// back must not forget the nonces of assertions still valid (the memory
// store lives as long as the process, not as long as a config).
func TestReplayRefusedAcrossUnload(t *testing.T) {
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	used := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, harness.TokenURL, used).WantToken(t)

	tester = harness.StartCaddy(t, plainSite)
	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	harness.PostForm(t, tester.Client, harness.TokenURL, used).WantReplay(t)
}

// TestReplayRefusedAcrossStoreChange: switching replay_store from memory to
// redis, or changing the key prefix, opens no replay window in one process.
func TestReplayRefusedAcrossStoreChange(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	used := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, harness.TokenURL, used).WantToken(t)

	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, "replay_store redis "+rds.URL()))
	harness.PostForm(t, tester.Client, harness.TokenURL, used).WantReplay(t)

	second := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, harness.TokenURL, second).WantToken(t)
	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, "replay_store redis "+rds.URL()+" {\n\t\t\t\tkey_prefix other:\n\t\t\t}"))
	harness.PostForm(t, tester.Client, harness.TokenURL, second).WantReplay(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, used).WantReplay(t)

	tester = harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	harness.PostForm(t, tester.Client, harness.TokenURL, second).WantReplay(t)
}

// TestReplayRefusedAcrossHandlersOnDifferentStores: two handlers of one
// Caddy that accept the same audience for the same application, one on the
// memory store and one on Redis, still refuse each other's nonces.
func TestReplayRefusedAcrossHandlersOnDifferentStores(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	handler := func(path, store string) string {
		return fmt.Sprintf(`
	route %s {
		sinch_hms {
			sinch_application %s %s
			audience %s
			%s
			hms_application %s %s
			huawei_token_url %s
		}
	}`, path, harness.AppKey, harness.SinchSecret, harness.TokenURL, store, harness.HMSAppID, harness.HMSAppSecret, emu.URL)
	}
	tester := harness.StartCaddy(t, fmt.Sprintf("\n%s {%s\n%s\n}\n", harness.Base,
		handler(edge1Path, "replay_store memory"), handler(edge2Path, "replay_store redis "+rds.URL())))
	a := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, edge1URL, a).WantToken(t)
	harness.PostForm(t, tester.Client, edge2URL, a).WantReplay(t)
	b := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, tester.Client, edge2URL, b).WantToken(t)
	harness.PostForm(t, tester.Client, edge1URL, b).WantReplay(t)
}
