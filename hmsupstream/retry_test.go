package hmsupstream

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// fastRetry keeps the tests quick: tiny backoffs, a short deadline.
var fastRetry = RetryPolicy{MaxAttempts: 3, Deadline: 3 * time.Second, BaseBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}

// firstFailing answers the first n requests with fail, then passes to the
// emulator.
func firstFailing(t *testing.T, n int32, fail http.HandlerFunc) (*huaweitest.Emulator, *Client, *atomic.Int32) {
	t.Helper()
	emu := huaweitest.NewEmulator()
	emu.AddApp(appID, secret)
	var calls atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			fail(w, r)
			return
		}
		emu.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	return emu, &Client{TokenURL: ts.URL, Timeout: time.Second, Retry: fastRetry}, &calls
}

func TestRetryThenSuccess(t *testing.T) {
	emu, c, calls := firstFailing(t, 2, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	})
	var retries []int
	c.OnRetry = func(id string, attempt int, err error, _ time.Duration) {
		if id != appID || tokencache.KindOf(err) != tokencache.KindUnavailable {
			t.Errorf("OnRetry(%q, %d, %v)", id, attempt, err)
		}
		retries = append(retries, attempt)
	}
	tok, err := c.FetchTokenRetrying(context.Background(), cred)
	if err != nil {
		t.Fatal(err)
	}
	if issued := emu.IssuedTokens(appID); len(issued) != 1 || issued[0] != tok.AccessToken {
		t.Fatalf("token is not the one issued")
	}
	if calls.Load() != 3 || len(retries) != 2 {
		t.Fatalf("calls = %d, retries = %v; want 3 calls, 2 retries", calls.Load(), retries)
	}
}

func TestRetryFaults(t *testing.T) {
	for _, tc := range []struct {
		name      string
		fault     huaweitest.Fault
		wantCalls int
		wantKind  tokencache.ErrorKind
	}{
		{"500", huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500, Body: "x"}, 3, tokencache.KindUnavailable},
		{"malformed JSON", huaweitest.Fault{Kind: huaweitest.FaultMalformed}, 3, tokencache.KindUnavailable},
		{"connection reset", huaweitest.Fault{Kind: huaweitest.FaultReset}, 3, tokencache.KindUnavailable},
		{"Retry-After beyond the deadline", huaweitest.Fault{Kind: huaweitest.FaultThrottle, RetryAfter: 30 * time.Second}, 1, tokencache.KindUnavailable},
		{"503 without Retry-After (throttling)", huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 503, Body: "busy"}, 1, tokencache.KindUnavailable},
		{"429 without Retry-After", huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 429, Body: "slow down"}, 1, tokencache.KindUnavailable},
		{"credential rejection", huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 400,
			Body: `{"error":1101,"sub_error":20173,"error_description":"invalid client_secret"}`}, 1, tokencache.KindRejected},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := setup(t)
			c.Retry = fastRetry
			s.SetFault(tc.fault)
			_, err := c.FetchTokenRetrying(context.Background(), cred)
			ue := upstreamErr(t, err, tc.wantKind)
			if s.Calls() != tc.wantCalls {
				t.Fatalf("calls = %d, want %d", s.Calls(), tc.wantCalls)
			}
			if tc.fault.RetryAfter > 0 && ue.RetryAfter != tc.fault.RetryAfter {
				t.Fatalf("RetryAfter = %v, want %v kept for the cache", ue.RetryAfter, tc.fault.RetryAfter)
			}
		})
	}
}

func TestRetryAfterWithinDeadlineHonoured(t *testing.T) {
	_, c, calls := firstFailing(t, 1, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	var waited time.Duration
	c.OnRetry = func(_ string, _ int, _ error, wait time.Duration) { waited = wait }
	start := time.Now()
	if _, err := c.FetchTokenRetrying(context.Background(), cred); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || waited != time.Second {
		t.Fatalf("calls = %d, wait = %v; want 2 calls after Huawei's 1s", calls.Load(), waited)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("retried after %v, before Huawei's Retry-After", d)
	}
}

func TestHangBoundedByDeadline(t *testing.T) {
	s, c := setup(t)
	c.Timeout = 300 * time.Millisecond
	c.Retry = RetryPolicy{Deadline: time.Second, BaseBackoff: time.Millisecond}
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultHang})
	start := time.Now()
	_, err := c.FetchTokenRetrying(context.Background(), cred)
	upstreamErr(t, err, tokencache.KindUnavailable)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v past a 1s deadline", d)
	}
	if n := s.Calls(); n < 2 || n > 3 {
		t.Fatalf("calls = %d, want 2 or 3 attempts within the deadline", n)
	}
}

func TestRetryStopsWhenCallerGivesUp(t *testing.T) {
	s, c := setup(t)
	c.Retry = RetryPolicy{MaxAttempts: 100, Deadline: time.Minute, BaseBackoff: time.Hour, MaxBackoff: time.Hour}
	s.SetFault(huaweitest.Fault{Kind: huaweitest.FaultStatus, Status: 500})
	ctx, cancel := context.WithCancel(context.Background())
	c.OnRetry = func(string, int, error, time.Duration) { cancel() }
	if _, err := c.FetchTokenRetrying(ctx, cred); err == nil {
		t.Fatal("want an error")
	}
	if s.Calls() != 1 {
		t.Fatalf("calls = %d, want 1", s.Calls())
	}
}

func TestBackoffFullJitterBounds(t *testing.T) {
	p := RetryPolicy{BaseBackoff: 100 * time.Millisecond, MaxBackoff: 300 * time.Millisecond}.withDefaults()
	for attempt, ceiling := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 300 * time.Millisecond, 40: 300 * time.Millisecond} {
		var top time.Duration
		for range 2000 {
			d := p.backoff(attempt)
			if d < 0 || d > ceiling {
				t.Fatalf("attempt %d: backoff %v outside [0, %v]", attempt, d, ceiling)
			}
			top = max(top, d)
		}
		if top < ceiling/2 {
			t.Errorf("attempt %d: largest of 2000 backoffs %v; jitter should spread up to %v", attempt, top, ceiling)
		}
	}
}
