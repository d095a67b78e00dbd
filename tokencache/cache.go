// Package tokencache is a per-key OAuth access-token cache shared by the
// upstream clients (Huawei HMS, Google FCM). It knows nothing of Caddy or of
// any particular upstream.
//
// Promises:
//   - a cached token is served while it has more than RefreshBefore left;
//   - at most one upstream fetch runs per key at a time, however many callers
//     wait for it (single-flight);
//   - the fetch runs detached from the caller that started it, bounded by
//     FetchTimeout, so one impatient caller does not fail the others;
//   - when a refresh fails and the previous token is still alive, that token
//     is served (stale-if-error).
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

	mu      sync.Mutex
	entries map[string]*entry

	// testHookWait, if set, is called (without the lock) each time a Get
	// starts waiting for an in-flight fetch.
	testHookWait func(key string)
}

type entry struct {
	tok    Token
	hasTok bool
	call   *call // in-flight fetch, nil if none
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
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.fetchTimeout <= 0 {
		c.fetchTimeout = DefaultFetchTimeout
	}
	return c
}

// fresh reports whether t may be served without a refresh.
func (c *Cache) fresh(t Token, now time.Time) bool {
	return t.ExpiresAt.Sub(now) > c.refreshBefore
}

// Get returns a usable token for key, fetching through f when the cached one
// is missing or within RefreshBefore of expiry.
//
// Exactly one upstream fetch runs per key at a time, however many callers
// wait; each waiting caller honours its own ctx. When ctx ends while waiting,
// Get returns the old token as SourceStale if it is still alive, else ctx's
// error. If the refresh fails and the old token is still alive, the old token
// is returned with a nil error and Source SourceStale. The fetch runs on a
// context detached from the first caller's cancellation
// (context.WithoutCancel + FetchTimeout).
//
// A fetched token with an empty AccessToken or an ExpiresAt not after now is
// an *UpstreamError of KindUnavailable and is not cached.
func (c *Cache) Get(ctx context.Context, key string, f Fetcher) (Result, error) {
	c.mu.Lock()
	e := c.entries[key]
	if e == nil {
		e = &entry{}
		c.entries[key] = e
	}
	if e.hasTok && c.fresh(e.tok, c.now()) {
		tok := e.tok
		c.mu.Unlock()
		return Result{Token: tok, Source: SourceCache}, nil
	}
	cl := e.call
	if cl == nil {
		cl = &call{done: make(chan struct{}), old: e.tok, hasOld: e.hasTok}
		e.call = cl
		go c.fetch(ctx, key, e, cl, f)
	}
	c.mu.Unlock()

	if h := c.testHookWait; h != nil {
		h(key)
	}
	select {
	case <-cl.done:
		return cl.res, cl.err
	case <-ctx.Done():
		select {
		case <-cl.done: // finished meanwhile: prefer the answer
			return cl.res, cl.err
		default:
		}
		if cl.hasOld && cl.old.ExpiresAt.After(c.now()) {
			return Result{Token: cl.old, Source: SourceStale}, nil
		}
		return Result{}, context.Cause(ctx)
	}
}

// fetch runs one upstream fetch for key and publishes its outcome to every
// waiter of cl. It runs in its own goroutine.
func (c *Cache) fetch(parent context.Context, key string, e *entry, cl *call, f Fetcher) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), c.fetchTimeout)
	defer cancel()

	tok, err := safeFetch(ctx, f)
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
	switch {
	case err == nil:
		cl.res = Result{Token: tok, Source: SourceFetched}
		if current {
			e.tok, e.hasTok = tok, true
		}
	case cl.hasOld && cl.old.ExpiresAt.After(now):
		cl.res = Result{Token: cl.old, Source: SourceStale}
	default:
		cl.err = err
		if current && e.hasTok && !e.tok.ExpiresAt.After(now) {
			e.tok, e.hasTok = Token{}, false // drop the dead token
		}
	}
	e.call = nil
	c.mu.Unlock()
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
