package sinchauth

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryReplayStoreClaims(t *testing.T) {
	now := testNow
	s := NewMemoryReplayStore(func() time.Time { return now })
	ctx := context.Background()
	until := now.Add(time.Minute)
	if ok, err := s.Claim(ctx, "app", "n1", until); !ok || err != nil {
		t.Fatalf("first claim = %v, %v", ok, err)
	}
	if ok, _ := s.Claim(ctx, "app", "n1", until); ok {
		t.Fatal("second claim succeeded")
	}
	if ok, _ := s.Claim(ctx, "other", "n1", until); !ok {
		t.Fatal("same nonce of another application refused")
	}
	// Length-prefixing keeps ("ab","c") and ("a","bc") apart.
	s.Claim(ctx, "ab", "c", until)
	if ok, _ := s.Claim(ctx, "a", "bc", until); !ok {
		t.Fatal("key ambiguity between application and nonce")
	}
	if ok, _ := s.Claim(ctx, "app", "past", now); !ok {
		t.Fatal("already-expired claim refused")
	}
	if n := s.Len(); n != 4 {
		t.Errorf("Len = %d, want 4", n)
	}
}

func TestMemoryReplayStoreForgetsAfterExpiry(t *testing.T) {
	var mu sync.Mutex
	now := testNow
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := NewMemoryReplayStore(clock)
	ctx := context.Background()
	for i := range 1000 {
		s.Claim(ctx, "app", fmt.Sprint(i), testNow.Add(time.Duration(i%10+1)*time.Minute))
	}
	if n := s.Len(); n != 1000 {
		t.Fatalf("Len = %d", n)
	}
	advance(5 * time.Minute) // entries with until <= now are forgotten
	if n := s.Len(); n != 500 {
		t.Fatalf("Len after 5m = %d, want 500", n)
	}
	if ok, _ := s.Claim(ctx, "app", "0", testNow.Add(time.Hour)); !ok {
		t.Fatal("expired nonce still remembered")
	}
	if ok, _ := s.Claim(ctx, "app", "9", testNow.Add(time.Hour)); ok {
		t.Fatal("live nonce forgotten")
	}
	advance(time.Hour)
	if n := s.Len(); n != 0 {
		t.Fatalf("Len after 1h = %d, want 0", n)
	}
}

func TestMemoryReplayStoreConcurrentClaimsOneWinner(t *testing.T) {
	s := NewMemoryReplayStore(nil)
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if ok, err := s.Claim(context.Background(), "app", "same", time.Now().Add(time.Minute)); ok && err == nil {
				wins.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners, want 1", wins.Load())
	}
}

func TestConcurrentValidateOfOneTokenOneWinner(t *testing.T) {
	f := newFixture(t)
	tok := f.valid(nil)
	var ok, replayed atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.v.Validate(context.Background(), tok, []string{testAudience})
			switch ReasonOf(err) {
			case "":
				ok.Add(1)
			case ReasonReplay:
				replayed.Add(1)
			}
		}()
	}
	wg.Wait()
	if ok.Load() != 1 || replayed.Load() != 49 {
		t.Fatalf("ok=%d replayed=%d", ok.Load(), replayed.Load())
	}
}

// TestMemoryReplayStoreBytesPerNonce guards the memory budget (< 150 bytes
// per live nonce).
func TestMemoryReplayStoreBytesPerNonce(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100k entries")
	}
	perNonce := measureBytesPerNonce(100_000)
	t.Logf("%.1f bytes per live nonce", perNonce)
	if perNonce > 150 {
		t.Errorf("%.1f bytes per live nonce, budget 150", perNonce)
	}
}

// measureBytesPerNonce fills a fresh store with n live nonces and returns the
// heap growth per nonce.
func measureBytesPerNonce(n int) float64 {
	nonces := make([]string, n)
	for i := range nonces {
		nonces[i] = fmt.Sprintf("%08d-aaaa-4bbb-8ccc-123456789abc", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := NewMemoryReplayStore(func() time.Time { return testNow })
	until := testNow.Add(time.Hour)
	for _, nonce := range nonces {
		s.Claim(context.Background(), "app", nonce, until)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(s)
	runtime.KeepAlive(nonces)
	return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
}

// TestMemoryReplayStoreFarFuture: an until beyond the int64 nanosecond range
// (a lifetime of centuries) is still recorded and refused the second time;
// no overflow turns it into "already expired".
func TestMemoryReplayStoreFarFuture(t *testing.T) {
	now := testNow
	s := NewMemoryReplayStore(func() time.Time { return now })
	ctx := context.Background()
	for _, until := range []time.Time{now.AddDate(300, 0, 0), time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)} {
		nonce := until.String()
		if ok, err := s.Claim(ctx, "app", nonce, until); !ok || err != nil {
			t.Fatalf("first claim until %v = %v, %v", until, ok, err)
		}
		if ok, _ := s.Claim(ctx, "app", nonce, until); ok {
			t.Errorf("replay accepted for until %v", until)
		}
		if !s.Seen("app", nonce) {
			t.Errorf("Seen = false for until %v", until)
		}
	}
}

// TestGuardedReplayStore: the local store refuses what any shared store
// accepted, and a failing shared store leaves the nonce free.
func TestGuardedReplayStore(t *testing.T) {
	now := testNow
	clock := func() time.Time { return now }
	local := NewMemoryReplayStore(clock)
	a := GuardedReplayStore{Local: local, Shared: NewMemoryReplayStore(clock)}
	b := GuardedReplayStore{Local: local, Shared: NewMemoryReplayStore(clock)}
	down := GuardedReplayStore{Local: local, Shared: failingStore{}}
	ctx := context.Background()
	until := now.Add(time.Minute)
	if _, err := down.Claim(ctx, "app", "n", until); err == nil {
		t.Fatal("failing shared store: no error")
	}
	if ok, _ := a.Claim(ctx, "app", "n", until); !ok {
		t.Fatal("nonce refused after the shared store failed on it")
	}
	if ok, _ := b.Claim(ctx, "app", "n", until); ok {
		t.Fatal("another shared store accepted a nonce the process had accepted")
	}
	if ok, _ := (GuardedReplayStore{Local: local}).Claim(ctx, "app", "n", until); ok {
		t.Fatal("local store alone accepted it")
	}
}

type failingStore struct{}

func (failingStore) Claim(context.Context, string, string, time.Time) (bool, error) {
	return false, fmt.Errorf("store down")
}
