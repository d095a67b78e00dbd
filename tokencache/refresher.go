package tokencache

import (
	"context"
	"errors"
	"time"
)

// Refresher defaults.
const (
	// DefaultRefreshAhead is how long before a token turns stale KeepFresh
	// refreshes it.
	DefaultRefreshAhead = 30 * time.Second
	// refreshIdle is how often KeepFresh looks again at a key that has no
	// live token (the next Get fetches that one on demand).
	refreshIdle = time.Minute
	// refreshRetry is the least KeepFresh waits after a failed refresh, so a
	// failing upstream is not called in a tight loop before the breaker
	// opens.
	refreshRetry = 5 * time.Second
)

// ErrRefreshFailed is what refreshIfDue reports when a refresh failed but
// the old token was served (the fetch's own error went to OnFetch).
var ErrRefreshFailed = errors.New("tokencache: background refresh failed")

// KeepFresh refreshes key's token in the background a little before it
// would turn stale, so that in steady state no caller of Get waits for the
// upstream. It blocks until ctx is done; run it on its own goroutine, with a
// ctx that ends when the cache is no longer used (a goroutine must not
// outlive the configuration that started it).
//
// A key with no live token is left alone: the next Get fetches it on
// demand, and KeepFresh, woken by the stored token, takes over from there. A background fetch shares
// the key's single flight and circuit breaker with Get: it never adds a
// second concurrent call, and it makes no call while the breaker is open.
func (c *Cache) KeepFresh(ctx context.Context, key string, f Fetcher) {
	failed := false
	for {
		d, stored := c.nextRefresh(key)
		if failed {
			d = max(d, refreshRetry)
		}
		select {
		case <-ctx.Done():
			return
		case <-stored: // a new token: recompute when to refresh it
			failed = false
			continue
		case <-c.after(d):
		}
		if ctx.Err() != nil {
			return
		}
		failed = c.refreshIfDue(ctx, key, f) != nil
	}
}

// refreshAt is when KeepFresh refreshes t: RefreshAhead before it turns
// stale, but no earlier than three quarters of the way to that point.
func (c *Cache) refreshAt(t Token) time.Time {
	stale := c.staleAt(t)
	if t.FetchedAt.IsZero() {
		return stale.Add(-c.refreshAhead)
	}
	// A token with less life than RefreshBefore is stale as soon as it is
	// fetched; in the background it is renewed at half its life, so the
	// refresher never loops on an upstream that hands out short tokens.
	if half := t.FetchedAt.Add(t.ExpiresAt.Sub(t.FetchedAt) / 2); !stale.After(half) {
		return half
	}
	ahead := min(c.refreshAhead, stale.Sub(t.FetchedAt)/4)
	return stale.Add(-max(ahead, 0))
}

// nextRefresh returns how long KeepFresh waits before it looks at key
// again, and the channel that is closed when a token is stored before then.
func (c *Cache) nextRefresh(key string) (time.Duration, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	e := c.entries[key]
	if e == nil || !e.hasTok || !alive(e.tok, now) {
		return refreshIdle, c.stored
	}
	if left := e.brk.openFor(now); left > 0 {
		return left, c.stored
	}
	return max(c.refreshAt(e.tok).Sub(now), 0), c.stored
}

// refreshIfDue fetches (or joins a fetch in
// flight) when key's live token has reached its refresh time, and returns
// the fetch's error. A refresh that is not due, or is paused by the
// breaker, returns nil without calling the upstream.
func (c *Cache) refreshIfDue(ctx context.Context, key string, f Fetcher) error {
	c.mu.Lock()
	now := c.now()
	e := c.entries[key]
	if e == nil || !e.hasTok || !alive(e.tok, now) || now.Before(c.refreshAt(e.tok)) || e.brk.openFor(now) > 0 {
		c.mu.Unlock()
		return nil
	}
	cl := e.call
	own := cl == nil
	if own {
		cl = c.startLocked(ctx, key, e, f, true)
	}
	c.mu.Unlock()

	if own {
		<-cl.done // bound to ctx: ends promptly when ctx does
	} else {
		select {
		case <-cl.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if cl.err != nil {
		return cl.err
	}
	if cl.res.Source == SourceStale {
		return ErrRefreshFailed
	}
	return nil
}
