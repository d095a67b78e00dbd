package redisstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

const appKey = "a32e5a8d-f7d8-411c-9645-9038e8dd051d"

func TestReplayClaimSharedBetweenInstances(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	clk := newClock()
	a := &ReplayStore{Client: newClient(t, srv), Now: clk.Now}
	b := &ReplayStore{Client: newClient(t, srv), Now: clk.Now}
	ctx := context.Background()
	until := clk.Now().Add(6 * time.Minute)

	if ok, err := a.Claim(ctx, appKey, "n-1", until); err != nil || !ok {
		t.Fatalf("first claim on instance A = %v, %v; want true", ok, err)
	}
	if ok, err := b.Claim(ctx, appKey, "n-1", until); err != nil || ok {
		t.Fatalf("same nonce on instance B = %v, %v; want false (replay)", ok, err)
	}
	if ok, err := a.Claim(ctx, appKey, "n-1", until); err != nil || ok {
		t.Fatalf("same nonce again on A = %v, %v; want false", ok, err)
	}
	if ok, err := b.Claim(ctx, "other-app", "n-1", until); err != nil || !ok {
		t.Fatalf("same nonce for another application = %v, %v; want true (namespaced)", ok, err)
	}
}

func TestReplayClaimAtomicUnderConcurrency(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	stores := []*ReplayStore{
		{Client: newClient(t, srv)}, {Client: newClient(t, srv)}, {Client: newClient(t, srv)},
	}
	const nonces, claimers = 20, 30
	until := time.Now().Add(time.Minute)
	var wins [nonces]atomic.Int64
	var failures atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for n := range nonces {
		for c := range claimers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := stores[c%len(stores)].Claim(context.Background(), appKey, fmt.Sprintf("nonce-%d", n), until)
				if err != nil {
					failures.Add(1)
				}
				if ok {
					wins[n].Add(1)
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d claims failed", f)
	}
	for n := range nonces {
		if w := wins[n].Load(); w != 1 {
			t.Errorf("nonce-%d: %d of %d concurrent claims won, want exactly 1", n, w, claimers)
		}
	}
}

func TestReplayKeyAndExpiry(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	inspect := srv.Client()
	clk := newClock()
	s := &ReplayStore{Client: newClient(t, srv), Prefix: "edge1:", Now: clk.Now}
	ctx := context.Background()

	// Kept for as long as the assertion could be valid (the validator
	// passes exp + skew as until), and no longer.
	if ok, err := s.Claim(ctx, appKey, "nonce-a", clk.Now().Add(90*time.Second)); err != nil || !ok {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	key := "edge1:nonce:{" + appKey + "}:" + sha256hex("nonce-a")
	if key != NonceKey("edge1:", appKey, "nonce-a") {
		t.Fatalf("NonceKey = %q, want %q", NonceKey("edge1:", appKey, "nonce-a"), key)
	}
	ttl, err := inspect.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 85*time.Second || ttl > 90*time.Second {
		t.Errorf("PTTL of %s = %v, want about 90s (until - now)", key, ttl)
	}

	// An until already past guards nothing: reported new, not stored.
	if ok, err := s.Claim(ctx, appKey, "nonce-old", clk.Now().Add(-time.Second)); err != nil || !ok {
		t.Fatalf("expired claim = %v, %v; want true", ok, err)
	}
	if n, _ := inspect.Exists(ctx, NonceKey("edge1:", appKey, "nonce-old")).Result(); n != 0 {
		t.Errorf("a nonce past its until was stored")
	}

	// Once Redis has forgotten the key (as its PX expiry does), the nonce
	// is new again: the store holds nothing beyond Redis.
	if err := inspect.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Claim(ctx, appKey, "nonce-a", clk.Now().Add(90*time.Second)); err != nil || !ok {
		t.Fatalf("claim after expiry = %v, %v; want true", ok, err)
	}
}

func TestReplayFailsClosedWhileRedisIsDown(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{Persistent: true})
	s := &ReplayStore{Client: newClient(t, srv)}
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if ok, err := s.Claim(ctx, appKey, "before", until); err != nil || !ok {
		t.Fatalf("claim = %v, %v", ok, err)
	}

	srv.Stop()
	for _, nonce := range []string{"before", "during"} {
		ok, err := s.Claim(ctx, appKey, nonce, until)
		if err == nil || ok {
			t.Fatalf("claim of %q with Redis down = %v, %v; want false and an error", nonce, ok, err)
		}
	}
	// Through the validator, that error is a refusal with its own reason.
	v := validatorOn(t, s)
	_, err := v.Validate(ctx, mintAssertion(t, "during-validate"), []string{"https://edge.example/token"})
	var ae *sinchauth.Error
	if !errors.As(err, &ae) || ae.Reason != sinchauth.ReasonReplayStore {
		t.Fatalf("Validate with Redis down: %v; want reason %s", err, sinchauth.ReasonReplayStore)
	}

	srv.Restart() // the same client, no reconnect by hand
	if ok, err := s.Claim(ctx, appKey, "before", until); err != nil || ok {
		t.Errorf("nonce claimed before the outage = %v, %v after restart; want false (persisted)", ok, err)
	}
	if ok, err := s.Claim(ctx, appKey, "after", until); err != nil || !ok {
		t.Errorf("new nonce after restart = %v, %v; want true", ok, err)
	}
}

func TestReplayCancelledContextIsAnError(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s := &ReplayStore{Client: newClient(t, srv)}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := s.Claim(ctx, appKey, "n", time.Now().Add(time.Minute)); err == nil || ok {
		t.Fatalf("claim on a cancelled context = %v, %v; want false and an error", ok, err)
	}
	if n, _ := srv.Client().Exists(context.Background(), NonceKey(DefaultPrefix, appKey, "n")).Result(); n != 0 {
		t.Errorf("nonce stored although the claim failed")
	}
}

func BenchmarkReplayClaim(b *testing.B) {
	srv := redistest.Start(b, redistest.Options{})
	s := &ReplayStore{Client: newClient(b, srv)}
	until := time.Now().Add(time.Hour)
	var i atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Claim(context.Background(), appKey, fmt.Sprint(i.Add(1)), until); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestValidatorsShareReplaysThroughRedis(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	edge1 := validatorOn(t, &ReplayStore{Client: newClient(t, srv)})
	edge2 := validatorOn(t, &ReplayStore{Client: newClient(t, srv)})
	ctx := context.Background()
	a := mintAssertion(t, "")
	if _, err := edge1.Validate(ctx, a, []string{testAudience}); err != nil {
		t.Fatalf("edge1 rejected a fresh assertion: %v", err)
	}
	_, err := edge2.Validate(ctx, a, []string{testAudience})
	var ae *sinchauth.Error
	if !errors.As(err, &ae) || ae.Reason != sinchauth.ReasonReplay {
		t.Fatalf("edge2 on the assertion edge1 accepted: %v; want reason %s", err, sinchauth.ReasonReplay)
	}
}
