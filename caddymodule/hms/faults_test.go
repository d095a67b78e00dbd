package hms

import (
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// A second HMS application, so that one Caddy serves a warm (cached) and a
// cold (never fetched) application under the same fault.
const (
	coldHMSAppID     = "223456789"
	coldHMSAppSecret = "cold+secret/=="
)

// coldAppSite serves the token endpoint for the test app (warm) and the cold
// app against huaweiURL.
func coldAppSite(huaweiURL string) string {
	return fmt.Sprintf(`
%s {
	route %s {
		sinch_hms {
			sinch_application %s %s
			hms_application %s %s
			hms_application %s %s
			huawei_token_url %s
		}
	}
}
`, harness.Base, harness.TokenPath, harness.AppKey, harness.SinchSecret, harness.HMSAppID, harness.HMSAppSecret,
		coldHMSAppID, coldHMSAppSecret, huaweiURL)
}

// forApp is a mint option: the assertion asks for hmsAppID's token.
func forApp(hmsAppID string) harness.MintOpt {
	return func(p *sinchauth.MintParams) { p.HMSApplicationID = hmsAppID }
}

// eventually polls cond for up to 15s; Huawei calls made by a fetch that
// outlives the answer (a hang) are counted once the fetch ends.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling for an event, not waiting for expiry
	}
}

// TestHuaweiFaults injects each Huawei fault and records what Sinch sees:
// for an HMS application with no cached token (cold), the status and the
// number of Huawei calls; for one whose cached token is due for refresh
// but still valid (warm), that this token keeps being served.
func TestHuaweiFaults(t *testing.T) {
	rejectBody := `{"error":1101,"sub_error":20173,"error_description":"invalid client_secret"}`
	for _, tc := range []struct {
		name       string
		inject     func(*huaweitest.Server)
		coldStatus int
		coldError  string
		retryAfter string // on the cold 503
		calls      int    // Huawei calls per fetch (cold and warm)
	}{
		{"500", func(s *huaweitest.Server) {
			s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500, Body: "oops"})
		}, 503, "temporarily_unavailable", "10", 3},
		{"503 with Retry-After", func(s *huaweitest.Server) {
			s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultThrottle, RetryAfter: 30 * time.Second})
		}, 503, "temporarily_unavailable", "30", 1},
		{"hang past the timeout", func(s *huaweitest.Server) {
			s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultHang})
		}, 503, "temporarily_unavailable", "10", 2},
		{"malformed JSON", func(s *huaweitest.Server) {
			s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultMalformed})
		}, 503, "temporarily_unavailable", "10", 3},
		{"connection reset", func(s *huaweitest.Server) {
			s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultReset})
		}, 503, "temporarily_unavailable", "10", 3},
		{"credential rejection", func(s *huaweitest.Server) {
			s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 400, Body: rejectBody})
		}, 502, "server_error", "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := harness.UseTestClock(t)
			emu := harness.NewHuawei(t)
			emu.AddApp(coldHMSAppID, coldHMSAppSecret)
			tester := harness.StartCaddy(t, coldAppSite(emu.URL))
			post := func(app string) harness.Answer {
				return harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk), forApp(app))).Encode())
			}
			tok := post(harness.HMSAppID).WantToken(t)
			clk.Advance(56 * time.Minute) // 4m left, within refresh_before 5m
			tc.inject(emu)

			start := time.Now()
			warm := post(harness.HMSAppID)
			if got := warm.WantToken(t); got != tok {
				t.Errorf("warm: a different token; want the cached one while it is valid")
			}
			if ei := warm.ExpiresIn(t); ei != 240 {
				t.Errorf("warm: expires_in = %d, want the cached token's 240 left", ei)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("warm: answered after %v; a valid token should not wait for a failing Huawei", d)
			}

			coldStart := time.Now()
			cold := post(coldHMSAppID)
			coldTook := time.Since(coldStart)
			cold.WantError(t, tc.coldStatus, tc.coldError)
			if tc.retryAfter != "" && cold.Header.Get("Retry-After") != tc.retryAfter {
				t.Errorf("cold: Retry-After = %q, want %q", cold.Header.Get("Retry-After"), tc.retryAfter)
			}
			eventually(t, "the warm refresh to end", func() bool { return emu.CallsFor(harness.HMSAppID) >= 1+tc.calls })
			if n := emu.CallsFor(coldHMSAppID); n != tc.calls {
				t.Errorf("cold: %d Huawei calls, want %d", n, tc.calls)
			}
			if n := emu.CallsFor(harness.HMSAppID); n != 1+tc.calls {
				t.Errorf("warm: %d Huawei calls, want 1 + %d", n, tc.calls)
			}
			if coldTook > endpoint.UpstreamFetchTimeout+time.Second {
				t.Errorf("cold: answered after %v, beyond the fetch bound %v", coldTook, endpoint.UpstreamFetchTimeout)
			}
			t.Logf("cold: HTTP %d %s, Retry-After %q, Huawei calls %d, answered in %v; warm: cached token served, Huawei calls 1+%d",
				cold.Status, tc.coldError, cold.Header.Get("Retry-After"), emu.CallsFor(coldHMSAppID),
				coldTook.Round(10*time.Millisecond), emu.CallsFor(harness.HMSAppID)-1)
		})
	}
}

// TestTinyExpiresIn: a token Huawei issues with a tiny lifetime is handed
// out with its true expires_in and, having less than refresh_before left,
// refreshed on each request, one Huawei call per request.
func TestTinyExpiresIn(t *testing.T) {
	clk := harness.UseTestClock(t)
	emu := harness.NewHuawei(t)
	emu.SetExpiresIn(2) // far less than refresh_before (5m): stale as soon as fetched
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	post := func() harness.Answer {
		return harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk))).Encode())
	}
	first := post()
	tok := first.WantToken(t)
	if ei := first.ExpiresIn(t); ei != 2 {
		t.Errorf("expires_in = %d, want Huawei's 2", ei)
	}
	// The contract: a token is served while it has more than refresh_before
	// left, then refreshed. So each request refreshes it: one Huawei call
	// per request, never more, and every answer is a token Huawei issued.
	for i := range 3 {
		a := post()
		if got := a.WantToken(t); got == tok {
			t.Fatalf("request %d got the old 2s token; want a refreshed one", i)
		}
		if ei := a.ExpiresIn(t); ei != 2 {
			t.Errorf("expires_in = %d, want 2", ei)
		}
	}
	if n := emu.Calls(); n != 4 {
		t.Errorf("Huawei calls = %d, want 4 (one per request)", n)
	}
}

// TestBreakerPausesHuawei: after two failed fetches in a row, Huawei is not
// called for 30s; requests get 503 with the time left from memory, and the
// first request after the pause probes Huawei again.
func TestBreakerPausesHuawei(t *testing.T) {
	clk := harness.UseTestClock(t)
	emu := harness.NewHuawei(t)
	emu.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500, Body: "oops"})
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	post := func() harness.Answer {
		return harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk))).Encode())
	}
	for range endpoint.BreakerThreshold {
		post().WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	}
	if n := emu.Calls(); n != 3*endpoint.BreakerThreshold {
		t.Fatalf("Huawei calls = %d, want %d fetches x 3 attempts", n, endpoint.BreakerThreshold)
	}
	for range 20 {
		a := post()
		a.WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
		if ra, _ := strconv.Atoi(a.Header.Get("Retry-After")); ra < 1 || ra > 10 {
			t.Fatalf("Retry-After = %q, want the pause left (at most 10s)", a.Header.Get("Retry-After"))
		}
	}
	clk.Advance(endpoint.BreakerPause / 2)
	post().WantError(t, http.StatusServiceUnavailable, "temporarily_unavailable")
	if n := emu.Calls(); n != 3*endpoint.BreakerThreshold {
		t.Fatalf("Huawei calls = %d while paused, want still %d", n, 3*endpoint.BreakerThreshold)
	}
	clk.Advance(endpoint.BreakerPause / 2)
	emu.SetFault(huaweitest.Fault{})
	post().WantToken(t)
	if n := emu.Calls(); n != 3*endpoint.BreakerThreshold+1 {
		t.Errorf("Huawei calls = %d, want %d (one probe after the pause)", n, 3*endpoint.BreakerThreshold+1)
	}
}

// TestRejectionPausesHuawei: a credential rejection is not retried; after
// two, Huawei is left alone and requests keep getting 502 from memory.
func TestRejectionPausesHuawei(t *testing.T) {
	clk := harness.UseTestClock(t)
	emu := huaweitest.NewServer()
	t.Cleanup(emu.Close)
	emu.AddApp(harness.HMSAppID, "the-real-secret")
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, ""))
	for range 5 {
		a := harness.PostForm(t, tester.Client, harness.TokenURL, harness.AssertionForm(harness.Mint(t, harness.IssuedAt(clk))).Encode())
		a.WantError(t, http.StatusBadGateway, "server_error")
	}
	if n := emu.Calls(); n != endpoint.BreakerThreshold {
		t.Errorf("Huawei calls = %d for 5 requests, want %d (no retries, then paused)", n, endpoint.BreakerThreshold)
	}
}
