// Package testclock is the one test clock of the project: a settable,
// concurrency-safe clock that tests move on instead of sleeping. Only tests
// (and test helper packages) import it.
package testclock

import (
	"sync"
	"time"
)

// Clock stands still until a test moves it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a clock reading start.
func New(start time.Time) *Clock { return &Clock{t: start} }

// Now reads the clock; pass c.Now where a func() time.Time is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
