package redisstore

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
	"github.com/hmsgate/caddy-sinch-hms/authlimit/limittest"
	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
)

func newLimiter(t testing.TB, srv *redistest.Server, prefix string, now func() time.Time, onError func(error)) *Limiter {
	t.Helper()
	l, err := NewLimiter(LimiterConfig{Client: newClient(t, srv), Prefix: prefix, Now: now, OnError: onError})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func randomPrefix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b) + ":"
}

// TestLimiterBehaviour holds the Redis limiter to the memory limiter's
// rules (fresh keys for each case), with the Redis fallback never used.
func TestLimiterBehaviour(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	limittest.Run(t, func(t *testing.T, _ authlimit.Policy, now func() time.Time) authlimit.Limiter {
		return newLimiter(t, srv, randomPrefix(), now, func(err error) { t.Errorf("redis failed: %v", err) })
	})
}

// TestLimiterSharedBetweenInstances: guesses on one instance count on
// another.
func TestLimiterSharedBetweenInstances(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	prefix := randomPrefix()
	a := newLimiter(t, srv, prefix, clk.Now, nil)
	b := newLimiter(t, srv, prefix, clk.Now, nil)
	ctx := t.Context()
	for i := range authlimit.DefaultBurst {
		inst := []*Limiter{a, b}[i%2]
		if _, ok := inst.Allow(ctx, "sinch", "198.51.100.1"); !ok {
			t.Fatalf("guess %d refused", i)
		}
		inst.Failed(ctx, "sinch", "198.51.100.1")
	}
	for name, inst := range map[string]*Limiter{"a": a, "b": b} {
		if retry, ok := inst.Allow(ctx, "sinch", "198.51.100.1"); ok || retry != time.Second {
			t.Errorf("instance %s: (%v, %v), want refused for 1s after 10 guesses over both", name, retry, ok)
		}
		if _, ok := inst.Allow(ctx, "sinch", "203.0.113.5"); !ok {
			t.Errorf("instance %s: a fresh address refused", name)
		}
	}
	// The keys hold neither the address nor the id, share one hash tag,
	// and expire.
	c := newClient(t, srv)
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(k, "198.51") || strings.Contains(k, "sinch:") || !strings.Contains(k, "{authlimit}") {
			t.Errorf("key %q", k)
		}
		if ttl := c.PTTL(ctx, k).Val(); ttl <= 0 || ttl > authlimit.DefaultForget {
			t.Errorf("key %q: TTL %v, want up to %v", k, ttl, authlimit.DefaultForget)
		}
	}
}

// TestLimiterRedisDownFallsBackToMemory: with Redis gone the limit still
// holds (this instance's failures, from memory), a fresh address is not
// refused, and nothing waits long.
func TestLimiterRedisDownFallsBackToMemory(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	clk := testclock.New(time.Unix(1_800_000_000, 0))
	var errs atomic.Int64
	l := newLimiter(t, srv, randomPrefix(), clk.Now, func(error) { errs.Add(1) })
	ctx := t.Context()
	for range 4 {
		l.Failed(ctx, "sinch", "198.51.100.2")
	}
	srv.Stop()
	start := time.Now()
	allowed := 0
	for range 20 {
		if _, ok := l.Allow(ctx, "sinch", "198.51.100.2"); ok {
			allowed++
			l.Failed(ctx, "sinch", "198.51.100.2")
		}
	}
	if allowed != authlimit.DefaultBurst-4 {
		t.Errorf("Redis down: %d more guesses allowed, want %d (the fallback knew the 4 before)", allowed, authlimit.DefaultBurst-4)
	}
	if _, ok := l.Allow(ctx, "sinch", "203.0.113.5"); !ok {
		t.Error("Redis down: a fresh address refused")
	}
	if n := errs.Load(); n != 1 {
		t.Errorf("OnError told %d times, want once: Redis is left alone for a moment after a failure", n)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("41 limiter calls with Redis down took %v", d)
	}
	t.Logf("Redis down: %d Redis call failed, 41 limiter calls in %v", errs.Load(), time.Since(start).Round(time.Millisecond))
}
