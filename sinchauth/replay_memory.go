package sinchauth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"sync"
	"time"
)

// replayShards spreads lock contention; a power of two so a key byte picks one.
const replayShards = 64

// nonceID is a fixed-size digest of (appKey, nonce). Storing 16 bytes instead
// of the strings keeps memory per nonce small and independent of nonce
// length; 128 bits make an accidental collision (a false "replayed")
// negligible.
type nonceID [16]byte

// MemoryReplayStore is an in-process ReplayStore. It forgets a nonce once its
// `until` has passed: each shard keeps a min-heap of expiries and every Claim
// pops the expired entries of its shard first, so memory is bounded by the
// nonces that are still live plus no more than one pass of lazily-deleted
// ones, with no background goroutine. Use a shared store instead when
// several instances serve the same endpoint.
type MemoryReplayStore struct {
	now    func() time.Time
	shards [replayShards]replayShard
}

type replayShard struct {
	mu   sync.Mutex
	live map[nonceID]int64 // nonce -> until, Unix nanoseconds
	heap expiryHeap
}

// NewMemoryReplayStore returns an empty store; nil now = time.Now.
func NewMemoryReplayStore(now func() time.Time) *MemoryReplayStore {
	if now == nil {
		now = time.Now
	}
	s := &MemoryReplayStore{now: now}
	for i := range s.shards {
		s.shards[i].live = make(map[nonceID]int64)
	}
	return s
}

// Claim implements ReplayStore. It never fails. A nonce whose until has
// already passed is reported new and not stored: nothing it guards is still
// valid.
func (s *MemoryReplayStore) Claim(_ context.Context, appKey, nonce string, until time.Time) (bool, error) {
	id := hashNonce(appKey, nonce)
	nowT := s.now()
	now := unixNano(nowT)
	sh := &s.shards[id[0]%replayShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.prune(now)
	if _, seen := sh.live[id]; seen {
		return false, nil
	}
	if !until.After(nowT) { // times compared, not nanosecond counts that can overflow
		return true, nil
	}
	exp := unixNano(until)
	sh.live[id] = exp
	sh.heap.push(expiry{id: id, until: exp})
	return true, nil
}

// Seen reports whether nonce is recorded for appKey and not yet forgotten,
// without recording it.
func (s *MemoryReplayStore) Seen(appKey, nonce string) bool {
	id := hashNonce(appKey, nonce)
	now := unixNano(s.now())
	sh := &s.shards[id[0]%replayShards]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.prune(now)
	_, seen := sh.live[id]
	return seen
}

// Bounds of the instants an int64 of Unix nanoseconds can hold (years 1678
// to 2262).
var (
	maxUnixNano = time.Unix(0, math.MaxInt64)
	minUnixNano = time.Unix(0, math.MinInt64)
)

// unixNano is t.UnixNano clamped to the int64 range, so that an instant
// beyond it (a huge lifetime) sorts last instead of wrapping into the past.
func unixNano(t time.Time) int64 {
	switch {
	case t.After(maxUnixNano):
		return math.MaxInt64
	case t.Before(minUnixNano):
		return math.MinInt64
	}
	return t.UnixNano()
}

// Len returns the number of live (not yet expired) nonces. It prunes every
// shard, so it costs O(expired) plus a lock per shard.
func (s *MemoryReplayStore) Len() int {
	now := unixNano(s.now())
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.prune(now)
		n += len(sh.live)
		sh.mu.Unlock()
	}
	return n
}

// prune forgets every entry whose until is not after now. Each entry is
// pushed and popped once, so the cost is amortised O(log n) per Claim.
func (sh *replayShard) prune(now int64) {
	for len(sh.heap) > 0 && sh.heap[0].until <= now {
		e := sh.heap.pop()
		delete(sh.live, e.id)
	}
	// Go maps never shrink; after a burst drains, rebuild so memory follows
	// the live set rather than the peak.
	if len(sh.live) == 0 && cap(sh.heap) > 1024 {
		sh.live = make(map[nonceID]int64)
		sh.heap = nil
	}
}

// hashNonce derives the nonceID. The application key is length-prefixed so
// that no (appKey, nonce) pair can be spelled as another.
func hashNonce(appKey, nonce string) nonceID {
	var buf [192]byte // enough for Sinch's keys and nonces; longer ones spill to the heap
	b := binary.BigEndian.AppendUint64(buf[:0], uint64(len(appKey)))
	b = append(b, appKey...)
	b = append(b, nonce...)
	sum := sha256.Sum256(b)
	var id nonceID
	copy(id[:], sum[:])
	return id
}

// expiry is a heap entry: which nonce to forget and when.
type expiry struct {
	id    nonceID
	until int64
}

// expiryHeap is a min-heap on until. Hand-written rather than container/heap
// to avoid boxing every entry in an interface (an allocation per Claim).
type expiryHeap []expiry

func (h *expiryHeap) push(e expiry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].until <= a[i].until {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *expiryHeap) pop() expiry {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l].until < a[m].until {
			m = l
		}
		if r < len(a) && a[r].until < a[m].until {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
