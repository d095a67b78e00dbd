package tokencache

import (
	"context"
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
