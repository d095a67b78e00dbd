package tokencache

import "context"

// Refresh fetches a new token for key now, whatever the cached one has
// left: what an operator's "force refresh" means. It joins a fetch already
// in flight for key rather than starting a second one, so single-flight
// holds. Unlike Invalidate followed by Get, it keeps the cached token while
// the fetch runs and, if the fetch fails while that token is still alive,
// keeps serving it: the Result then has Source SourceStale and a nil error,
// which tells the caller the refresh did not succeed.
func (c *Cache) Refresh(ctx context.Context, key string, f Fetcher) (Result, error) {
	c.mu.Lock()
	e := c.entry(key)
	cl := e.call
	if cl == nil {
		// An operator's explicit refresh is a probe: it goes through even
		// while the circuit breaker holds Huawei off.
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
