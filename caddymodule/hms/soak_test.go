package hms

import (
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/harness"
	"github.com/hmsgate/caddy-sinch-hms/hmsupstream/huaweitest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// TestSoak runs valid, replayed and forged requests concurrently against a
// real Caddy while Huawei flaps between working and each fault. Opt in with
// SINCH_HMS_SOAK=1 (SINCH_HMS_SOAK_DURATION, default 1m); skipped with
// -short. Properties: once a first token was obtained, no valid request is
// refused (the cached token outlives every fault window, so each could be
// served); every token handed out is one Huawei issued; every replay and
// every forgery is refused with 401; afterwards goroutines and heap are back
// near where they started.
func TestSoak(t *testing.T) {
	if os.Getenv("SINCH_HMS_SOAK") != "1" {
		t.Skip("soak test: set SINCH_HMS_SOAK=1 to run it")
	}
	duration := time.Minute
	if d, err := time.ParseDuration(os.Getenv("SINCH_HMS_SOAK_DURATION")); err == nil && d > 0 {
		duration = d
	}
	emu := harness.NewHuawei(t)
	emu.SetExpiresIn(20) // stale after 12s (refresh_before 8s), refreshed in the background from 9s
	tester := harness.StartCaddy(t, harness.HMSSite(emu.URL, "refresh_before 8s"))
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	firstBody := harness.AssertionForm(harness.Mint(t)).Encode()
	harness.PostForm(t, client, harness.TokenURL, firstBody).WantToken(t)
	client.CloseIdleConnections()
	tester.Client.CloseIdleConnections()

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	baseGoroutines := runtime.NumGoroutine()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { flap(emu, stop) })

	var valid, validLost, replayed, replayAccepted, forged, forgedAccepted, foreignToken atomic.Int64
	issued := func(tok string) bool {
		for _, s := range emu.IssuedTokens(harness.HMSAppID) {
			if s == tok {
				return true
			}
		}
		return false
	}
	var lastOK atomic.Pointer[string]
	lastOK.Store(&firstBody)
	other, _ := sinchauth.DecodeSecret(harness.OtherSecret)
	worker := func(do func()) {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				do()
				time.Sleep(10 * time.Millisecond) // pacing on a shared machine, not a wait for expiry
			}
		})
	}
	for range 6 {
		worker(func() {
			body := harness.AssertionForm(harness.Mint(t)).Encode()
			a := harness.PostForm(t, client, harness.TokenURL, body)
			valid.Add(1)
			if a.Status != http.StatusOK {
				validLost.Add(1)
				t.Errorf("valid request refused: %d %s", a.Status, a.Raw)
				return
			}
			if tok, _ := a.Body["access_token"].(string); !issued(tok) || a.ExpiresIn(t) <= 0 {
				foreignToken.Add(1)
			}
			lastOK.Store(&body)
		})
	}
	for range 2 {
		worker(func() {
			replayed.Add(1)
			if harness.PostForm(t, client, harness.TokenURL, *lastOK.Load()).Status != http.StatusUnauthorized {
				replayAccepted.Add(1)
			}
		})
		worker(func() {
			forged.Add(1)
			body := harness.AssertionForm(harness.Mint(t, func(p *sinchauth.MintParams) { p.Secret = other })).Encode()
			if harness.PostForm(t, client, harness.TokenURL, body).Status != http.StatusUnauthorized {
				forgedAccepted.Add(1)
			}
		})
	}
	time.Sleep(duration) // the soak's length: load runs meanwhile
	close(stop)
	wg.Wait()
	emu.SetFault(huaweitest.Fault{})
	emu.Release()
	client.CloseIdleConnections()

	t.Logf("%v: valid %d (refused %d, foreign token %d), replayed %d (accepted %d), forged %d (accepted %d), Huawei calls %d, tokens issued %d",
		duration, valid.Load(), validLost.Load(), foreignToken.Load(), replayed.Load(), replayAccepted.Load(),
		forged.Load(), forgedAccepted.Load(), emu.Calls(), len(emu.IssuedTokens(harness.HMSAppID)))
	if validLost.Load() != 0 || foreignToken.Load() != 0 || replayAccepted.Load() != 0 || forgedAccepted.Load() != 0 {
		t.Errorf("lost or wrongly accepted requests (see above)")
	}
	if valid.Load() == 0 || replayed.Load() == 0 || forged.Load() == 0 {
		t.Errorf("the soak sent nothing of some kind")
	}

	var after runtime.MemStats
	eventually(t, "goroutines back near the start", func() bool {
		return runtime.NumGoroutine() <= baseGoroutines+5 && goroutinesRunning(fetchFrame) == 0
	})
	runtime.GC()
	runtime.ReadMemStats(&after)
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("goroutines %d -> %d; heap %.1f MiB -> %.1f MiB (replay store holds %d nonces)",
		baseGoroutines, runtime.NumGoroutine(), mib(before.HeapAlloc), mib(after.HeapAlloc), replayStoreLen(t))
	if growth > 64<<20 {
		t.Errorf("heap grew by %.1f MiB", float64(growth)/(1<<20))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// flap cycles Huawei through working and faulty windows of 2s each until
// stop: 500, hang, reset, throttling with Retry-After, malformed JSON.
func flap(emu *huaweitest.Server, stop <-chan struct{}) {
	faults := []huaweitest.Fault{
		{Kind: huaweitest.FaultStatus, Status: 500, Body: "oops"},
		{Kind: huaweitest.FaultHang},
		{Kind: huaweitest.FaultReset},
		{Kind: huaweitest.FaultThrottle, RetryAfter: 2 * time.Second},
		{Kind: huaweitest.FaultMalformed},
	}
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		if i%2 == 0 {
			emu.SetFault(faults[(i/2)%len(faults)])
		} else {
			emu.SetFault(huaweitest.Fault{})
			emu.Release()
		}
		select {
		case <-stop:
			return
		case <-tick.C:
		}
	}
}
