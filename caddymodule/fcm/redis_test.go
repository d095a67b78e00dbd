package fcm

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream"
	"github.com/hmsgate/caddy-sinch-hms/fcmupstream/googletest"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/redisstore"
)

// TestFCMRedisOneGoogleFetchForTwoInstances plays two Caddy instances (two
// sinch_fcm handlers whose refresh_before differs, so that their in-memory
// caches are not pooled together: only Redis is shared, as between two
// processes) with `token_store redis`, through the SharedFetcher the HMS
// side uses. Cold requests spread over both make one Google call; the token
// is sealed in Redis and lives there as long as it does.
func TestFCMRedisOneGoogleFetchForTwoInstances(t *testing.T) {
	sa, _ := serviceAccounts(t)
	keys := harness.NewASKeys(t)
	g := googletest.NewServer()
	t.Cleanup(g.Close)
	g.AddAccount(sa)
	rds := redistest.Start(t, redistest.Options{})
	keyFile := writeKeyFile(t, sa, fcmupstream.DefaultTokenURL)
	edge := func(path, refresh string) string {
		return fmt.Sprintf(`
	route %s {
		sinch_fcm {
			bearer {
				public_key %s
				issuer %s
				audience %s
			}
			fcm_project %s %s
			google_token_url %s
			refresh_before %s
			token_store redis %s
		}
	}`, path, keys.PubPath, harness.Base, harness.Base, testFCMProject, keyFile, g.URL, refresh, rds.URL())
	}
	tester := harness.StartCaddy(t, harness.Base+" {"+harness.ASRoute(keys.PrivPath, "")+edge("/fcm1", "5m")+edge("/fcm2", "4m")+"\n}\n")
	access := harness.PostForm(t, tester.Client, harness.ASURL, harness.ClientCredentials(fcmupstream.Scope).Encode()).WantToken(t)

	const n = 60
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	toks := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			target := harness.Base + "/fcm1"
			if i%2 == 1 {
				target = harness.Base + "/fcm2"
			}
			a := harness.PostForm(t, client, target, fcmForm(testFCMProject), "Authorization", "Bearer "+access)
			toks[i], _ = a.Body["access_token"].(string)
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if toks[i] == "" || toks[i] != toks[0] {
			t.Fatalf("request %d got %q; both instances must hand out the one shared token", i, toks[i])
		}
	}
	if c := g.Calls(); c != 1 {
		t.Errorf("%d cold requests over two instances made %d Google calls, want 1", n, c)
	}

	key := redisstore.TokenKey(redisstore.DefaultPrefix, fcmRedisPrefix+testFCMProject, g.URL)
	raw, err := rds.Client().Get(context.Background(), key).Bytes()
	if err != nil {
		t.Fatalf("no shared token under %s: %v", key, err)
	}
	if bytes.Contains(raw, []byte(toks[0])) {
		t.Error("the Google token is stored in the clear in Redis")
	}
	if ttl, err := rds.Client().PTTL(context.Background(), key).Result(); err != nil || ttl <= 0 || ttl > time.Hour {
		t.Errorf("shared token PTTL %v %v, want its remaining life", ttl, err)
	}
}
