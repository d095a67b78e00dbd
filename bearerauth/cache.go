package bearerauth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// resultCache remembers verification results (a principal, or a
// rejection) by the SHA-256 of their token, so the tokens themselves are
// never kept. It is bounded: when full, an arbitrary entry makes room
// (expired ones first, when one is met).
type resultCache[V any] struct {
	mu      sync.Mutex
	max     int
	entries map[[sha256.Size]byte]cacheEntry[V]
}

type cacheEntry[V any] struct {
	p     V
	until time.Time
}

func newResultCache[V any](max int) *resultCache[V] {
	return &resultCache[V]{max: max, entries: make(map[[sha256.Size]byte]cacheEntry[V])}
}

func tokenKey(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }

// get returns the principal cached for key if it is still fresh at now.
func (c *resultCache[V]) get(key [sha256.Size]byte, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if ok && !now.Before(e.until) {
		delete(c.entries, key)
		ok = false
	}
	if !ok {
		var zero V
		return zero, false
	}
	return e.p, true
}

// put caches p until until, evicting one entry first if the cache is full.
func (c *resultCache[V]) put(key [sha256.Size]byte, p V, until, now time.Time) {
	if c.max <= 0 || !now.Before(until) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, exists := c.entries[key]; !exists && len(c.entries) >= c.max {
		c.evictOne(now)
	}
	c.entries[key] = cacheEntry[V]{p: p, until: until}
}

// evictOne removes an expired entry if it meets one within a few steps of
// Go's randomised map iteration, and otherwise the last entry it looked at.
func (c *resultCache[V]) evictOne(now time.Time) {
	const probes = 8
	var victim [sha256.Size]byte
	i := 0
	for k, e := range c.entries {
		victim = k
		if !now.Before(e.until) {
			break
		}
		if i++; i >= probes {
			break
		}
	}
	delete(c.entries, victim)
}

func (c *resultCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
