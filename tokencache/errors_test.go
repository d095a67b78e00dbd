package tokencache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestKindOfAndRetryAfter(t *testing.T) {
	ue := &UpstreamError{Kind: KindRejected, StatusCode: 400, Code: "1101/20173", Description: "invalid client_secret"}
	wrapped := fmt.Errorf("hms: %w", ue)
	if KindOf(wrapped) != KindRejected {
		t.Fatalf("KindOf(wrapped) = %v", KindOf(wrapped))
	}
	if KindOf(context.DeadlineExceeded) != KindUnavailable || KindOf(errors.New("x")) != KindUnavailable {
		t.Fatal("plain errors must be KindUnavailable")
	}
	if KindOf(nil) != 0 {
		t.Fatal("KindOf(nil) != 0")
	}
	thr := &UpstreamError{Kind: KindUnavailable, StatusCode: 503, RetryAfter: 30 * time.Second, Err: errors.New("throttled")}
	if RetryAfterOf(fmt.Errorf("x: %w", thr)) != 30*time.Second || RetryAfterOf(ue) != 0 || RetryAfterOf(nil) != 0 {
		t.Fatal("RetryAfterOf")
	}
	s := ue.Error()
	for _, want := range []string{"rejected", "400", "1101/20173", "invalid client_secret"} {
		if !strings.Contains(s, want) {
			t.Errorf("Error() = %q lacks %q", s, want)
		}
	}
	if !errors.Is(thr, thr.Err) {
		t.Fatal("Unwrap")
	}
	if KindUnavailable.String() != "unavailable" || KindRejected.String() != "rejected" {
		t.Fatal("ErrorKind.String")
	}
	if SourceCache.String() != "hit" || SourceFetched.String() != "fetched" || SourceStale.String() != "stale" {
		t.Fatal("Source.String")
	}
}
