package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
var claimScript = redis.NewScript(`
local v = redis.call("GET", KEYS[1])
if v == false then
	redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
	return 1
end
if v == ARGV[1] then
	return 1
end
return 0`)

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
	n, err := claimScript.Run(ctx, s.Client, []string{key}, id, ttlMS).Int()
	if err != nil {
		err = fmt.Errorf("redisstore: claim nonce: %w", err)
		if s.Logger != nil {
			s.Logger.Error("redis replay store cannot be reached: refusing the assertion (fail closed)",
				zap.String("application_key", appKey), zap.Error(err))
		}
		s.releaseLater(ctx, appKey, key, id)
		return false, err
	}
	return n == 1, nil
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
