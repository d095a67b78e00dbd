package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// ReplayStore is a sinchauth.ReplayStore in Redis, shared by every instance
// that uses the same Redis and Prefix.
type ReplayStore struct {
	// Client is the Redis connection (a *redis.Client, cluster or ring).
	Client redis.UniversalClient
	// Prefix starts every key; "" = DefaultPrefix.
	Prefix string
	// Now is the clock that turns `until` into a time to live; nil = time.Now.
	Now func() time.Time
	// Logger receives one error line per failed claim (a request that is
	// refused with 503); nil = no logging.
	Logger *zap.Logger
	// ReleaseTimeout bounds the release of a failed claim's nonce;
	// 0 = DefaultReleaseTimeout.
	ReleaseTimeout time.Duration
	// MinReplicasAcked is what a fresh claim waits for. What each value
	// promises:
	//
	//   - 0: a claim is fresh once the primary holds it. Redis replicates
	//     asynchronously, so a failover (Sentinel, Cluster) can lose the
	//     last writes: a nonce accepted just before its primary died may
	//     be accepted once more after the failover.
	//   - N >= 1: a claim is fresh only once `WAIT N` confirms, within
	//     WaitTimeout, that N replicas hold it; with fewer, Claim returns
	//     an error wrapping ErrTooFewReplicas (the caller answers 503 +
	//     Retry-After) and releases the nonce, so that the retry of the
	//     same assertion is fresh once the replicas are back. An accepted
	//     assertion is then refused after its primary fails over to any
	//     of those replicas (Sentinel and Cluster promote the most
	//     up-to-date one). While fewer than N replicas are up, every
	//     fresh assertion is refused: that is the price.
	//
	// WAIT runs on the connection of the claim (one pipeline), on the
	// primary that owns the key (ClusterClient.MasterForKey in a
	// Cluster). A *redis.Ring cannot do this: Claim then fails.
	MinReplicasAcked int
	// WaitTimeout bounds WAIT; 0 = DefaultWaitTimeout. Keep it below the
	// client's read timeout, which bounds WAIT's reply too.
	WaitTimeout time.Duration

	releases sync.WaitGroup // releases in flight (tests wait on it)
}

// DefaultReleaseTimeout bounds the best-effort release of the nonce of a
// claim that failed; Sinch retries after Retry-After (5s), later than that.
const DefaultReleaseTimeout = 2 * time.Second

// claimScript sets KEYS[1] to ARGV[1] (a per-claim id) for ARGV[2]
// milliseconds if it is absent, and answers 1 then, or when the key already
// holds that id: the claim's own earlier attempt, which Redis executed but
// whose reply was lost to a timeout, retried by go-redis. Any other value
// is someone else's claim: 0. One key, so it runs on Redis Cluster too.
//
// A claim that finds its own id writes it again: a retry runs on a new
// connection, and WAIT counts the writes of its own connection only, so
// without a write of its own the WAIT after it would confirm nothing.
var claimScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v == false or v == ARGV[1] then
	redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
	return 1
end
return 0`)

// ErrTooFewReplicas is wrapped by Claim's error when WAIT confirmed fewer
// replicas than MinReplicasAcked: the assertion is refused (503), the
// nonce released, and a retry once the replicas are back is fresh.
var ErrTooFewReplicas = errors.New("too few replicas acknowledged the claim")

// releaseFailedClaims bounds the releases in flight after failed claims:
// during an outage every refused request starts one, and a release is
// best-effort (one that finds no slot is skipped).
var releaseFailedClaims = make(chan struct{}, 64)

// Claim implements sinchauth.ReplayStore with one atomic script that
// records the nonce under a random id of this claim, `SET NX PX` style:
// of concurrent claims of one nonce, on any number of instances, Redis lets
// exactly one through. A nonce whose until has passed is reported new and
// not stored, as MemoryReplayStore does.
//
// The claim is safe to retry: when a reply comes too late and go-redis
// sends the command again, the retry finds this claim's own id and reports
// the nonce fresh, not taken. A fresh assertion is never called a replay.
//
// When Redis cannot answer, Claim returns the error (and logs it): the
// validator then refuses the assertion (fail closed, a 503), since
// accepting it could accept a replay. The nonce Redis may have recorded
// for the failed claim is then released in the background (deleted only
// if it still holds this claim's id, within ReleaseTimeout), so that
// Sinch's retry of the same assertion is not refused as a replay: the
// assertion was not accepted, so forgetting its nonce accepts nothing.
func (s *ReplayStore) Claim(ctx context.Context, appKey, nonce string, until time.Time) (bool, error) {
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return true, nil
	}
	ttlMS := max(ttl.Milliseconds(), 1) // PX takes whole milliseconds
	key := NonceKey(s.prefix(), appKey, nonce)
	id := claimID()
	if s.MinReplicasAcked > 0 {
		return s.claimReplicated(ctx, appKey, key, id, ttlMS)
	}
	n, err := claimScript.Run(ctx, s.Client, []string{key}, id, ttlMS).Int()
	if err != nil {
		return false, s.failed(ctx, appKey, key, id, fmt.Errorf("redisstore: claim nonce: %w", err))
	}
	return n == 1, nil
}

// claimReplicated is Claim with MinReplicasAcked >= 1: the claim script
// and WAIT in one pipeline, on one connection to the primary that owns
// key. A claim that fewer replicas acknowledged is released at once (the
// primary just answered), so that the assertion's retry is fresh.
func (s *ReplayStore) claimReplicated(ctx context.Context, appKey, key, id string, ttlMS int64) (bool, error) {
	wait := orDefault(s.WaitTimeout, DefaultWaitTimeout)
	node, err := s.primaryFor(ctx, key)
	var claim *redis.Cmd
	var acked *redis.Cmd
	if err == nil {
		_, err = node.Pipelined(ctx, func(p redis.Pipeliner) error {
			claim = claimScript.Eval(ctx, p, []string{key}, id, ttlMS)
			acked = p.Do(ctx, "WAIT", s.MinReplicasAcked, wait.Milliseconds())
			return nil
		})
	}
	var n, got int64
	if err == nil {
		n, err = claim.Int64()
	}
	if err == nil {
		got, err = acked.Int64()
	}
	if err != nil {
		if cc, ok := s.Client.(*redis.ClusterClient); ok && isRedirect(err) {
			cc.ReloadState(ctx) // the slot moved: learn where, for the retry
		}
		return false, s.failed(ctx, appKey, key, id, fmt.Errorf("redisstore: claim nonce: %w", err))
	}
	if n != 1 {
		return false, nil // taken: a replay, whatever WAIT says
	}
	if got < int64(s.MinReplicasAcked) {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(s.ReleaseTimeout, DefaultReleaseTimeout))
		defer cancel()
		err := fmt.Errorf("redisstore: claim nonce: %d of %d replicas acknowledged within %v: %w", got, s.MinReplicasAcked, wait, ErrTooFewReplicas)
		if rerr := releaseScript.Run(rctx, s.Client, []string{key}, id).Err(); rerr != nil {
			err = fmt.Errorf("%w; releasing the nonce failed too: %w", err, rerr)
		}
		if s.Logger != nil {
			s.Logger.Error("redis replay store: too few replicas acknowledged the nonce: refusing the assertion (fail closed); its retry is fresh once the replicas are back",
				zap.String("application_key", appKey), zap.Int64("replicas_acked", got),
				zap.Int("min_replicas_acked", s.MinReplicasAcked), zap.Error(err))
		}
		return false, err
	}
	return true, nil
}

// primaryFor is the client that reaches, on one connection per pipeline,
// the primary holding key.
func (s *ReplayStore) primaryFor(ctx context.Context, key string) (redis.Cmdable, error) {
	switch c := s.Client.(type) {
	case *redis.ClusterClient:
		node, err := c.MasterForKey(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("find the primary of the key's slot: %w", err)
		}
		return node, nil
	case *redis.Client:
		return c, nil
	default:
		return nil, fmt.Errorf("min_replicas_acked needs a standalone, sentinel or cluster client, not %T", s.Client)
	}
}

// isRedirect: the node no longer owns the slot.
func isRedirect(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "MOVED ") || strings.Contains(msg, "ASK ")
}

// failed logs a claim that Redis could not answer, starts the release of
// its nonce and returns err.
func (s *ReplayStore) failed(ctx context.Context, appKey, key, id string, err error) error {
	if s.Logger != nil {
		s.Logger.Error("redis replay store cannot be reached: refusing the assertion (fail closed)",
			zap.String("application_key", appKey), zap.Error(err))
	}
	s.releaseLater(ctx, appKey, key, id)
	return err
}

// releaseLater deletes key if it holds id, in the background: the request
// is answered (503) without waiting on a Redis that just failed it.
func (s *ReplayStore) releaseLater(ctx context.Context, appKey, key, id string) {
	select {
	case releaseFailedClaims <- struct{}{}:
	default:
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), orDefault(s.ReleaseTimeout, DefaultReleaseTimeout))
	s.releases.Add(1)
	go func() {
		defer s.releases.Done()
		defer func() { <-releaseFailedClaims }()
		defer cancel()
		// Debug: during an outage this fails with every refused request,
		// which has its error line already, and then nothing was recorded.
		if err := releaseScript.Run(ctx, s.Client, []string{key}, id).Err(); err != nil && s.Logger != nil {
			s.Logger.Debug("redis replay store: the nonce of a refused assertion could not be released; if Redis recorded it, a retry of that assertion is refused as a replay until it expires",
				zap.String("application_key", appKey), zap.Error(err))
		}
	}()
}

// claimID is a random id for one claim, unique among all instances.
func claimID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

func (s *ReplayStore) prefix() string {
	if s.Prefix == "" {
		return DefaultPrefix
	}
	return s.Prefix
}

func (s *ReplayStore) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Interface guard
var _ sinchauth.ReplayStore = (*ReplayStore)(nil)
