// Package limittest holds the behaviour tests every authlimit.Limiter must
// pass, so that the memory and the Redis limiters are held to the same
// rules, and a test clock.
package limittest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
)

// New makes a fresh, empty limiter with policy p on clock now.
type New func(t *testing.T, p authlimit.Policy, now func() time.Time) authlimit.Limiter

// Run runs every behaviour test against limiters made by newLimiter.
func Run(t *testing.T, newLimiter New) {
	for name, test := range map[string]func(*testing.T, New){
		"BurstThenRate":              testBurstThenRate,
		"LockoutAfterStreak":         testLockoutAfterStreak,
		"OthersCannotLockOutSinch":   testOthersCannotLockOutSinch,
		"SuccessEndsStreakNotBucket": testSuccessEndsStreakNotBucket,
		"AddressesIndependent":       testAddressesIndependent,
		"UnknownIDSprayCounted":      testUnknownIDSprayCounted,
		"Forgotten":                  testForgotten,
	} {
		t.Run(name, func(t *testing.T) { test(t, newLimiter) })
	}
}

const sinch = "sinch"

func setup(t *testing.T, newLimiter New) (authlimit.Limiter, *testclock.Clock, context.Context) {
	c := testclock.New(time.Unix(1_800_000_000, 0))
	return newLimiter(t, authlimit.Policy{}, c.Now), c, t.Context()
}

// failUntilRefused records failures of client from addr as long as they
// are allowed, at most max, and returns how many were.
func failUntilRefused(ctx context.Context, l authlimit.Limiter, client, addr string, max int) int {
	for n := range max {
		if _, ok := l.Allow(ctx, client, addr); !ok {
			return n
		}
		l.Failed(ctx, client, addr)
	}
	return max
}

func wantRefused(t *testing.T, l authlimit.Limiter, ctx context.Context, client, addr string, lo, hi time.Duration) {
	t.Helper()
	retry, ok := l.Allow(ctx, client, addr)
	if ok {
		t.Fatalf("%s from %s allowed, want refused", client, addr)
	}
	if retry < lo || retry > hi {
		t.Fatalf("%s from %s: retry after %v, want %v..%v", client, addr, retry, lo, hi)
	}
}

func wantAllowed(t *testing.T, l authlimit.Limiter, ctx context.Context, client, addr string) {
	t.Helper()
	if retry, ok := l.Allow(ctx, client, addr); !ok {
		t.Fatalf("%s from %s refused (retry after %v), want allowed", client, addr, retry)
	}
}

func testBurstThenRate(t *testing.T, newLimiter New) {
	l, c, ctx := setup(t, newLimiter)
	if n := failUntilRefused(ctx, l, sinch, "192.0.2.1", 50); n != authlimit.DefaultBurst {
		t.Fatalf("%d failures allowed at once, want the burst %d", n, authlimit.DefaultBurst)
	}
	wantRefused(t, l, ctx, sinch, "192.0.2.1", 999*time.Millisecond, time.Second)
	c.Advance(time.Second)
	if n := failUntilRefused(ctx, l, sinch, "192.0.2.1", 50); n != 1 {
		t.Fatalf("%d failures allowed one interval later, want 1", n)
	}
	c.Advance(5 * time.Second)
	if n := failUntilRefused(ctx, l, sinch, "192.0.2.1", 50); n != 5 {
		t.Fatalf("%d failures allowed five intervals later, want 5", n)
	}
}

func testLockoutAfterStreak(t *testing.T, newLimiter New) {
	l, c, ctx := setup(t, newLimiter)
	const addr = "192.0.2.2"
	total := 0
	for total < authlimit.DefaultLockoutAfter {
		total += failUntilRefused(ctx, l, sinch, addr, authlimit.DefaultLockoutAfter-total)
		if total < authlimit.DefaultLockoutAfter {
			c.Advance(time.Second)
		}
	}
	wantRefused(t, l, ctx, sinch, addr, authlimit.DefaultLockout-time.Millisecond, authlimit.DefaultLockout)
	c.Advance(authlimit.DefaultLockout - time.Second)
	wantRefused(t, l, ctx, sinch, addr, time.Millisecond, time.Second)
	c.Advance(time.Second)
	wantAllowed(t, l, ctx, sinch, addr)
	// Still in the streak: one more failure pauses again.
	l.Failed(ctx, sinch, addr)
	wantRefused(t, l, ctx, sinch, addr, authlimit.DefaultLockout-time.Millisecond, authlimit.DefaultLockout)
}

func testOthersCannotLockOutSinch(t *testing.T, newLimiter New) {
	l, c, ctx := setup(t, newLimiter)
	// 40 attacker addresses, three guesses each, within one second: far
	// past the client's own burst, each within its address's burst.
	for i := range 40 {
		for range 3 {
			l.Failed(ctx, sinch, fmt.Sprintf("198.51.100.%d", i))
		}
	}
	c.Advance(10 * time.Millisecond)
	// An attacker address with room in its own bucket is refused: the
	// client is over its limit and this address is failing.
	// (120 failures in a row for the client: also its long pause.)
	wantRefused(t, l, ctx, sinch, "198.51.100.7", time.Second, authlimit.DefaultLockout)
	// Sinch, which has not been failing, is not.
	wantAllowed(t, l, ctx, sinch, "203.0.113.9")
	// Nor is a fresh address for another client.
	wantAllowed(t, l, ctx, "other", "198.51.100.250")
	// A failing address asking for another client is limited by that
	// client, which is fine.
	wantAllowed(t, l, ctx, "other", "198.51.100.7")
}

func testSuccessEndsStreakNotBucket(t *testing.T, newLimiter New) {
	l, c, ctx := setup(t, newLimiter)
	const addr = "192.0.2.3"
	failUntilRefused(ctx, l, sinch, addr, 50)
	c.Advance(time.Second)
	wantAllowed(t, l, ctx, sinch, addr)
	l.Succeeded(ctx, sinch, addr)
	// The bucket is not refilled by the success: one more failure and the
	// address waits again.
	l.Failed(ctx, sinch, addr)
	wantRefused(t, l, ctx, sinch, addr, time.Millisecond, time.Second)

	// The streak is over: after a success the address is not "failing",
	// so a client over its limit no longer refuses it.
	l2, c2, ctx2 := setup(t, newLimiter)
	l2.Failed(ctx2, sinch, addr)
	for i := range 30 {
		l2.Failed(ctx2, sinch, fmt.Sprintf("198.51.100.%d", i))
	}
	c2.Advance(time.Second)
	wantRefused(t, l2, ctx2, sinch, addr, time.Millisecond, time.Minute)
	l2.Succeeded(ctx2, sinch, addr)
	wantAllowed(t, l2, ctx2, sinch, addr)
}

func testAddressesIndependent(t *testing.T, newLimiter New) {
	l, _, ctx := setup(t, newLimiter)
	failUntilRefused(ctx, l, "a", "192.0.2.4", 50)
	wantRefused(t, l, ctx, "b", "192.0.2.4", time.Millisecond, time.Second)
	wantAllowed(t, l, ctx, "a", "192.0.2.5")
}

func testUnknownIDSprayCounted(t *testing.T, newLimiter New) {
	l, _, ctx := setup(t, newLimiter)
	allowed := 0
	for i := range 1000 {
		id := fmt.Sprintf("random-%d", i)
		if _, ok := l.Allow(ctx, id, "192.0.2.6"); ok {
			allowed++
			l.Failed(ctx, id, "192.0.2.6")
		}
	}
	if allowed != authlimit.DefaultBurst {
		t.Fatalf("%d guesses with random client ids from one address got through, want the burst %d", allowed, authlimit.DefaultBurst)
	}
}

func testForgotten(t *testing.T, newLimiter New) {
	l, c, ctx := setup(t, newLimiter)
	const addr = "192.0.2.7"
	failUntilRefused(ctx, l, sinch, addr, 50)
	c.Advance(authlimit.DefaultForget)
	if n := failUntilRefused(ctx, l, sinch, addr, 50); n != authlimit.DefaultBurst {
		t.Fatalf("after forget: %d failures allowed, want a full burst", n)
	}
}
