package caddymodule

import (
	"sync/atomic"
	"time"
)

// testClock, when a test sets it, replaces time.Now for the handlers
// provisioned afterwards: their assertion checks, replay store and token
// caches. Tests move time with it instead of sleeping. Atomic because the
// test goroutine sets it while Caddy provisions on another.
var testClock atomic.Pointer[func() time.Time]

// defaultNow is the clock of a newly provisioned handler.
func defaultNow() func() time.Time {
	if p := testClock.Load(); p != nil {
		return *p
	}
	return time.Now
}

// currentTime reads the clock defaultNow would give a new handler, at each
// call. The replay store uses it: it is shared by every config of the
// process, so it must not keep the clock of whichever handler created it.
func currentTime() time.Time { return defaultNow()() }
