// Package tokencache is a per-key OAuth access-token cache shared by the
// upstream clients (Huawei HMS, Google FCM). It knows nothing of Caddy or of
// any particular upstream.
//
// Promises:
//   - a cached token is served while it has more than RefreshBefore left,
//     then refreshed (a token issued with less life than that is refreshed
//     on every demand; the background refresher renews it at half its life);
//   - at most one upstream fetch runs per key at a time, however many callers
//     wait for it (single-flight);
//   - the fetch runs detached from the caller that started it, bounded by
//     FetchTimeout, so one impatient caller does not fail the others;
//   - when a refresh fails and the previous token is still alive, that token
//     is served (stale-if-error), and with StaleWait a caller does not wait
//     long for a refresh while the old token is alive;
//   - after BreakerThreshold consecutive failed fetches for a key, or an
//     upstream Retry-After, the upstream is not called for that key for a
//     while (circuit breaker, see breaker.go);
//   - a forced refresh (Refresh) joins the key's fetch in flight, calls the
//     upstream at most once per RefreshPause, and never while the breaker
//     or an upstream Retry-After holds it off (refresh.go);
//   - KeepFresh refreshes a token in the background before it turns stale,
//     so that callers in steady state never wait for the upstream
//     (refresher.go).
package tokencache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DefaultFetchTimeout bounds one fetch when Config.FetchTimeout is zero.
const DefaultFetchTimeout = 10 * time.Second

// Token is an access token and its lifetime.
type Token struct {
	AccessToken string
	ExpiresAt   time.Time
	FetchedAt   time.Time
}

// Fetcher gets a fresh token from an upstream for one key.
type Fetcher interface {
	Fetch(ctx context.Context) (Token, error)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context) (Token, error)

// Fetch calls f(ctx).
func (f FetcherFunc) Fetch(ctx context.Context) (Token, error) { return f(ctx) }

// Config configures a Cache.
type Config struct {
	// RefreshBefore: a token is served while it has more than this left;
	// then it is refreshed. Negative counts as zero.
	RefreshBefore time.Duration
	// Now is the clock; nil = time.Now.
	Now func() time.Time
	// FetchTimeout bounds one fetch (including the upstream's own retries);
	// zero = DefaultFetchTimeout.
	FetchTimeout time.Duration
	// StaleWait: while a still-alive token is being refreshed, a caller
	// waits at most this long for the refresh before it is served the old
	// token (SourceStale). Zero = wait for the refresh.
	StaleWait time.Duration
	// BreakerThreshold: after this many consecutive failed fetches of a key,
	// the upstream is not called for that key for BreakerCooldown. Zero =
	// DefaultBreakerThreshold; negative = never open (Retry-After is still
	// honoured).
	BreakerThreshold int
	// BreakerCooldown: how long the breaker stays open. Zero =
	// DefaultBreakerCooldown.
	BreakerCooldown time.Duration
	// BreakerMaxPause caps how long an upstream's Retry-After keeps the
	// breaker open (the caller still passes the full Retry-After on).
	// Zero = 10 minutes.
	BreakerMaxPause time.Duration
	// RefreshAhead: KeepFresh refreshes a token this long before it would
	// turn stale (at most a quarter of its fresh life). Zero =
	// DefaultRefreshAhead.
	RefreshAhead time.Duration
	// RefreshPause: after a forced refresh (Refresh) of a key calls the
	// upstream, further forced refreshes of that key call nothing for this
	// long. Zero = DefaultRefreshPause; negative = no pacing (single flight
	// and the upstream's pauses still hold).
	RefreshPause time.Duration
	// OnFetch, if set, is called after every upstream fetch, on demand or in
	// the background, with its outcome: for logs and metrics. It runs on the
	// fetching goroutine without the cache lock, and must not block.
	OnFetch func(FetchEvent)
	// After is KeepFresh's timer; nil = time.After. Tests swap it.
	After func(time.Duration) <-chan time.Time
}

// FetchEvent describes one finished upstream fetch. It holds no token.
type FetchEvent struct {
	Key        string
	Background bool          // started by KeepFresh, not by a caller
	Duration   time.Duration // wall time of the fetch
	ExpiresAt  time.Time     // of the fetched token; zero on failure
	Err        error         // nil on success
	// PausedFor is non-zero when this failure opened (or extended) the
	// circuit breaker: the upstream will not be called for this long.
	PausedFor time.Duration
}

// Source tells where a Result's token came from.
type Source int

const (
	SourceCache   Source = iota // a fresh cached token
	SourceFetched               // fetched from upstream for (or while waiting in) this call
	SourceStale                 // the refresh failed; the old, still valid token was served
)

// String returns "hit", "fetched" or "stale".
func (s Source) String() string {
	switch s {
	case SourceCache:
		return "hit"
	case SourceFetched:
		return "fetched"
	case SourceStale:
		return "stale"
	}
	return fmt.Sprintf("Source(%d)", int(s))
}

// Result is what Get returns.
type Result struct {
	Token  Token
	Source Source
}

// Cache is a per-key token cache. The zero value is not usable; use New.
type Cache struct {
	refreshBefore time.Duration
	now           func() time.Time
	fetchTimeout  time.Duration
	staleWait     time.Duration
	breaker       breakerConfig
	refreshAhead  time.Duration
	refreshPause  time.Duration // <= 0: forced refreshes are not paced
	onFetch       func(FetchEvent)
	after         func(time.Duration) <-chan time.Time

	mu      sync.Mutex
	entries map[string]*entry
	// stored is closed (and replaced) whenever a fetched token is stored,
	// to wake KeepFresh.
	stored chan struct{}

	// testHookWait, if set, is called (without the lock) each time a Get
	// starts waiting for an in-flight fetch.
	testHookWait func(key string)
}

type entry struct {
	tok    Token
	hasTok bool
	call   *call // in-flight fetch, nil if none
	brk    breakerState
	// forcedAt is when Refresh last started an upstream fetch for the key.
	forcedAt time.Time
}

type call struct {
	done   chan struct{} // closed when res/err are set
	res    Result
	err    error
	old    Token // the token cached when the fetch began
	hasOld bool
}

// New returns an empty cache.
func New(cfg Config) *Cache {
	c := &Cache{
		refreshBefore: max(cfg.RefreshBefore, 0),
		now:           cfg.Now,
		fetchTimeout:  cfg.FetchTimeout,
		entries:       make(map[string]*entry),
		stored:        make(chan struct{}),
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.fetchTimeout <= 0 {
		c.fetchTimeout = DefaultFetchTimeout
	}
	c.staleWait = max(cfg.StaleWait, 0)
	c.breaker = newBreakerConfig(cfg.BreakerThreshold, cfg.BreakerCooldown, cfg.BreakerMaxPause)
	c.refreshAhead = cfg.RefreshAhead
	if c.refreshAhead <= 0 {
		c.refreshAhead = DefaultRefreshAhead
	}
	switch {
	case cfg.RefreshPause == 0:
		c.refreshPause = DefaultRefreshPause
	case cfg.RefreshPause > 0:
		c.refreshPause = cfg.RefreshPause
	}
	c.onFetch = cfg.OnFetch
	c.after = cfg.After
	if c.after == nil {
		c.after = time.After
	}
	return c
}

// staleAt is when t stops being served without a refresh: RefreshBefore
// before it expires, as the contract says. A token issued with less life
// than RefreshBefore is therefore refreshed on every demand (one fetch at
// a time, and the circuit breaker bounds a failing upstream); only the
// background refresher paces itself for such tokens (see refreshAt).
func (c *Cache) staleAt(t Token) time.Time {
	return t.ExpiresAt.Add(-c.refreshBefore)
}

// fresh reports whether t may be served without a refresh.
func (c *Cache) fresh(t Token, now time.Time) bool {
	return now.Before(c.staleAt(t))
}

// alive reports whether t may still be handed out at all.
func alive(t Token, now time.Time) bool { return t.ExpiresAt.After(now) }

// Get returns a usable token for key, fetching through f when the cached one
// is missing or stale (see staleAt).
//
// Exactly one upstream fetch runs per key at a time, however many callers
// wait; each waiting caller honours its own ctx. When ctx ends while waiting
// (or StaleWait passes), Get returns the old token as SourceStale if it is
// still alive, else ctx's error. If the refresh fails and the old token is
// still alive, the old token is returned with a nil error and Source
// SourceStale. The fetch runs on a context detached from the first caller's
// cancellation (context.WithoutCancel + FetchTimeout).
//
// While the key's circuit breaker is open, Get calls no upstream: it returns
// the old token if alive, else an *UpstreamError of the last failure's Kind
// whose RetryAfter is the time left open, wrapping ErrBreakerOpen.
//
// A fetched token with an empty AccessToken or an ExpiresAt not after now is
// an *UpstreamError of KindUnavailable and is not cached.
func (c *Cache) Get(ctx context.Context, key string, f Fetcher) (Result, error) {
	c.mu.Lock()
	e := c.entry(key)
	now := c.now()
	if e.hasTok && c.fresh(e.tok, now) {
		tok := e.tok
		c.mu.Unlock()
		return Result{Token: tok, Source: SourceCache}, nil
	}
	cl := e.call
	if cl == nil {
		if left := e.brk.openFor(now); left > 0 {
			res, err := c.whileOpen(e, now, left)
			c.mu.Unlock()
			return res, err
		}
		cl = c.startLocked(ctx, key, e, f, false)
	}
	c.mu.Unlock()

	if h := c.testHookWait; h != nil {
		h(key)
	}
	return c.wait(ctx, cl)
}

// entry returns key's entry, creating it. c.mu must be held.
func (c *Cache) entry(key string) *entry {
	e := c.entries[key]
	if e == nil {
		e = &entry{}
		c.entries[key] = e
	}
	return e
}

// startLocked starts a fetch for key. c.mu must be held and no fetch in
// flight.
func (c *Cache) startLocked(ctx context.Context, key string, e *entry, f Fetcher, background bool) *call {
	cl := &call{done: make(chan struct{}), old: e.tok, hasOld: e.hasTok}
	e.call = cl
	go c.fetch(ctx, key, e, cl, f, background)
	return cl
}

// wait waits for cl on behalf of a caller.
func (c *Cache) wait(ctx context.Context, cl *call) (Result, error) {
	var staleTimer <-chan time.Time
	if c.staleWait > 0 && cl.hasOld && alive(cl.old, c.now()) {
		t := time.NewTimer(c.staleWait)
		defer t.Stop()
		staleTimer = t.C
	}
	select {
	case <-cl.done:
		return cl.res, cl.err
	case <-staleTimer:
	case <-ctx.Done():
	}
	select {
	case <-cl.done: // finished meanwhile: prefer the answer
		return cl.res, cl.err
	default:
	}
	if cl.hasOld && alive(cl.old, c.now()) {
		return Result{Token: cl.old, Source: SourceStale}, nil
	}
	return Result{}, context.Cause(ctx)
}

// fetch runs one upstream fetch for key and publishes its outcome to every
// waiter of cl. It runs in its own goroutine. A background fetch is bound to
// ctx (the refresher's), so that stopping the refresher stops it; a demand
// fetch is detached from its first caller.
func (c *Cache) fetch(parent context.Context, key string, e *entry, cl *call, f Fetcher, background bool) {
	if !background {
		parent = context.WithoutCancel(parent)
	}
	ctx, cancel := context.WithTimeout(parent, c.fetchTimeout)
	defer cancel()

	start := time.Now()
	tok, err := safeFetch(ctx, f)
	took := time.Since(start)
	now := c.now()
	if err == nil {
		switch {
		case tok.AccessToken == "":
			err = &UpstreamError{Kind: KindUnavailable, Err: errors.New("tokencache: fetched token is empty")}
		case !tok.ExpiresAt.After(now):
			err = &UpstreamError{Kind: KindUnavailable, Err: fmt.Errorf("tokencache: fetched token expired at %s, now %s",
				tok.ExpiresAt.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
		}
	}
	if err == nil && tok.FetchedAt.IsZero() {
		tok.FetchedAt = now
	}

	c.mu.Lock()
	current := c.entries[key] == e // false if Invalidate ran meanwhile
	var paused time.Duration
	switch {
	case err == nil:
		cl.res = Result{Token: tok, Source: SourceFetched}
		if current {
			e.tok, e.hasTok = tok, true
			close(c.stored)
			c.stored = make(chan struct{})
		}
	case cl.hasOld && alive(cl.old, now):
		cl.res = Result{Token: cl.old, Source: SourceStale}
	default:
		cl.err = err
		if current && e.hasTok && !alive(e.tok, now) {
			e.tok, e.hasTok = Token{}, false // drop the dead token
		}
	}
	if current {
		var liveUntil time.Time
		if e.hasTok && alive(e.tok, now) {
			liveUntil = e.tok.ExpiresAt
		}
		paused = e.brk.record(c.breaker, err, now, liveUntil)
	}
	e.call = nil
	c.mu.Unlock()

	// Reported before the waiters are released, so that whoever sees the
	// answer can also rely on the event having been recorded.
	if c.onFetch != nil {
		ev := FetchEvent{Key: key, Background: background, Duration: took, Err: err, PausedFor: paused}
		if err == nil {
			ev.ExpiresAt = tok.ExpiresAt
		}
		c.onFetch(ev)
	}
	close(cl.done)
}

// safeFetch calls f, turning a panic into an error so waiters never hang.
func safeFetch(ctx context.Context, f Fetcher) (tok Token, err error) {
	defer func() {
		if r := recover(); r != nil {
			tok, err = Token{}, &UpstreamError{Kind: KindUnavailable, Err: fmt.Errorf("tokencache: fetcher panicked: %v", r)}
		}
	}()
	return f.Fetch(ctx)
}

// Peek returns what is cached for key now, without fetching. The token may
// be within RefreshBefore of expiry (or, after a failed refresh, expired).
func (c *Cache) Peek(key string) (Token, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil && e.hasTok {
		return e.tok, true
	}
	return Token{}, false
}

// Invalidate forgets key's token. A fetch in flight for key still answers
// its waiters, but its token is not cached.
func (c *Cache) Invalidate(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}

// Keys returns the keys that hold a token, sorted.
func (c *Cache) Keys() []string {
	c.mu.Lock()
	keys := make([]string, 0, len(c.entries))
	for k, e := range c.entries {
		if e.hasTok {
			keys = append(keys, k)
		}
	}
	c.mu.Unlock()
	slices.Sort(keys)
	return keys
}
