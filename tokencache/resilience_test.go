package tokencache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

var errDown = &UpstreamError{Kind: KindUnavailable, StatusCode: 500, Code: "x"}

// TestShortLivedTokenRefreshedOnDemand: a token with less life than
// RefreshBefore is stale at once, so (as the contract says) each demand
// refreshes it, one fetch at a time.
func TestShortLivedTokenRefreshedOnDemand(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: 4 * time.Minute} // less life than RefreshBefore
	for i := range 3 {
		if res := mustGet(t, c, "k", f); res.Source != SourceFetched {
			t.Fatalf("call %d: source = %v, want fetched", i, res.Source)
		}
	}
	if n := f.n.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

// TestKeepFreshPacesShortLivedTokens: in the background, a token with less
// life than RefreshBefore is renewed at half its life, not in a loop.
func TestKeepFreshPacesShortLivedTokens(t *testing.T) {
	clk := newClock()
	ft := newFakeTimer()
	c := New(Config{RefreshBefore: 5 * time.Minute, RefreshAhead: 30 * time.Second, Now: clk.Now, After: ft.After})
	f := &countingFetcher{clk: clk, life: 4 * time.Minute}
	stop := startKeepFresh(t, c, "k", f)
	defer stop()

	<-ft.req              // idle: no token yet
	mustGet(t, c, "k", f) // the demand fetch wakes the refresher
	if d := <-ft.req; d != 2*time.Minute {
		t.Fatalf("wait = %v, want 2m (half of the 4m token's life)", d)
	}
	clk.Advance(2 * time.Minute)
	ft.fire <- clk.Now()
	if d := <-ft.req; d != 2*time.Minute {
		t.Fatalf("wait after the refresh = %v, want 2m for the new token", d)
	}
	if n := f.n.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one background refresh, no loop)", n)
	}
}

func TestBreakerOpensAfterRepeatedFailures(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: time.Minute, Now: clk.Now, BreakerThreshold: 3, BreakerCooldown: 30 * time.Second})
	f := &countingFetcher{clk: clk, life: time.Hour}
	f.setErr(errDown)
	for i := range 3 {
		if _, err := c.Get(context.Background(), "k", f); !errors.Is(err, errDown) {
			t.Fatalf("Get %d: err = %v, want the upstream's", i, err)
		}
	}
	for range 5 {
		_, err := c.Get(context.Background(), "k", f)
		if !errors.Is(err, ErrBreakerOpen) || KindOf(err) != KindUnavailable {
			t.Fatalf("err = %v, want ErrBreakerOpen of kind unavailable", err)
		}
		if ra := RetryAfterOf(err); ra != 30*time.Second {
			t.Fatalf("RetryAfter = %v, want 30s", ra)
		}
	}
	if n := f.n.Load(); n != 3 {
		t.Fatalf("upstream calls = %d, want 3 (none while open)", n)
	}
	clk.Advance(10 * time.Second)
	if _, err := c.Get(context.Background(), "k", f); RetryAfterOf(err) != 20*time.Second {
		t.Fatalf("RetryAfter = %v, want the 20s left", RetryAfterOf(err))
	}
	clk.Advance(20 * time.Second) // cooldown over: one probe, which fails and reopens
	c.Get(context.Background(), "k", f)
	c.Get(context.Background(), "k", f)
	if n := f.n.Load(); n != 4 {
		t.Fatalf("upstream calls = %d, want 4 (one probe after the cooldown)", n)
	}
	clk.Advance(30 * time.Second)
	f.setErr(nil)
	if res := mustGet(t, c, "k", f); res.Source != SourceFetched {
		t.Fatalf("after recovery: %+v", res)
	}
	if d := c.PausedFor("k"); d != 0 {
		t.Fatalf("breaker still open for %v after a success", d)
	}
}

func TestBreakerServesLiveTokenWhileOpen(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now, BreakerThreshold: 2})
	f := &countingFetcher{clk: clk, life: time.Hour}
	tok := mustGet(t, c, "k", f).Token
	clk.Advance(56 * time.Minute) // within RefreshBefore: every Get tries a refresh
	f.setErr(errDown)
	for range 10 {
		res := mustGet(t, c, "k", f)
		if res.Token != tok || res.Source != SourceStale {
			t.Fatalf("got %+v, want the old token, stale", res)
		}
	}
	if n := f.n.Load(); n != 3 {
		t.Fatalf("upstream calls = %d, want 1 + 2 failures, then none", n)
	}
}

func TestRetryAfterPausesUpstream(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	f.setErr(&UpstreamError{Kind: KindUnavailable, StatusCode: 503, RetryAfter: 20 * time.Second})
	c.Get(context.Background(), "k", f)
	_, err := c.Get(context.Background(), "k", f)
	if !errors.Is(err, ErrBreakerOpen) || RetryAfterOf(err) != 20*time.Second {
		t.Fatalf("err = %v, want paused for Retry-After 20s", err)
	}
	if n := f.n.Load(); n != 1 {
		t.Fatalf("upstream calls = %d, want 1: Retry-After is honoured", n)
	}
}

func TestBreakerKeepsRejectedKind(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now, BreakerThreshold: 1})
	f := &countingFetcher{clk: clk, life: time.Hour}
	f.setErr(&UpstreamError{Kind: KindRejected, StatusCode: 400, Code: "1101/20173"})
	c.Get(context.Background(), "k", f)
	_, err := c.Get(context.Background(), "k", f)
	var ue *UpstreamError
	if !errors.As(err, &ue) || ue.Kind != KindRejected || ue.Code != "1101/20173" || !errors.Is(err, ErrBreakerOpen) {
		t.Fatalf("err = %v, want the rejection remembered", err)
	}
}

func TestStaleWaitBoundsWaitForRefresh(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now, StaleWait: 10 * time.Millisecond})
	f := &countingFetcher{clk: clk, life: time.Hour}
	tok := mustGet(t, c, "k", f).Token
	clk.Advance(56 * time.Minute)
	f.block = make(chan struct{}) // the refresh hangs
	res := mustGet(t, c, "k", f)
	if res.Token != tok || res.Source != SourceStale {
		t.Fatalf("got %+v, want the old token without waiting for the refresh", res)
	}
	close(f.block)
}

func TestOnFetchReportsEveryFetch(t *testing.T) {
	clk := newClock()
	var mu sync.Mutex
	var events []FetchEvent
	c := New(Config{Now: clk.Now, BreakerThreshold: 2, BreakerCooldown: time.Minute, OnFetch: func(ev FetchEvent) {
		mu.Lock()
		events = append(events, ev)
		mu.Unlock()
	}})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)
	clk.Advance(time.Hour)
	f.setErr(errDown)
	c.Get(context.Background(), "app", f)
	c.Get(context.Background(), "app", f)
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 3 {
		t.Fatalf("%d events, want 3", len(events))
	}
	if ev := events[0]; ev.Key != "app" || ev.Err != nil || !ev.ExpiresAt.Equal(clk.Now()) || ev.Background {
		t.Errorf("success event = %+v", ev)
	}
	if ev := events[1]; !errors.Is(ev.Err, errDown) || ev.PausedFor != 0 || !ev.ExpiresAt.IsZero() {
		t.Errorf("first failure = %+v", ev)
	}
	if ev := events[2]; ev.PausedFor != time.Minute {
		t.Errorf("second failure should open the breaker for 1m: %+v", ev)
	}
}

// fakeTimer drives KeepFresh: each wait is reported on req, and fires when
// the test sends on fire.
type fakeTimer struct {
	req  chan time.Duration
	fire chan time.Time
}

func newFakeTimer() *fakeTimer {
	return &fakeTimer{req: make(chan time.Duration, 64), fire: make(chan time.Time)}
}

func (ft *fakeTimer) After(d time.Duration) <-chan time.Time {
	ft.req <- d
	return ft.fire
}

func startKeepFresh(t *testing.T, c *Cache, key string, f Fetcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.KeepFresh(ctx, key, f) }()
	return func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("KeepFresh did not return after its context ended")
		}
	}
}

func TestKeepFreshRefreshesBeforeStale(t *testing.T) {
	clk := newClock()
	ft := newFakeTimer()
	c := New(Config{RefreshBefore: 5 * time.Minute, RefreshAhead: 30 * time.Second, Now: clk.Now, After: ft.After})
	f := &countingFetcher{clk: clk, life: time.Hour}
	stop := startKeepFresh(t, c, "k", f)
	defer stop()

	if d := <-ft.req; d != refreshIdle {
		t.Fatalf("first wait without a token = %v, want %v", d, refreshIdle)
	}
	mustGet(t, c, "k", f) // the demand fetch wakes the refresher
	if d := <-ft.req; d != 54*time.Minute+30*time.Second {
		t.Fatalf("wait = %v, want 54m30s (30s before the token turns stale)", d)
	}
	clk.Advance(54*time.Minute + 30*time.Second)
	ft.fire <- clk.Now()
	if d := <-ft.req; d != 54*time.Minute+30*time.Second { // the refresh is done before the next wait
		t.Fatalf("wait after the refresh = %v, want 54m30s for the new token", d)
	}
	if n := f.n.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one background refresh)", n)
	}
	res := mustGet(t, c, "k", f)
	if res.Source != SourceCache || res.Token.AccessToken != "tok-2" {
		t.Fatalf("after the background refresh: %+v, want tok-2 from the cache", res)
	}
	clk.Advance(60 * time.Second) // would have been stale without the refresh
	if res := mustGet(t, c, "k", f); res.Source != SourceCache {
		t.Fatalf("caller waited for upstream in steady state: %+v", res)
	}
}

func TestKeepFreshBacksOffAndRespectsBreaker(t *testing.T) {
	clk := newClock()
	ft := newFakeTimer()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now, After: ft.After,
		BreakerThreshold: 2, BreakerCooldown: 40 * time.Second})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "k", f)
	stop := startKeepFresh(t, c, "k", f)
	defer stop()

	<-ft.req
	clk.Advance(54*time.Minute + 30*time.Second)
	f.setErr(errDown)
	ft.fire <- clk.Now()
	if d := <-ft.req; d != refreshRetry {
		t.Fatalf("wait after a failure = %v, want %v", d, refreshRetry)
	}
	ft.fire <- clk.Now()
	if d := <-ft.req; d != 40*time.Second {
		t.Fatalf("wait after the breaker opened = %v, want its 40s", d)
	}
	ft.fire <- clk.Now() // fired early: the breaker is still open, no call
	<-ft.req
	if n := f.n.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3 (none while the breaker is open)", n)
	}
}

func TestKeepFreshStopsWithContext(t *testing.T) {
	c := New(Config{})
	f := &countingFetcher{clk: newClock(), life: time.Hour}
	stop := startKeepFresh(t, c, "k", f)
	stop() // fails the test if KeepFresh does not return
}

// TestBreakerPauseEndsBeforeLiveTokenDies: a pause opened by repeated
// failures ends while the cached token is still alive, so one probe can
// replace it before callers are left with nothing.
func TestBreakerPauseEndsBeforeLiveTokenDies(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now, BreakerThreshold: 2, BreakerCooldown: 10 * time.Minute})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "k", f)
	clk.Advance(56 * time.Minute) // 4m left
	f.setErr(errDown)
	mustGet(t, c, "k", f)
	mustGet(t, c, "k", f)
	if d := c.PausedFor("k"); d != 2*time.Minute {
		t.Fatalf("paused for %v, want 2m (the token has 4m left; half of it spare)", d)
	}
	clk.Advance(2 * time.Minute)
	f.setErr(nil)
	if res := mustGet(t, c, "k", f); res.Source != SourceFetched {
		t.Fatalf("probe before the token died: %+v", res)
	}
}
