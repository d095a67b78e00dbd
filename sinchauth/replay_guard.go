package sinchauth

import (
	"context"
	"time"
)

// GuardedReplayStore puts a process-local memory store in front of another
// store. A nonce the local store has seen is refused without asking the
// other one; a nonce the other store accepts is recorded locally too. So
// every ReplayStore built on one Local refuses the nonces any of them
// accepted, whatever their backends or key prefixes: a process that keeps
// one Local for its whole life opens no replay window when its
// configuration switches stores, and two handlers on different stores still
// refuse each other's nonces.
//
// A nonce is recorded locally only after Shared accepted it, so a Shared
// that fails (the request gets a 503) leaves the nonce free for a retry.
type GuardedReplayStore struct {
	Local  *MemoryReplayStore // required; shared by the whole process
	Shared ReplayStore        // nil: Local alone
}

// Claim implements ReplayStore.
func (s GuardedReplayStore) Claim(ctx context.Context, appKey, nonce string, until time.Time) (bool, error) {
	if s.Shared == nil {
		return s.Local.Claim(ctx, appKey, nonce, until)
	}
	if s.Local.Seen(appKey, nonce) {
		return false, nil
	}
	fresh, err := s.Shared.Claim(ctx, appKey, nonce, until)
	if err != nil || !fresh {
		return fresh, err
	}
	// Two handlers on different shared stores may both have accepted it
	// just now: the local claim lets one through.
	return s.Local.Claim(ctx, appKey, nonce, until)
}

var _ ReplayStore = GuardedReplayStore{}
