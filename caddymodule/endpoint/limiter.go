package endpoint

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/internal/testhook"
	"github.com/hmsgate/caddy-sinch-hms/redisstore"
)

// GuessLimiter returns the limiter of failed client authentications for
// the Authorization Server named scope (its issuer): in this process's
// memory, or through Redis when the store is redis (sc may be nil:
// memory). The limiter lives in the pool, so a config reload keeps every
// address's bucket: an attacker does not get a fresh burst per reload.
// The Redis limiter falls back to its own memory limiter while Redis
// cannot answer (redisstore.Limiter); its client is the store's pooled one.
// Its clock is testhook.Now: a pooled value must not keep the clock of
// whichever handler created it.
func (sc *StoreConfig) GuessLimiter(logger *zap.Logger, holds *Holds, scope string) (authlimit.Limiter, error) {
	if !sc.IsRedis() {
		return Pooled(holds, "sinch_oauth_server.limiter/memory/"+scope, func() (authlimit.Limiter, error) {
			return authlimit.NewMemory(authlimit.MemoryConfig{Now: testhook.Now})
		})
	}
	c, _, err := sc.client(logger, holds)
	if err != nil {
		return nil, err
	}
	// The pooled client's address names it while any config holds it. Two
	// scopes get two limiters (each with its own memory fallback) that
	// share their counts through Redis only, as two instances do.
	key := fmt.Sprintf("sinch_oauth_server.limiter/redis/%p/%s/%s", c, sc.keyPrefix(), scope)
	return Pooled(holds, key, func() (authlimit.Limiter, error) {
		return redisstore.NewLimiter(redisstore.LimiterConfig{
			Client: c,
			Prefix: sc.keyPrefix(),
			Now:    testhook.Now,
			OnError: func(err error) {
				logger.Warn("guess limiter: redis cannot answer; counting failed client authentications in this instance's memory for now",
					zap.Error(err))
			},
		})
	})
}
