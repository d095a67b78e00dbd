package tokencache

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// DefaultRefreshPause is the least time between two forced refreshes of
// one key (see Refresh) when Config.RefreshPause is zero.
const DefaultRefreshPause = 30 * time.Second

// ErrRefreshPaced is matched (errors.Is) by the *RefreshPacedError that
// Refresh returns inside the pause after a forced refresh.
var ErrRefreshPaced = errors.New("tokencache: forced refresh paced")

// RefreshPacedError is what Refresh returns, without calling the upstream,
// when a forced refresh of the key started less than RefreshPause ago.
type RefreshPacedError struct {
	// RetryAfter is how long until a forced refresh may call the upstream
	// again, in whole seconds: the rest of the pause, or of the upstream's
	// own pause if that ends later.
	RetryAfter time.Duration
}

func (e *RefreshPacedError) Error() string {
	return "tokencache: forced refresh paced: try again in " + strconv.FormatInt(int64(e.RetryAfter/time.Second), 10) + "s"
}

// Is makes errors.Is(err, ErrRefreshPaced) true.
func (e *RefreshPacedError) Is(target error) bool { return target == ErrRefreshPaced }

// Refresh fetches a new token for key now, whatever the cached one has
// left: what an operator's "force refresh" means. It keeps the cached token
// while the fetch runs and, if the fetch fails while that token is still
// alive, keeps serving it: the Result then has Source SourceStale and a nil
// error, which tells the caller the refresh did not succeed.
//
// Forced refreshes are coalesced and paced per key, because each one costs
// an upstream token (Huawei allows 1,000 per 5 minutes per app):
//   - a Refresh joins a fetch already in flight for key rather than starting
//     a second one (single flight);
//   - within RefreshPause of the start of the key's last forced fetch, it
//     calls nothing and returns a *RefreshPacedError;
//   - it never calls the upstream while the key's circuit breaker is open,
//     nor before an upstream Retry-After has passed (even one longer than
//     the breaker's BreakerMaxPause): it returns an *UpstreamError wrapping
//     ErrBreakerOpen whose RetryAfter is the time left.
//
// The pacing state lives in the key's entry, beside its breaker, as long
// as the Cache does (Invalidate forgets it).
func (c *Cache) Refresh(ctx context.Context, key string, f Fetcher) (Result, error) {
	c.mu.Lock()
	e := c.entry(key)
	cl := e.call
	if cl == nil {
		now := c.now()
		upstream := e.brk.upstreamPause(now)
		if c.refreshPause > 0 && !e.forcedAt.IsZero() {
			if left := e.forcedAt.Add(c.refreshPause).Sub(now); left > 0 {
				c.mu.Unlock()
				return Result{}, &RefreshPacedError{RetryAfter: roundUpSecond(max(left, upstream))}
			}
		}
		if upstream > 0 {
			err := c.openError(e, upstream)
			c.mu.Unlock()
			return Result{}, err
		}
		e.forcedAt = now
		cl = c.startLocked(ctx, key, e, f, false)
	}
	c.mu.Unlock()

	if h := c.testHookWait; h != nil {
		h(key)
	}
	select {
	case <-cl.done:
		return cl.res, cl.err
	case <-ctx.Done():
		return Result{}, context.Cause(ctx)
	}
}
