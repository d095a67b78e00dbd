package redisstore

import (
	"context"
	"fmt"
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
}

// Claim implements sinchauth.ReplayStore with one atomic
// `SET <key> 1 NX PX <until-now>`: of concurrent claims of one nonce, on any
// number of instances, Redis lets exactly one through. A nonce whose until
// has passed is reported new and not stored, as MemoryReplayStore does.
//
// When Redis cannot answer, Claim returns the error (and logs it): the
// validator then refuses the assertion (fail closed), since accepting it
// could accept a replay.
func (s *ReplayStore) Claim(ctx context.Context, appKey, nonce string, until time.Time) (bool, error) {
	ttl := until.Sub(s.now())
	if ttl <= 0 {
		return true, nil
	}
	ttl = max(ttl, time.Millisecond) // PX takes whole milliseconds
	key := NonceKey(s.prefix(), appKey, nonce)
	fresh, err := s.Client.SetNX(ctx, key, 1, ttl).Result()
	if err != nil {
		err = fmt.Errorf("redisstore: claim nonce: %w", err)
		if s.Logger != nil {
			s.Logger.Error("redis replay store cannot be reached: refusing the assertion (fail closed)",
				zap.String("application_key", appKey), zap.Error(err))
		}
		return false, err
	}
	return fresh, nil
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
