package tokencache

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
)

func newClock() *testclock.Clock { return testclock.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// countingFetcher issues "tok-1", "tok-2", ... valid for life, or fails with err.
type countingFetcher struct {
	clk   *testclock.Clock
	life  time.Duration
	n     atomic.Int32
	mu    sync.Mutex
	err   error
	block chan struct{} // if non-nil, Fetch waits for it to be closed (or ctx)
}

func (f *countingFetcher) setErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *countingFetcher) Fetch(ctx context.Context) (Token, error) {
	n := f.n.Add(1)
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return Token{}, ctx.Err()
		}
	}
	f.mu.Lock()
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return Token{}, err
	}
	now := f.clk.Now()
	return Token{AccessToken: fmt.Sprintf("tok-%d", n), ExpiresAt: now.Add(f.life), FetchedAt: now}, nil
}

func mustGet(t *testing.T, c *Cache, key string, f Fetcher) Result {
	t.Helper()
	res, err := c.Get(context.Background(), key, f)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return res
}

func TestMissFetchesThenHits(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}

	res := mustGet(t, c, "app", f)
	if res.Source != SourceFetched || res.Token.AccessToken != "tok-1" {
		t.Fatalf("first Get = %+v, want fetched tok-1", res)
	}
	if !res.Token.ExpiresAt.Equal(clk.Now().Add(time.Hour)) {
		t.Fatalf("ExpiresAt = %v", res.Token.ExpiresAt)
	}
	res = mustGet(t, c, "app", f)
	if res.Source != SourceCache || res.Token.AccessToken != "tok-1" {
		t.Fatalf("second Get = %+v, want hit tok-1", res)
	}
	if got := f.n.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
	if tok, ok := c.Peek("app"); !ok || tok.AccessToken != "tok-1" {
		t.Fatalf("Peek = %+v %v", tok, ok)
	}
}

func TestRefreshBoundary(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)

	// 55m - 1ns elapsed: 5m + 1ns left > RefreshBefore -> hit.
	clk.Advance(55*time.Minute - time.Nanosecond)
	if res := mustGet(t, c, "app", f); res.Source != SourceCache || res.Token.AccessToken != "tok-1" {
		t.Fatalf("just before boundary: %+v, want hit", res)
	}
	// exactly 5m left: remaining <= RefreshBefore -> refresh.
	clk.Advance(time.Nanosecond)
	res := mustGet(t, c, "app", f)
	if res.Source != SourceFetched || res.Token.AccessToken != "tok-2" {
		t.Fatalf("at boundary: %+v, want fetched tok-2", res)
	}
	if got := f.n.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
}

func TestSingleFlightColdKey(t *testing.T) {
	const n = 200
	clk := newClock()
	c := New(Config{RefreshBefore: time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour, block: make(chan struct{})}
	waiting := make(chan string, n)
	c.testHookWait = func(key string) { waiting <- key }

	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { results[i], errs[i] = c.Get(context.Background(), "cold", f) })
	}
	for range n { // every goroutine is now waiting on the fetch
		<-waiting
	}
	for f.n.Load() == 0 { // the fetch goroutine may not have entered Fetch yet
		runtime.Gosched()
	}
	if got := f.n.Load(); got != 1 {
		t.Fatalf("fetches while waiting = %d, want 1", got)
	}
	close(f.block)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || results[i].Token.AccessToken != "tok-1" || results[i].Source != SourceFetched {
			t.Fatalf("caller %d: %+v %v", i, results[i], errs[i])
		}
	}
	if got := f.n.Load(); got != 1 {
		t.Fatalf("fetches = %d, want 1", got)
	}
}

func TestSingleFlightRefresh(t *testing.T) {
	const n = 50
	clk := newClock()
	c := New(Config{RefreshBefore: time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)
	clk.Advance(59 * time.Minute)
	f.block = make(chan struct{})
	waiting := make(chan string, n)
	c.testHookWait = func(key string) { waiting <- key }
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if res, err := c.Get(context.Background(), "app", f); err != nil || res.Token.AccessToken != "tok-2" {
				t.Errorf("Get = %+v %v", res, err)
			}
		})
	}
	for range n {
		<-waiting
	}
	close(f.block)
	wg.Wait()
	if got := f.n.Load(); got != 2 {
		t.Fatalf("fetches = %d, want 2", got)
	}
}

func TestStaleServedWhenRefreshFails(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)

	clk.Advance(58 * time.Minute) // 2m left: refresh due, token alive
	boom := &UpstreamError{Kind: KindUnavailable, StatusCode: 503}
	f.setErr(boom)
	res := mustGet(t, c, "app", f)
	if res.Source != SourceStale || res.Token.AccessToken != "tok-1" {
		t.Fatalf("Get = %+v, want stale tok-1", res)
	}
	if res.Source.String() != "stale" {
		t.Fatalf("Source.String() = %q", res.Source)
	}
	// every Get while the refresh keeps failing tries again (one at a time)
	mustGet(t, c, "app", f)
	if got := f.n.Load(); got != 3 {
		t.Fatalf("fetches = %d, want 3", got)
	}
	// the upstream recovers
	f.setErr(nil)
	if res := mustGet(t, c, "app", f); res.Source != SourceFetched || res.Token.AccessToken != "tok-4" {
		t.Fatalf("after recovery: %+v", res)
	}
}

func TestErrorWhenRefreshFailsAndTokenExpired(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)

	clk.Advance(time.Hour) // ExpiresAt == now: dead
	boom := &UpstreamError{Kind: KindRejected, StatusCode: 400, Code: "1101/20173"}
	f.setErr(boom)
	_, err := c.Get(context.Background(), "app", f)
	if !errors.Is(err, boom) || KindOf(err) != KindRejected {
		t.Fatalf("err = %v, want the rejection", err)
	}
	if _, ok := c.Peek("app"); ok {
		t.Fatal("dead token still cached after failed refresh")
	}
}

func TestErrorOnColdKey(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	f.setErr(errors.New("dial tcp: connection refused"))
	_, err := c.Get(context.Background(), "app", f)
	if err == nil || KindOf(err) != KindUnavailable {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if len(c.Keys()) != 0 {
		t.Fatalf("Keys = %v", c.Keys())
	}
}

func TestCallerCancelDoesNotCancelSharedFetch(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	release := make(chan struct{})
	fetchCtxErr := make(chan error, 1)
	var fetches atomic.Int32
	f := FetcherFunc(func(ctx context.Context) (Token, error) {
		fetches.Add(1)
		<-release
		fetchCtxErr <- ctx.Err()
		return Token{AccessToken: "shared", ExpiresAt: clk.Now().Add(time.Hour)}, nil
	})
	waiting := make(chan string, 2)
	c.testHookWait = func(key string) { waiting <- key }

	impatientCtx, cancel := context.WithCancel(context.Background())
	impatient := make(chan error, 1)
	go func() {
		_, err := c.Get(impatientCtx, "app", f)
		impatient <- err
	}()
	<-waiting // the impatient caller started the fetch and waits
	patient := make(chan Result, 1)
	go func() {
		res, err := c.Get(context.Background(), "app", f)
		if err != nil {
			t.Errorf("patient Get: %v", err)
		}
		patient <- res
	}()
	<-waiting

	cancel()
	if err := <-impatient; !errors.Is(err, context.Canceled) {
		t.Fatalf("impatient caller: %v, want context.Canceled", err)
	}
	close(release)
	if err := <-fetchCtxErr; err != nil {
		t.Fatalf("shared fetch ctx was cancelled: %v", err)
	}
	if res := <-patient; res.Token.AccessToken != "shared" || res.Source != SourceFetched {
		t.Fatalf("patient caller: %+v", res)
	}
	if fetches.Load() != 1 {
		t.Fatalf("fetches = %d", fetches.Load())
	}
	if res := mustGet(t, c, "app", f); res.Source != SourceCache {
		t.Fatalf("after: %+v, want hit", res)
	}
}

func TestCallerCancelDuringRefreshGetsStale(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: 5 * time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)
	clk.Advance(56 * time.Minute)
	f.block = make(chan struct{})
	defer close(f.block)
	ctx, cancel := context.WithCancel(context.Background())
	c.testHookWait = func(string) { cancel() }
	res, err := c.Get(ctx, "app", f)
	if err != nil || res.Source != SourceStale || res.Token.AccessToken != "tok-1" {
		t.Fatalf("Get = %+v %v, want stale tok-1", res, err)
	}
}

func TestFetchTimeoutBoundsFetch(t *testing.T) {
	c := New(Config{FetchTimeout: 50 * time.Millisecond})
	f := FetcherFunc(func(ctx context.Context) (Token, error) {
		<-ctx.Done()
		return Token{}, ctx.Err()
	})
	start := time.Now()
	_, err := c.Get(context.Background(), "app", f)
	if !errors.Is(err, context.DeadlineExceeded) || KindOf(err) != KindUnavailable {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestInvalidate(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: time.Minute, Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour}
	mustGet(t, c, "app", f)
	c.Invalidate("app")
	if _, ok := c.Peek("app"); ok {
		t.Fatal("Peek after Invalidate found a token")
	}
	if res := mustGet(t, c, "app", f); res.Source != SourceFetched || res.Token.AccessToken != "tok-2" {
		t.Fatalf("after Invalidate: %+v", res)
	}
	c.Invalidate("unknown") // no-op
}

func TestInvalidateDuringFetchDoesNotCache(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	f := &countingFetcher{clk: clk, life: time.Hour, block: make(chan struct{})}
	c.testHookWait = func(string) {
		c.Invalidate("app")
		close(f.block)
	}
	res := mustGet(t, c, "app", f)
	if res.Token.AccessToken != "tok-1" {
		t.Fatalf("waiter got %+v", res)
	}
	if _, ok := c.Peek("app"); ok {
		t.Fatal("token fetched before Invalidate was cached")
	}
}

func TestKeysIndependent(t *testing.T) {
	clk := newClock()
	c := New(Config{RefreshBefore: time.Minute, Now: clk.Now})
	fa := &countingFetcher{clk: clk, life: time.Hour}
	fb := &countingFetcher{clk: clk, life: 10 * time.Minute}
	if mustGet(t, c, "a", fa).Token.AccessToken != "tok-1" || mustGet(t, c, "b", fb).Token.AccessToken != "tok-1" {
		t.Fatal("unexpected tokens")
	}
	clk.Advance(9 * time.Minute) // b due, a not
	if res := mustGet(t, c, "a", fa); res.Source != SourceCache {
		t.Fatalf("a: %+v", res)
	}
	if res := mustGet(t, c, "b", fb); res.Source != SourceFetched || res.Token.AccessToken != "tok-2" {
		t.Fatalf("b: %+v", res)
	}
	// b's failure does not touch a
	fb.setErr(errors.New("down"))
	clk.Advance(20 * time.Minute)
	if _, err := c.Get(context.Background(), "b", fb); err == nil {
		t.Fatal("b: want error")
	}
	if res := mustGet(t, c, "a", fa); res.Source != SourceCache || res.Token.AccessToken != "tok-1" {
		t.Fatalf("a: %+v", res)
	}
	c.Invalidate("a")
	if got := c.Keys(); len(got) != 0 {
		t.Fatalf("Keys = %v", got)
	}
	mustGet(t, c, "a", fa)
	if got := c.Keys(); len(got) != 1 || got[0] != "a" {
		t.Fatalf("Keys = %v", got)
	}
}

func TestExpiredFetchedTokenIsAnError(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	for name, tok := range map[string]Token{
		"past":  {AccessToken: "x", ExpiresAt: clk.Now().Add(-time.Second)},
		"now":   {AccessToken: "x", ExpiresAt: clk.Now()},
		"zero":  {AccessToken: "x"},
		"empty": {ExpiresAt: clk.Now().Add(time.Hour)},
	} {
		f := FetcherFunc(func(context.Context) (Token, error) { return tok, nil })
		_, err := c.Get(context.Background(), name, f)
		if err == nil || KindOf(err) != KindUnavailable {
			t.Errorf("%s: err = %v, want KindUnavailable", name, err)
		}
		if _, ok := c.Peek(name); ok {
			t.Errorf("%s: garbage cached", name)
		}
	}
}

func TestFetcherPanicIsAnError(t *testing.T) {
	c := New(Config{})
	f := FetcherFunc(func(context.Context) (Token, error) { panic("boom") })
	if _, err := c.Get(context.Background(), "app", f); KindOf(err) != KindUnavailable {
		t.Fatalf("err = %v", err)
	}
}

func TestFetchedAtDefaultsToNow(t *testing.T) {
	clk := newClock()
	c := New(Config{Now: clk.Now})
	f := FetcherFunc(func(context.Context) (Token, error) {
		return Token{AccessToken: "x", ExpiresAt: clk.Now().Add(time.Hour)}, nil
	})
	if res := mustGet(t, c, "app", f); !res.Token.FetchedAt.Equal(clk.Now()) {
		t.Fatalf("FetchedAt = %v", res.Token.FetchedAt)
	}
}
