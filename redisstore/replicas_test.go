package redisstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hmsgate/caddy-sinch-hms/internal/redistest"
	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// optionsClient is NewClient for o, closed when the test ends.
func optionsClient(t testing.TB, o Options) redis.UniversalClient {
	t.Helper()
	c, err := o.NewClient(nil)
	if err != nil {
		t.Fatalf("NewClient(%s): %v", o.Describe(), err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// checkTokenShared: a token fetched through one instance's client is the
// one another instance's client finds, without a second upstream call.
func checkTokenShared(t *testing.T, hmsAppID string, a, b redis.UniversalClient) {
	t.Helper()
	up := &upstream{now: time.Now, life: time.Hour}
	key := TokenKey(DefaultPrefix, hmsAppID, "https://oauth.example/token")
	fetcher := func(c redis.UniversalClient) *SharedFetcher {
		return &SharedFetcher{Client: c, Key: key, EncKey: DeriveKey("hms+secret/with=chars"), Inner: up, MinLife: 5 * time.Minute}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, err := fetcher(a).Fetch(ctx)
	if err != nil {
		t.Fatalf("token fetch through the first client: %v", err)
	}
	second, err := fetcher(b).Fetch(ctx)
	if err != nil {
		t.Fatalf("token fetch through the second client: %v", err)
	}
	if second.AccessToken != first.AccessToken || up.calls.Load() != 1 {
		t.Errorf("the second instance made upstream call #%d and got the first's token: %v; want 1 call, one token",
			up.calls.Load(), second.AccessToken == first.AccessToken)
	}
}

// TestReplayWaitsForReplicas: with min_replicas_acked 1 a claim is fresh
// only once a replica holds it. With the replica down, a fresh assertion
// is refused with an error (503), never called a replay, and its nonce is
// released: the retry of the same assertion once the replica is back is
// accepted, and only then is it a replay everywhere.
func TestReplayWaitsForReplicas(t *testing.T) {
	g := redistest.StartReplicated(t, redistest.GroupPorts(t, 2), 1)
	o := Options{URL: "redis://" + g.Primary.Addr + "/0", Password: g.Password, MinReplicasAcked: 1}
	s := o.NewReplayStore(optionsClient(t, o), nil)
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	primary, replica := g.Primary.Client(), g.Replicas[0].Client()

	if ok, err := s.Claim(ctx, appKey, "n-before", until); err != nil || !ok {
		t.Fatalf("claim with the replica up = %v, %v; want fresh", ok, err)
	}
	if v, err := replica.Get(ctx, NonceKey(DefaultPrefix, appKey, "n-before")).Result(); err != nil || v == "" {
		t.Fatalf("the replica does not hold the nonce right after a claim WAIT confirmed: %v", err)
	}

	// Asking for more replicas than there are: the WAIT answer is checked.
	o2 := o
	o2.MinReplicasAcked = 2
	two := o2.NewReplayStore(optionsClient(t, o2), nil)
	start := time.Now()
	ok, err := two.Claim(ctx, appKey, "n-two", until)
	if ok || !errors.Is(err, ErrTooFewReplicas) {
		t.Fatalf("claim wanting 2 replicas of 1 = %v, %v; want ErrTooFewReplicas", ok, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the refused claim took %v: WAIT is not bounded", d)
	}
	if n, _ := primary.Exists(ctx, NonceKey(DefaultPrefix, appKey, "n-two")).Result(); n != 0 {
		t.Errorf("the nonce of a claim refused for too few replicas is still recorded")
	}

	g.Replicas[0].Kill()
	v := validatorOn(t, s)
	a := mintAssertion(t, "retried-after-503")
	_, err = v.Validate(ctx, a, []string{testAudience})
	var ae *sinchauth.Error
	if !errors.As(err, &ae) || ae.Reason != sinchauth.ReasonReplayStore {
		t.Fatalf("Validate with the replica down: %v; want reason %s (503), not a replay", err, sinchauth.ReasonReplayStore)
	}
	if !errors.Is(err, ErrTooFewReplicas) {
		t.Errorf("the refusal does not say too few replicas acknowledged: %v", err)
	}
	// A replay is still refused while the replica is down.
	if ok, err := s.Claim(ctx, appKey, "n-before", until); err != nil || ok {
		t.Errorf("a nonce taken before the replica died = %v, %v; want taken", ok, err)
	}

	g.Replicas[0].Restart()
	g.WaitInSync(t, g.Primary, 1)
	if _, err := v.Validate(ctx, a, []string{testAudience}); err != nil {
		t.Fatalf("the retry of the refused assertion once the replica is back: %v; want accepted", err)
	}
	other := validatorOn(t, &ReplayStore{Client: newClient(t, g.Primary), MinReplicasAcked: 1})
	if _, err := other.Validate(ctx, a, []string{testAudience}); !errors.As(err, &ae) || ae.Reason != sinchauth.ReasonReplay {
		t.Errorf("the accepted assertion on another instance: %v; want %s", err, sinchauth.ReasonReplay)
	}
}

// TestReplayWaitAfterALateReply: the claim's reply comes after the read
// timeout and go-redis sends the pipeline again on a new connection; the
// retry finds its own id, writes it again (so that WAIT on the new
// connection confirms a write of its own) and is fresh. With the replica
// connected but frozen, that retry's WAIT must not confirm anything: a
// WAIT on a connection that wrote nothing would count the frozen replica.
func TestReplayWaitAfterALateReply(t *testing.T) {
	g := redistest.StartReplicated(t, redistest.GroupPorts(t, 2), 1)
	proxy := redistest.NewProxy(t, g.Primary.Addr)
	o := Options{URL: "redis://" + proxy.Addr + "/0?read_timeout=800ms", Password: g.Password, MinReplicasAcked: 1}
	s := o.NewReplayStore(optionsClient(t, o), nil)
	if s.WaitTimeout != 400*time.Millisecond {
		t.Fatalf("wait timeout %v, want half the 800ms read timeout", s.WaitTimeout)
	}
	ctx := context.Background()
	until := time.Now().Add(time.Minute)
	if ok, err := s.Claim(ctx, appKey, "warm-up", until); err != nil || !ok {
		t.Fatalf("warm-up claim = %v, %v", ok, err)
	}
	proxy.DelayReplies("nonce:{", 1, lateReply)
	ok, err := s.Claim(ctx, appKey, "late", until)
	if d := proxy.Delayed(); d != 1 {
		t.Fatalf("%d replies held back, want 1", d)
	}
	if err != nil || !ok {
		t.Fatalf("claim with a late first reply = %v, %v; want fresh", ok, err)
	}
	if v, err := g.Replicas[0].Client().Get(ctx, NonceKey(DefaultPrefix, appKey, "late")).Result(); err != nil || v == "" {
		t.Errorf("the replica does not hold the nonce: %v", err)
	}

	// A new client: its retry's connection is new too, and has written
	// nothing before (one that wrote before the freeze may have an
	// unacknowledged write, which would hide the fault this looks for).
	s = o.NewReplayStore(optionsClient(t, o), nil)
	g.Replicas[0].Freeze()
	defer g.Replicas[0].Thaw()
	proxy.DelayReplies("nonce:{", 1, lateReply)
	ok, err = s.Claim(ctx, appKey, "late-frozen", until)
	if d := proxy.Delayed(); d != 2 {
		t.Fatalf("%d replies held back, want 2", d)
	}
	if ok || !errors.Is(err, ErrTooFewReplicas) {
		t.Fatalf("claim with a late first reply and the replica frozen = %v, %v; want ErrTooFewReplicas", ok, err)
	}
}
