package authlimit_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
	"github.com/hmsgate/caddy-sinch-hms/authlimit/limittest"
	"github.com/hmsgate/caddy-sinch-hms/internal/testclock"
)

func newMemory(t testing.TB, p authlimit.Policy, now func() time.Time, maxKeys int) *authlimit.Memory {
	t.Helper()
	m, err := authlimit.NewMemory(authlimit.MemoryConfig{Policy: p, Now: now, MaxKeys: maxKeys})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMemory(t *testing.T) {
	limittest.Run(t, func(t *testing.T, p authlimit.Policy, now func() time.Time) authlimit.Limiter {
		return newMemory(t, p, now, 0)
	})
}

// TestMemoryBounded: a spray of random addresses and client ids cannot
// grow the limiter past MaxKeys.
func TestMemoryBounded(t *testing.T) {
	c := testclock.New(time.Unix(1_800_000_000, 0))
	m := newMemory(t, authlimit.Policy{}, c.Now, 1000)
	for i := range 100_000 {
		m.Failed(t.Context(), fmt.Sprintf("id-%d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	if n := m.Len(); n > 1000 {
		t.Fatalf("%d keys held, want at most 1000", n)
	}
	// The newest failures are the ones kept: the last address (i = 99999)
	// needs only 9 more failures to use up its burst.
	for range authlimit.DefaultBurst - 1 {
		m.Failed(t.Context(), "x", "10.1.134.159")
	}
	if _, ok := m.Allow(t.Context(), "x", "10.1.134.159"); ok {
		t.Error("the most recent address was evicted")
	}
	// Forgotten keys are dropped first, without waiting for the cap.
	c.Advance(authlimit.DefaultForget)
	m.Failed(t.Context(), "x", "192.0.2.1")
	if n := m.Len(); n != 2 {
		t.Errorf("%d keys after the others were forgotten, want 2", n)
	}
}

// TestGuessRate measures the guesses one attacker address gets compared
// when it asks 100 times a second for an hour of test-clock time.
func TestGuessRate(t *testing.T) {
	c := testclock.New(time.Unix(1_800_000_000, 0))
	m := newMemory(t, authlimit.Policy{}, c.Now, 0)
	const perSecond, seconds = 100, 3600
	compared := 0
	for range perSecond * seconds {
		if _, ok := m.Allow(t.Context(), "sinch", "192.0.2.66"); ok {
			compared++
			m.Failed(t.Context(), "sinch", "192.0.2.66")
		}
		c.Advance(time.Second / perSecond)
	}
	rate := float64(compared) / seconds
	t.Logf("one address asking %d/s for %ds: %d guesses compared (%.3f/s; unlimited: %d, %d/s)",
		perSecond, seconds, compared, rate, perSecond*seconds, perSecond)
	// 100 in the first ~90s, then one per 5-minute pause.
	if compared > authlimit.DefaultLockoutAfter+seconds/300+1 {
		t.Errorf("%d guesses compared in an hour", compared)
	}
}

func TestAddrKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:443":                    "192.0.2.1",
		"192.0.2.1":                        "192.0.2.1",
		"[::ffff:192.0.2.1]:80":            "192.0.2.1",
		"[2001:db8:1:2:3:4:5:6]:443":       "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":             "2001:db8:1:2::/64",
		"[fe80::1%eth0]:1":                 "fe80::/64",
		"not an address":                   "not an address",
		string(make([]byte, 100)) + "tail": string(make([]byte, 64)),
	} {
		if got := authlimit.AddrKey(in); got != want {
			t.Errorf("AddrKey(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for name, p := range map[string]authlimit.Policy{
		"burst":    {Burst: -1},
		"interval": {Interval: time.Microsecond},
		"streak":   {LockoutAfter: -1},
		"forget":   {Forget: time.Minute},
	} {
		if _, err := authlimit.NewMemory(authlimit.MemoryConfig{Policy: p}); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
