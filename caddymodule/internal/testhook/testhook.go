// Package testhook holds the few values a test of the Caddy glue may set to
// shape the handlers provisioned afterwards: the one shared test clock and a
// short upstream timeout. Production code only reads them; nothing outside
// caddymodule can import this package.
package testhook

import (
	"sync/atomic"
	"time"
)

// clock, when a test sets it, replaces time.Now for the handlers
// provisioned afterwards: their assertion checks, replay store and token
// caches. Atomic because the test goroutine sets it while Caddy provisions on
// another.
var clock atomic.Pointer[func() time.Time]

// SetClock makes now the clock of the handlers provisioned from here on,
// until the returned function restores the real one.
func SetClock(now func() time.Time) (restore func()) {
	clock.Store(&now)
	return func() { clock.Store(nil) }
}

// Clock is the clock of a newly provisioned handler: the test clock if one
// is set, else time.Now.
func Clock() func() time.Time {
	if p := clock.Load(); p != nil {
		return *p
	}
	return time.Now
}

// Now reads, at each call, the clock Clock would give a new handler. State
// shared by every config of the process (the replay memory) uses it, so it
// never keeps the clock of whichever handler created it.
func Now() time.Time { return Clock()() }

// upstreamTimeout, when a test sets it, bounds each upstream fetch of the
// token caches created afterwards to that long, one attempt: so that a test
// of a hanging Huawei or Google need not wait seconds.
var upstreamTimeout atomic.Int64

// SetUpstreamTimeout sets that bound until the returned function restores
// the default.
func SetUpstreamTimeout(d time.Duration) (restore func()) {
	upstreamTimeout.Store(int64(d))
	return func() { upstreamTimeout.Store(0) }
}

// UpstreamTimeout is the bound a test set, or 0.
func UpstreamTimeout() time.Duration { return time.Duration(upstreamTimeout.Load()) }
