package hms

import (
	"context"
	"net/http"
	"testing"
	"time"

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
	emu := newHuawei(t)
	rds := redistest.Start(t, redistest.Options{})
	proxy := redistest.NewProxy(t, rds.Addr)
	tester := startCaddy(t, hmsSite(emu.URL, "replay_store redis "+rds.URLVia(proxy.Addr)+"?read_timeout=500ms"))
	const late = 1500 * time.Millisecond

	// The first request opens the connection and loads the claim script.
	postForm(t, tester.Client, testTokenURL, assertionForm(mint(t)).Encode()).WantToken(t)

	// One late reply: the retry recognises its own claim.
	oneLate := assertionForm(mint(t, withNonce("one-late-reply"))).Encode()
	proxy.DelayReplies("nonce:{", 1, late)
	a := postForm(t, tester.Client, testTokenURL, oneLate)
	if d := proxy.Delayed(); d != 1 {
		t.Fatalf("%d Redis replies held back, want 1", d)
	}
	if a.Status == http.StatusUnauthorized {
		t.Fatalf("a fresh assertion whose Redis reply came late was refused: %d %v", a.Status, a.Body)
	}
	a.WantToken(t)
	postForm(t, tester.Client, testTokenURL, oneLate).WantReplay(t) // recorded all the same

	// Every attempt late: 503 + Retry-After (fail closed), and the nonce is
	// released, so Sinch's retry of the same assertion gets its token.
	allLate := assertionForm(mint(t, withNonce("all-late"))).Encode()
	proxy.DelayReplies("nonce:{", 2, late)
	postForm(t, tester.Client, testTokenURL, allLate).WantStoreDown(t)
	if d := proxy.Delayed(); d != 3 {
		t.Fatalf("%d Redis replies held back in all, want 3", d)
	}
	key := redisstore.NonceKey(redisstore.DefaultPrefix, testAppKey, "all-late")
	eventually(t, "the release of the refused assertion's nonce", func() bool {
		n, err := rds.Client().Exists(context.Background(), key).Result()
		return err == nil && n == 0
	})
	postForm(t, tester.Client, testTokenURL, allLate).WantToken(t)
	postForm(t, tester.Client, testTokenURL, allLate).WantReplay(t)
}
