package sinchauth

import (
	"context"
	"time"
)

// ReplayStore remembers nonces. Claim records nonce for appKey until `until`
// and returns (true, nil) if it was new, (false, nil) if it was already
// recorded and not yet forgotten, or an error if the store cannot answer
// (callers must fail closed).
//
// Claim must be atomic: of concurrent claims of one (appKey, nonce) exactly
// one may return true. Implementations: MemoryReplayStore for one instance;
// a shared store (e.g. Redis SET NX PXAT) when several instances serve the
// same endpoint.
type ReplayStore interface {
	Claim(ctx context.Context, appKey, nonce string, until time.Time) (bool, error)
}
