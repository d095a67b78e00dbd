package tokencache

import (
	"context"
	"testing"
	"time"
)

// BenchmarkGetHit is the steady-state path every token request takes: a
// fresh cached token, with the breaker and freshness checks.
func BenchmarkGetHit(b *testing.B) {
	c := New(Config{RefreshBefore: 5 * time.Minute})
	f := FetcherFunc(func(context.Context) (Token, error) {
		now := time.Now()
		return Token{AccessToken: "tok", ExpiresAt: now.Add(time.Hour), FetchedAt: now}, nil
	})
	if _, err := c.Get(context.Background(), "k", f); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if res, err := c.Get(context.Background(), "k", f); err != nil || res.Source != SourceCache {
				b.Fatalf("%+v %v", res, err)
			}
		}
	})
}

// BenchmarkGetWhilePaused is a request while the upstream is paused and no
// token is left: answered from memory, with no upstream call.
func BenchmarkGetWhilePaused(b *testing.B) {
	c := New(Config{BreakerThreshold: 1})
	calls := 0
	f := FetcherFunc(func(context.Context) (Token, error) {
		calls++
		return Token{}, &UpstreamError{Kind: KindUnavailable, StatusCode: 500}
	})
	c.Get(context.Background(), "k", f)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Get(context.Background(), "k", f); err == nil {
			b.Fatal("want an error")
		}
	}
	if calls != 1 {
		b.Fatalf("upstream calls = %d while paused, want 1", calls)
	}
}
