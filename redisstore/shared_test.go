package redisstore

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

func TestSharedConcurrentColdFetchesCallUpstreamOnce(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := &upstream{now: time.Now, life: time.Hour, gate: make(chan struct{})}
	// Two instances: each its own Redis connection and its own in-memory
	// cache in front, as in two Caddy processes.
	caches := make([]*tokencache.Cache, 2)
	fetchers := make([]*SharedFetcher, 2)
	for i := range caches {
		caches[i] = tokencache.New(tokencache.Config{RefreshBefore: 5 * time.Minute})
		fetchers[i] = sharedFetcher(t, srv, up, nil)
	}
	const n = 100
	tokens := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := caches[i%2].Get(context.Background(), "123456789", fetchers[i%2])
			tokens[i], errs[i] = res.Token.AccessToken, err
		}()
	}
	// Hold the one upstream call until the second instance is waiting on
	// the lock: then it can only get the token through Redis.
	waitFor(t, func() bool { return up.calls.Load() >= 1 })
	waitFor(t, func() bool {
		n, _ := srv.Client().Exists(context.Background(), lockKey(fetchers[0].Key)).Result()
		return n == 1
	})
	close(up.gate)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || tokens[i] != tokens[0] || tokens[i] == "" {
			t.Fatalf("request %d: %q, %v; all must get the one token", i, tokens[i], errs[i])
		}
	}
	if c := up.calls.Load(); c != 1 {
		t.Errorf("%d concurrent cold requests over two instances made %d upstream calls, want 1", n, c)
	}
	if ex, _ := srv.Client().Exists(context.Background(), lockKey(fetchers[0].Key)).Result(); ex != 0 {
		t.Errorf("the fetch lock is still held after the fetch")
	}
}

func TestSharedTokenSealedAtRest(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := &upstream{now: time.Now, life: time.Hour}
	f := sharedFetcher(t, srv, up, nil)
	tok, err := f.Fetch(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := srv.Client().Get(context.Background(), f.Key).Bytes()
	if err != nil {
		t.Fatalf("no token in Redis under %s: %v", f.Key, err)
	}
	for _, form := range []string{tok.AccessToken, base64.StdEncoding.EncodeToString([]byte(tok.AccessToken)), "HMS+token"} {
		if bytes.Contains(raw, []byte(form)) {
			t.Errorf("the raw Redis value holds %q: the token is not sealed", form)
		}
	}
	ttl, _ := srv.Client().PTTL(context.Background(), f.Key).Result()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("PTTL = %v, want the token's remaining life (about 1h)", ttl)
	}

	// Another instance with the same App secret reads it back, no upstream call.
	g := sharedFetcher(t, srv, up, nil)
	got, err := g.Fetch(context.Background())
	if err != nil || got.AccessToken != tok.AccessToken || !got.ExpiresAt.Equal(tok.ExpiresAt.Truncate(time.Millisecond)) {
		t.Fatalf("second instance got %v, %v; want the shared token", got.ExpiresAt, err)
	}
	if c := up.calls.Load(); c != 1 {
		t.Errorf("upstream calls = %d, want 1", c)
	}

	// A reader holding another secret cannot use it: it fetches its own.
	h := sharedFetcher(t, srv, up, nil)
	h.EncKey = DeriveKey("another secret")
	other, err := h.Fetch(context.Background())
	if err != nil || other.AccessToken == tok.AccessToken {
		t.Fatalf("fetcher with another key got the sealed token (or failed: %v)", err)
	}
}

func TestSharedTamperedValueRejected(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	inspect := srv.Client()
	ctx := context.Background()
	up := &upstream{now: time.Now, life: time.Hour}
	f := sharedFetcher(t, srv, up, nil)
	first, err := f.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := inspect.Get(ctx, f.Key).Bytes()
	for _, pos := range []int{0, 1, 14, len(raw) / 2, len(raw) - 1} {
		bad := bytes.Clone(raw)
		bad[pos] ^= 0x01
		if _, err := open(f.EncKey, f.Key, bad); !errors.Is(err, errUnreadable) {
			t.Errorf("byte %d flipped: open = %v, want errUnreadable", pos, err)
		}
	}
	// Moved under another key (another application), it does not open.
	if _, err := open(f.EncKey, TokenKey(DefaultPrefix, "987654321", "https://oauth.example/token"), raw); !errors.Is(err, errUnreadable) {
		t.Errorf("value under another key: open = %v, want errUnreadable", err)
	}

	bad := bytes.Clone(raw)
	bad[len(bad)/2] ^= 0x80
	if err := inspect.Set(ctx, f.Key, bad, time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := f.Fetch(ctx)
	if err != nil || got.AccessToken == first.AccessToken {
		t.Fatalf("after tampering Fetch = %v; want a fresh token from upstream", err)
	}
	if c := up.calls.Load(); c != 2 {
		t.Errorf("upstream calls = %d, want 2 (tampered value replaced)", c)
	}
	if now, _ := inspect.Get(ctx, f.Key).Bytes(); bytes.Equal(now, bad) {
		t.Errorf("the tampered value was left in Redis")
	}
}

func TestSharedTokenRefreshedWithinMinLife(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	clk := newClock()
	up := &upstream{now: clk.Now, life: time.Hour}
	a := sharedFetcher(t, srv, up, clk.Now)
	b := sharedFetcher(t, srv, up, clk.Now)
	ctx := context.Background()
	first, err := a.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(54 * time.Minute) // 6m left > MinLife 5m: still shared
	if got, _ := b.Fetch(ctx); got.AccessToken != first.AccessToken {
		t.Errorf("with 6m left the shared token should be used")
	}
	clk.Advance(2 * time.Minute) // 4m left: due for refresh
	second, err := b.Fetch(ctx)
	if err != nil || second.AccessToken == first.AccessToken {
		t.Fatalf("with 4m left Fetch = %v; want a new token", err)
	}
	if got, _ := a.Fetch(ctx); got.AccessToken != second.AccessToken {
		t.Errorf("instance A did not pick up B's refreshed token")
	}
	if c := up.calls.Load(); c != 2 {
		t.Errorf("upstream calls = %d, want 2", c)
	}
}

func TestSharedLockHolderDiesFallsBackToLocalFetch(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	inspect := srv.Client()
	ctx := context.Background()
	up := &upstream{now: time.Now, life: time.Hour}
	f := sharedFetcher(t, srv, up, nil)
	f.WaitMax = 150 * time.Millisecond
	// A holder that took the lock and died before storing a token.
	if err := inspect.Set(ctx, lockKey(f.Key), "dead-holder", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	tok, err := f.Fetch(ctx)
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("Fetch with a dead lock holder = %v; want a local fetch", err)
	}
	if c := up.calls.Load(); c != 1 {
		t.Errorf("upstream calls = %d, want 1", c)
	}
	if v, _ := inspect.Get(ctx, lockKey(f.Key)).Result(); v != "dead-holder" {
		t.Errorf("lock = %q: another holder's lock must not be released by us", v)
	}
	// The fallback shares its token, so the others stop waiting.
	g := sharedFetcher(t, srv, up, nil)
	if got, err := g.Fetch(ctx); err != nil || got.AccessToken != tok.AccessToken {
		t.Errorf("another instance got %v; want the fallback's shared token", err)
	}
}

func TestSharedRedisDownFallsBackToUpstream(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	up := &upstream{now: time.Now, life: time.Hour}
	f := sharedFetcher(t, srv, up, nil)
	srv.Stop()
	tok, err := f.Fetch(context.Background())
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("Fetch with Redis down = %v; want the upstream's token", err)
	}
	if c := up.calls.Load(); c != 1 {
		t.Errorf("upstream calls = %d, want 1", c)
	}
}

func TestSharedUpstreamFailureReleasesLock(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	want := &tokencache.UpstreamError{Kind: tokencache.KindRejected, Code: "1101/20173"}
	up := &upstream{now: time.Now, life: time.Hour, err: want}
	f := sharedFetcher(t, srv, up, nil)
	_, err := f.Fetch(context.Background())
	if tokencache.KindOf(err) != tokencache.KindRejected {
		t.Fatalf("Fetch = %v; want the upstream's rejection, kind kept", err)
	}
	ctx := context.Background()
	if n, _ := srv.Client().Exists(ctx, lockKey(f.Key), f.Key).Result(); n != 0 {
		t.Errorf("after a failed fetch %d of lock/token keys remain, want 0", n)
	}
}

func TestNewClient(t *testing.T) {
	c, err := NewClient("rediss://user:s3cr3t-pw@redis.example:6380/2?dial_timeout=3s")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.Options()
	if o.Addr != "redis.example:6380" || o.DB != 2 || o.Username != "user" || o.Password != "s3cr3t-pw" || o.TLSConfig == nil {
		t.Errorf("options = addr %s db %d user %s tls %v", o.Addr, o.DB, o.Username, o.TLSConfig != nil)
	}
	if o.DialTimeout != 3*time.Second || o.ReadTimeout != DefaultIOTimeout || o.MaxRetries != DefaultMaxRetries || o.DialerRetries != DefaultDialerRetries {
		t.Errorf("timeouts: dial %v read %v retries %d dialer retries %d", o.DialTimeout, o.ReadTimeout, o.MaxRetries, o.DialerRetries)
	}
	for _, bad := range []string{"http://:s3cr3t-pw@host", "redis://:s3cr3t-pw@host/notadb", "redis://:s3cr3t-pw@ho st:%zz"} {
		_, err := NewClient(bad)
		if err == nil {
			t.Errorf("NewClient(%q) accepted", bad)
			continue
		}
		if bytes.Contains([]byte(err.Error()), []byte("s3cr3t-pw")) {
			t.Errorf("error for %q shows the password: %v", bad, err)
		}
	}
}

func BenchmarkSharedFetchFromRedis(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	up := &upstream{now: time.Now, life: time.Hour}
	f := sharedFetcher(b, srv, up, nil)
	if _, err := f.Fetch(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Fetch(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	if c := up.calls.Load(); c != 1 {
		b.Fatalf("upstream calls = %d, want 1", c)
	}
}

// waitFor polls cond (a state change of another goroutine, not a clock)
// for at most 10s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
