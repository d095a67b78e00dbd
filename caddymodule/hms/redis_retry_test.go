package hms

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/redisstore"
)

// TestRedisLateReplyIsNeverAReplay: the replay store's Redis records a
// nonce but answers after the client's read timeout (500ms here), so
// go-redis retries. Through the real handler a fresh assertion then gets
// its token, or 503 + Retry-After when every attempt is late: never
// 401 replayed_nonce. Sinch's retry of an assertion refused with 503 gets
// its token.
func TestRedisLateReplyIsNeverAReplay(t *testing.T) {
	emu := harness.NewHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	proxy := redistest.NewProxy(t, rds.Addr)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, "replay_store redis "+rds.URLVia(proxy.Addr)+"?read_timeout=500ms"))
	const late = 1500 * time.Millisecond

	// The first request opens the connection and loads the claim script.
	harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t)).Encode()).WantToken(t)

	// One late reply: the retry recognises its own claim.
	oneLate := harness.AssertionForm(harness.Mint(t, withNonce("one-late-reply"))).Encode()
	proxy.DelayReplies("nonce:{", 1, late)
	a := harness.PostForm(t, tester.Client, harness.TokenURL, oneLate)
	if d := proxy.Delayed(); d != 1 {
		t.Fatalf("%d Redis replies held back, want 1", d)
	}
	if a.Status == http.StatusUnauthorized {
		t.Fatalf("a fresh assertion whose Redis reply came late was refused: %d %v", a.Status, a.Body)
	}
	a.WantToken(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, oneLate).WantReplay(t) // recorded all the same

	// Every attempt late: 503 + Retry-After (fail closed), and the nonce is
	// released, so Sinch's retry of the same assertion gets its token.
	allLate := harness.AssertionForm(harness.Mint(t, withNonce("all-late"))).Encode()
	proxy.DelayReplies("nonce:{", 2, late)
	harness.PostForm(t, tester.Client, harness.TokenURL, allLate).WantStoreDown(t)
	if d := proxy.Delayed(); d != 3 {
		t.Fatalf("%d Redis replies held back in all, want 3", d)
	}
	key := redisstore.NonceKey(redisstore.DefaultPrefix, harness.AppKey, "all-late")
	eventually(t, "the release of the refused assertion's nonce", func() bool {
		n, err := rds.Client().Exists(context.Background(), key).Result()
		return err == nil && n == 0
	})
	harness.PostForm(t, tester.Client, harness.TokenURL, allLate).WantToken(t)
	harness.PostForm(t, tester.Client, harness.TokenURL, allLate).WantReplay(t)
}
