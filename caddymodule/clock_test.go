package caddymodule

import (
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// fakeClock is a frozen, concurrency-safe clock that tests advance.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// issued is a mint option: the assertion is issued at the fake clock's now.
func (c *fakeClock) issued(p *sinchauth.MintParams) { p.IssuedAt = c.Now() }

// useTestClock makes the handlers provisioned from now on (and their token
// caches) use a frozen clock, for the rest of the test. Mint assertions
// with the clock's issued option.
func useTestClock(t *testing.T) *fakeClock {
	t.Helper()
	c := &fakeClock{t: time.Now()}
	now := c.Now
	testClock.Store(&now)
	t.Cleanup(func() { testClock.Store(nil) })
	return c
}
