package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// slowReplyStore is a ReplayStore whose client reaches srv through a proxy
// that can hold Redis's replies back past the client's 500ms read timeout.
// go-redis then retries the command once (MaxRetries 1), on a new
// connection, after the first attempt was executed by Redis.
func slowReplyStore(t *testing.T, srv *redistest.Server) (*ReplayStore, *redistest.Proxy) {
	t.Helper()
	proxy := redistest.NewProxy(t, srv.Addr)
	c, err := NewClient(srv.URLVia(proxy.Addr) + "?read_timeout=500ms")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s := &ReplayStore{Client: c}
	// A first claim opens the connection and loads the claim script, as
	// the first request after start-up does.
	if ok, err := s.Claim(context.Background(), appKey, "warm-up", time.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatalf("warm-up claim = %v, %v", ok, err)
	}
	return s, proxy
}

// lateReply is well past the client's read timeout (500ms).
const lateReply = 1500 * time.Millisecond

// TestReplayClaimWithALateReplyIsFresh: Redis records the nonce but its
// reply comes after the read timeout; go-redis retries. The retry must not
// find "its own" nonce and call a fresh assertion a replay.
func TestReplayClaimWithALateReplyIsFresh(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, proxy := slowReplyStore(t, srv)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)

	proxy.DelayReplies("nonce:{", 1, lateReply)
	ok, err := s.Claim(ctx, appKey, "late-reply", until)
	if d := proxy.Delayed(); d != 1 {
		t.Fatalf("%d replies were held back, want 1: the test did not play a late reply", d)
	}
	if err == nil && !ok {
		t.Fatalf("a fresh nonce whose first reply came late was reported taken (a replay)")
	}
	if err != nil || !ok {
		t.Fatalf("claim with one late reply = %v, %v; want fresh (the retry recognises its own claim)", ok, err)
	}
	// It is recorded all the same: another instance sees the replay.
	other := &ReplayStore{Client: newClient(t, srv)}
	if ok, err := other.Claim(ctx, appKey, "late-reply", until); err != nil || ok {
		t.Errorf("the nonce on another instance = %v, %v; want taken", ok, err)
	}
	// And through the validator, the assertion is accepted once.
	a := mintAssertion(t, "late-validate")
	proxy.DelayReplies("nonce:{", 1, lateReply)
	if _, err := validatorOn(t, s).Validate(ctx, a, []string{testAudience}); err != nil {
		t.Fatalf("Validate of a fresh assertion with a late Redis reply: %v", err)
	}
	_, err = validatorOn(t, other).Validate(ctx, a, []string{testAudience})
	var ae *sinchauth.Error
	if !errors.As(err, &ae) || ae.Reason != sinchauth.ReasonReplay {
		t.Errorf("the same assertion on another instance: %v; want %s", err, sinchauth.ReasonReplay)
	}
}

// TestReplayClaimThatTimesOutCanBeRetried: every attempt's reply is late,
// so the claim is an error (the caller answers 503). The nonce Redis
// recorded for it is then released, so that Sinch's retry of the same
// assertion after the 503 is not refused as a replay.
func TestReplayClaimThatTimesOutCanBeRetried(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, proxy := slowReplyStore(t, srv)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	key := NonceKey(DefaultPrefix, appKey, "timed-out")

	proxy.DelayReplies("nonce:{", 2, lateReply) // both attempts of the claim
	ok, err := s.Claim(ctx, appKey, "timed-out", until)
	if err == nil {
		t.Fatalf("claim with every reply late = %v, nil; want an error (503), never taken or fresh", ok)
	}
	if ok {
		t.Fatalf("claim = true with an error")
	}
	if d := proxy.Delayed(); d != 2 {
		t.Fatalf("%d replies were held back, want 2", d)
	}
	inspect := srv.Client()
	waitFor(t, func() bool { n, _ := inspect.Exists(ctx, key).Result(); return n == 0 })
	if ok, err := s.Claim(ctx, appKey, "timed-out", until); err != nil || !ok {
		t.Fatalf("the same nonce after the failed claim = %v, %v; want fresh", ok, err)
	}
}

// TestReplayReleaseLeavesAnotherClaimAlone: the release after a failed
// claim deletes the key only if it still holds that claim's own id; a
// nonce claimed by someone else stays recorded.
func TestReplayReleaseLeavesAnotherClaimAlone(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	s, proxy := slowReplyStore(t, srv)
	other := &ReplayStore{Client: newClient(t, srv)}
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if ok, err := other.Claim(ctx, appKey, "theirs", until); err != nil || !ok {
		t.Fatalf("claim = %v, %v", ok, err)
	}
	proxy.DelayReplies("nonce:{", 2, lateReply)
	if _, err := s.Claim(ctx, appKey, "theirs", until); err == nil {
		t.Fatalf("claim with every reply late succeeded")
	}
	// Let the release run (its reply is not delayed), then check.
	s.releases.Wait()
	if ok, err := s.Claim(ctx, appKey, "theirs", until); err != nil || ok {
		t.Errorf("the other instance's nonce after our failed claim = %v, %v; want taken", ok, err)
	}
}
