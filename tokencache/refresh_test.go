package tokencache

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

func TestRefreshFetchesAFreshTokenWhileCachedIsFresh(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)

	res, err := c.Refresh(context.Background(), "app", f)
	if err != nil || res.Source != SourceFetched || res.Token.AccessToken != "tok-2" {
		t.Fatalf("Refresh = %+v, %v; want fetched tok-2", res, err)
	}
	if got := mustGet(t, c, "app", f); got.Source != SourceCache || got.Token.AccessToken != "tok-2" {
		t.Fatalf("Get after Refresh = %+v, want hit tok-2", got)
	}
}

func TestRefreshFailureKeepsServingTheOldToken(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)

	f.setErr(&UpstreamError{Kind: KindRejected, StatusCode: 400, Code: "1101/20173"})
	res, err := c.Refresh(context.Background(), "app", f)
	if err != nil || res.Source != SourceStale || res.Token.AccessToken != "tok-1" {
		t.Fatalf("Refresh = %+v, %v; want stale tok-1 and no error", res, err)
	}
	if got := mustGet(t, c, "app", f); got.Source != SourceCache || got.Token.AccessToken != "tok-1" {
		t.Fatalf("Get after failed Refresh = %+v, want the old token from the cache", got)
	}
}

func TestRefreshColdKeyFailureIsAnError(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	f.setErr(&UpstreamError{Kind: KindUnavailable, StatusCode: 503})
	if _, err := c.Refresh(context.Background(), "app", f); KindOf(err) != KindUnavailable {
		t.Fatalf("Refresh on a cold key with a failing upstream: err = %v, want KindUnavailable", err)
	}
}

func TestRefreshJoinsFetchInFlight(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour, block: make(chan struct{})}
	waiting := make(chan string, 2)
	c.testHookWait = func(key string) { waiting <- key }

	var wg sync.WaitGroup
	results := make([]Result, 2)
	wg.Add(2)
	go func() { defer wg.Done(); results[0], _ = c.Get(context.Background(), "app", f) }()
	<-waiting // the Get's fetch is in flight
	go func() { defer wg.Done(); results[1], _ = c.Refresh(context.Background(), "app", f) }()
	<-waiting // the Refresh has joined it
	close(f.block)
	wg.Wait()
	if n := f.n.Load(); n != 1 {
		t.Fatalf("Refresh during an in-flight fetch made %d fetches, want 1", n)
	}
	if results[0].Token.AccessToken != "tok-1" || results[1].Token.AccessToken != "tok-1" {
		t.Fatalf("results = %+v, want both tok-1", results)
	}
}

func TestRefreshIsPaced(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now, RefreshPause: 30 * time.Second})
	f := &countingFetcher{clk: clk, life: time.Hour}
	if _, err := c.Refresh(context.Background(), "app", f); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Second)
	_, err := c.Refresh(context.Background(), "app", f)
	var paced *RefreshPacedError
	if !errors.As(err, &paced) || !errors.Is(err, ErrRefreshPaced) || paced.RetryAfter != 20*time.Second {
		t.Fatalf("second Refresh inside the pause: err = %v, want a RefreshPacedError of 20s", err)
	}
	// Another key is not paced; Get is not paced.
	if _, err := c.Refresh(context.Background(), "other", f); err != nil {
		t.Fatalf("Refresh of another key: %v", err)
	}
	if res := mustGet(t, c, "app", f); res.Source != SourceCache {
		t.Fatalf("Get inside the pause = %v, want a hit", res.Source)
	}
	if n := f.n.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2 (one per key)", n)
	}
	clk.Advance(20 * time.Second)
	if res, err := c.Refresh(context.Background(), "app", f); err != nil || res.Source != SourceFetched {
		t.Fatalf("Refresh after the pause = %v, %v; want fetched", res.Source, err)
	}
}

func TestRefreshPauseNegativeDisablesPacing(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now, RefreshPause: -1})
	f := &countingFetcher{clk: clk, life: time.Hour}
	for range 3 {
		if _, err := c.Refresh(context.Background(), "app", f); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.n.Load(); n != 3 {
		t.Fatalf("fetches = %d, want 3", n)
	}
}

func TestRefreshWaitsForOpenBreaker(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now, BreakerThreshold: 2, BreakerCooldown: 10 * time.Second, RefreshPause: -1})
	f := &countingFetcher{clk: clk, life: time.Hour}
	f.setErr(&UpstreamError{Kind: KindUnavailable, StatusCode: 503, Code: "1203"})
	for range 2 {
		if _, err := c.Get(context.Background(), "app", f); err == nil {
			t.Fatal("Get with a failing upstream: no error")
		}
	}
	_, err := c.Refresh(context.Background(), "app", f)
	var ue *UpstreamError
	if !errors.Is(err, ErrBreakerOpen) || !errors.As(err, &ue) || ue.RetryAfter != 10*time.Second || ue.StatusCode != 503 || ue.Code != "1203" {
		t.Fatalf("Refresh while the breaker is open: err = %v, want ErrBreakerOpen, 10s, the last failure's codes", err)
	}
	if n := f.n.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2: Refresh called the upstream through an open breaker", n)
	}
	clk.Advance(10 * time.Second)
	f.setErr(nil)
	if res, err := c.Refresh(context.Background(), "app", f); err != nil || res.Source != SourceFetched {
		t.Fatalf("Refresh after the pause = %v, %v", res.Source, err)
	}
}

// TestRefreshHonoursFullRetryAfter: demand fetches probe once
// BreakerMaxPause is over, but a forced refresh waits for all of the
// upstream's Retry-After; the pacing error reports the longer wait.
func TestRefreshHonoursFullRetryAfter(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now, BreakerMaxPause: 10 * time.Second, RefreshPause: 30 * time.Second})
	f := &countingFetcher{clk: clk, life: time.Hour}
	f.setErr(&UpstreamError{Kind: KindUnavailable, StatusCode: 503, RetryAfter: time.Minute})
	if _, err := c.Refresh(context.Background(), "app", f); err == nil {
		t.Fatal("Refresh with a throttling upstream: no error")
	}
	var paced *RefreshPacedError
	if _, err := c.Refresh(context.Background(), "app", f); !errors.As(err, &paced) || paced.RetryAfter != time.Minute {
		t.Fatalf("Refresh inside the pause: %v, want paced for the upstream's 60s", err)
	}
	clk.Advance(31 * time.Second)
	if got := c.PausedFor("app"); got != 0 {
		t.Fatalf("breaker still open after BreakerMaxPause: %v", got)
	}
	_, err := c.Refresh(context.Background(), "app", f)
	var ue *UpstreamError
	if !errors.Is(err, ErrBreakerOpen) || !errors.As(err, &ue) || ue.RetryAfter != 29*time.Second {
		t.Fatalf("Refresh before the upstream's Retry-After ended: %v, want ErrBreakerOpen with 29s", err)
	}
	if n := f.n.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1", n)
	}
	// A demand fetch probes meanwhile; its success lifts every pause.
	f.setErr(nil)
	mustGet(t, c, "app", f)
	if res, err := c.Refresh(context.Background(), "app", f); err != nil || res.Source != SourceFetched {
		t.Fatalf("Refresh after a successful probe = %v, %v", res.Source, err)
	}
}

func TestConcurrentRefreshesShareOneFetch(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour, block: make(chan struct{})}
	const n = 20
	waiting := make(chan string, n)
	c.testHookWait = func(key string) { waiting <- key }
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); results[i], errs[i] = c.Refresh(context.Background(), "app", f) }()
	}
	for range n {
		<-waiting // every Refresh is waiting for the one fetch in flight
	}
	close(f.block)
	wg.Wait()
	if got := f.n.Load(); got != 1 {
		t.Fatalf("%d concurrent Refreshes made %d fetches, want 1", n, got)
	}
	for i := range n {
		if errs[i] != nil || results[i].Token.AccessToken != "tok-1" || results[i].Source != SourceFetched {
			t.Fatalf("Refresh %d = %+v, %v; want fetched tok-1", i, results[i], errs[i])
		}
	}
}
