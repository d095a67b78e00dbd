package hms

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
)

// The tests in this file force refreshes through the real Caddy admin API
// and count the calls that reach the Huawei emulator: forced refreshes of
// one application share one call, are paced (429 + Retry-After inside
// endpoint.ForcedRefreshPause) and never call Huawei while its pause is open.

// refreshAnswerOf is a decoded POST /sinch_hms/refresh answer.
type refreshAnswerOf struct {
	Status            int    `json:"-"`
	RetryAfter        string `json:"-"`
	Refreshed         bool   `json:"refreshed"`
	Message           string `json:"message"`
	RetryAfterSeconds int    `json:"retry_after_seconds"`
	raw               string `json:"-"`
}

// forceRefresh posts a forced refresh of testHMSAppID to the admin API.
func forceRefresh(t *testing.T) refreshAnswerOf {
	t.Helper()
	resp, err := harness.Admin.Post(harness.AdminURL+"/sinch_hms/refresh?hms_app="+harness.HMSAppID, "", nil)
	if err != nil {
		t.Error(err)
		return refreshAnswerOf{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := refreshAnswerOf{Status: resp.StatusCode, RetryAfter: resp.Header.Get("Retry-After"), raw: string(raw)}
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Errorf("refresh answer %d is not JSON: %v: %s", resp.StatusCode, err, raw)
	}
	a.Status, a.RetryAfter, a.raw = resp.StatusCode, resp.Header.Get("Retry-After"), string(raw)
	return a
}

// wantPaced asserts a refused forced refresh: status, a Retry-After of
// whole seconds in [lo, hi], the same number in the JSON body.
func (a refreshAnswerOf) wantPaced(t *testing.T, status, lo, hi int) {
	t.Helper()
	if a.Status != status {
		t.Errorf("forced refresh: HTTP %d, want %d: %s", a.Status, status, a.raw)
		return
	}
	secs, err := strconv.Atoi(a.RetryAfter)
	if err != nil || secs < lo || secs > hi {
		t.Errorf("forced refresh %d: Retry-After %q, want whole seconds in [%d, %d]", status, a.RetryAfter, lo, hi)
	}
	if a.Refreshed || a.RetryAfterSeconds != secs || a.Message == "" {
		t.Errorf("forced refresh %d: body %s, want refreshed false, retry_after_seconds %d and a message", status, a.raw, secs)
	}
}

func TestForcedRefreshCoalescedAndPaced(t *testing.T) {
	clk := harness.UseTestClock(t)
	emu := harness.NewHuawei(t)
	emu.SetDelay(50 * time.Millisecond) // so that the concurrent posts overlap the call
	harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))

	const n = 100
	answers := make([]refreshAnswerOf, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i] = forceRefresh(t) }()
	}
	wg.Wait()
	ok := 0
	for _, a := range answers {
		switch a.Status {
		case http.StatusOK:
			ok++
			if !a.Refreshed {
				t.Errorf("200 answer without refreshed true: %s", a.raw)
			}
		case http.StatusTooManyRequests:
			a.wantPaced(t, http.StatusTooManyRequests, 1, int(endpoint.ForcedRefreshPause/time.Second))
		default:
			t.Errorf("concurrent forced refresh: HTTP %d: %s", a.Status, a.raw)
		}
	}
	if ok == 0 {
		t.Errorf("no concurrent forced refresh succeeded")
	}
	for range n {
		forceRefresh(t).wantPaced(t, http.StatusTooManyRequests, 1, int(endpoint.ForcedRefreshPause/time.Second))
	}
	if got := emu.CallsFor(harness.HMSAppID); got != 1 {
		t.Fatalf("Huawei calls after %d concurrent and %d serial forced refreshes = %d, want 1", n, n, got)
	}

	// The pause counts down on the shared clock, and survives a reload.
	clk.Advance(endpoint.ForcedRefreshPause - 10*time.Second)
	harness.StartCaddy(t, harness.HMSSite(emu.URL, "clock_skew 30s"))
	forceRefresh(t).wantPaced(t, http.StatusTooManyRequests, 10, 10)
	clk.Advance(10 * time.Second)
	if a := forceRefresh(t); a.Status != http.StatusOK || !a.Refreshed {
		t.Errorf("forced refresh after the pause: HTTP %d: %s", a.Status, a.raw)
	}
	forceRefresh(t).wantPaced(t, http.StatusTooManyRequests, 1, int(endpoint.ForcedRefreshPause/time.Second))
	if got := emu.CallsFor(harness.HMSAppID); got != 2 {
		t.Errorf("Huawei calls = %d, want 2 (one per pause)", got)
	}
}

// TestForcedRefreshHonoursHuaweiPause: no forced refresh calls Huawei while
// the cache leaves it alone after failures, nor before Huawei's own
// Retry-After is over, even when that is longer than endpoint.ForcedRefreshPause.
func TestForcedRefreshHonoursHuaweiPause(t *testing.T) {
	clk := harness.UseTestClock(t)
	emu := harness.NewHuawei(t)
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))

	// Huawei answers 503: three failed requests open the cache's pause.
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 503, Body: `{"error":1203,"error_description":"busy"}`})
	for range endpoint.BreakerThreshold {
		harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk))).Encode()).
			WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	}
	calls := emu.CallsFor(harness.HMSAppID)
	for range 20 {
		forceRefresh(t).wantPaced(t, http.StatusServiceUnavailable, 1, int(endpoint.BreakerPause/time.Second))
	}
	if got := emu.CallsFor(harness.HMSAppID); got != calls {
		t.Fatalf("forced refreshes during the pause reached Huawei: %d calls, want %d", got, calls)
	}

	// Once the pause is over, one forced refresh goes through; Huawei now
	// asks for 60s: the forced refreshes that follow wait all of it.
	clk.Advance(endpoint.BreakerPause)
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultThrottle, RetryAfter: time.Minute})
	if a := forceRefresh(t); a.Status != http.StatusBadGateway || a.Refreshed {
		t.Errorf("forced refresh after the pause, Huawei throttling: HTTP %d: %s", a.Status, a.raw)
	}
	calls++
	if got := emu.CallsFor(harness.HMSAppID); got != calls {
		t.Fatalf("Huawei calls = %d, want %d", got, calls)
	}
	forceRefresh(t).wantPaced(t, http.StatusTooManyRequests, 60, 60)
	clk.Advance(endpoint.ForcedRefreshPause + time.Second)
	for range 20 {
		forceRefresh(t).wantPaced(t, http.StatusServiceUnavailable, 29, 29)
	}
	if got := emu.CallsFor(harness.HMSAppID); got != calls {
		t.Fatalf("forced refreshes before Huawei's Retry-After ended reached Huawei: %d calls, want %d", got, calls)
	}
	clk.Advance(29 * time.Second)
	emu.SetFault(huaweitest.Fault{})
	if a := forceRefresh(t); a.Status != http.StatusOK || !a.Refreshed {
		t.Errorf("forced refresh after Huawei's Retry-After: HTTP %d: %s", a.Status, a.raw)
	}
	if got := emu.CallsFor(harness.HMSAppID); got != calls+1 {
		t.Errorf("Huawei calls = %d, want %d", got, calls+1)
	}
}
