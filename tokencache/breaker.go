package tokencache

import (
	"errors"
	"time"
)

// Circuit breaker defaults.
const (
	// DefaultBreakerThreshold consecutive failed fetches open the breaker.
	DefaultBreakerThreshold = 3
	// DefaultBreakerCooldown is how long an open breaker keeps the upstream
	// uncalled.
	DefaultBreakerCooldown = 30 * time.Second
	// maxPause caps a pause asked for by an upstream's Retry-After.
	maxPause = 10 * time.Minute
)

// ErrBreakerOpen is wrapped by the error Get returns while the upstream is
// not being called for a key.
var ErrBreakerOpen = errors.New("tokencache: upstream calls paused after failures")

// breakerConfig is the validated breaker part of Config.
type breakerConfig struct {
	threshold int // <= 0: never open on a count
	cooldown  time.Duration
	maxPause  time.Duration // cap on a Retry-After pause
}

func newBreakerConfig(threshold int, cooldown, maxRetryPause time.Duration) breakerConfig {
	if threshold == 0 {
		threshold = DefaultBreakerThreshold
	}
	if cooldown <= 0 {
		cooldown = DefaultBreakerCooldown
	}
	if maxRetryPause <= 0 {
		maxRetryPause = maxPause
	}
	return breakerConfig{threshold: threshold, cooldown: cooldown, maxPause: maxRetryPause}
}

// breakerState is one key's breaker. Guarded by Cache.mu.
//
// Why per key and in the cache: when an upstream is down or throttling,
// calling it on every request makes the outage (or the throttling) worse
// and makes every caller wait for a timeout. After repeated failures, or
// when the upstream says when to come back (Retry-After), the cache answers
// from memory instead: the old token while it lives, else the last failure
// with the time left. When the pause is over, the next caller's fetch is
// the probe; if it fails too, the breaker opens again at once.
type breakerState struct {
	failures  int // consecutive failed fetches
	openUntil time.Time
	lastErr   error
	// retryUntil is when the upstream's last Retry-After ends, capped at
	// maxPause but not at BreakerMaxPause: demand fetches probe after
	// openUntil, a forced refresh waits for this (see Refresh).
	retryUntil time.Time
}

// record notes a fetch outcome and returns how long the upstream is now
// paused because of it (0 if this outcome paused nothing). liveUntil is the
// expiry of the token still cached, zero if none: a pause opened by the
// failure count ends before that token dies (with half its remaining life,
// at most a cooldown, to spare), so that a probe can still save it; a
// pause asked for by the upstream's Retry-After is honoured as is.
func (b *breakerState) record(cfg breakerConfig, err error, now, liveUntil time.Time) time.Duration {
	if err == nil {
		*b = breakerState{}
		return 0
	}
	b.failures++
	b.lastErr = err
	until := time.Time{}
	if cfg.threshold > 0 && b.failures >= cfg.threshold {
		until = now.Add(cfg.cooldown)
		if liveUntil.After(now) {
			spare := min(cfg.cooldown, liveUntil.Sub(now)/2)
			if probe := liveUntil.Add(-spare); probe.Before(until) {
				until = probe
			}
		}
	}
	if ra := RetryAfterOf(err); ra > 0 {
		if t := now.Add(min(ra, cfg.maxPause)); t.After(until) {
			until = t
		}
		if t := now.Add(min(ra, maxPause)); t.After(b.retryUntil) {
			b.retryUntil = t
		}
	}
	if !until.After(now) {
		return 0
	}
	if until.After(b.openUntil) {
		b.openUntil = until
	}
	return b.openUntil.Sub(now)
}

// openFor returns how long the breaker stays open from now, 0 if closed.
func (b *breakerState) openFor(now time.Time) time.Duration {
	if b.openUntil.After(now) {
		return b.openUntil.Sub(now)
	}
	return 0
}

// upstreamPause returns how long a forced refresh must still leave the
// upstream alone from now: the breaker's pause or the upstream's own
// Retry-After, whichever ends later; 0 if neither holds.
func (b *breakerState) upstreamPause(now time.Time) time.Duration {
	until := b.openUntil
	if b.retryUntil.After(until) {
		until = b.retryUntil
	}
	if until.After(now) {
		return until.Sub(now)
	}
	return 0
}

// whileOpen answers a Get while e's breaker is open for left: the old
// token if it is still alive, else the last failure with RetryAfter = left.
// c.mu must be held.
func (c *Cache) whileOpen(e *entry, now time.Time, left time.Duration) (Result, error) {
	if e.hasTok && alive(e.tok, now) {
		return Result{Token: e.tok, Source: SourceStale}, nil
	}
	return Result{}, c.openError(e, left)
}

// openError is the error of a call refused while e's upstream is paused
// for left: the last failure, with RetryAfter = left, wrapping
// ErrBreakerOpen. c.mu must be held.
func (c *Cache) openError(e *entry, left time.Duration) error {
	ue := &UpstreamError{Kind: KindOf(e.brk.lastErr), RetryAfter: roundUpSecond(left), Err: ErrBreakerOpen}
	if ue.Kind == 0 {
		ue.Kind = KindUnavailable
	}
	var last *UpstreamError
	if errors.As(e.brk.lastErr, &last) {
		ue.StatusCode, ue.Code, ue.Description = last.StatusCode, last.Code, last.Description
	}
	return ue
}

// PausedFor reports how long the upstream stays uncalled for key (0 when
// its breaker is closed).
func (c *Cache) PausedFor(key string) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entries[key]; e != nil {
		return e.brk.openFor(c.now())
	}
	return 0
}

// roundUpSecond rounds d up to whole seconds, as Retry-After counts them.
func roundUpSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}
