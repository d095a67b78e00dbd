package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// Defaults of SharedFetcher.
const (
	// DefaultLockTTL outlives one Huawei fetch (5s timeout) with room to
	// spare, and is short enough that a crashed holder blocks nobody for long.
	DefaultLockTTL = 10 * time.Second
	// DefaultWaitMax bounds how long an instance waits for another's fetch
	// before it fetches for itself.
	DefaultWaitMax = 3 * time.Second
	// DefaultPollInterval is how often a waiting instance looks for the result.
	DefaultPollInterval = 50 * time.Millisecond
)

// releaseScript deletes KEYS[1] only if it still holds our value: a holder
// whose lock expired must not release the next holder's, and a failed
// nonce claim must not release another's claim of that nonce.
var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
	return redis.call("DEL", KEYS[1])
end
return 0`)

// SharedFetcher is a tokencache.Fetcher that shares one upstream token
// between every instance using the same Redis key. Put it behind a
// tokencache.Cache: the cache answers warm requests from memory and calls
// Fetch only when its token is missing or due for refresh.
//
// Fetch returns the token in Redis if it has more than MinLife left.
// Otherwise one instance takes a short lock (SET NX PX), fetches through
// Inner and stores the token, sealed with AES-256-GCM under EncKey, until it
// expires; the others poll for that token for at most WaitMax, then fetch
// through Inner themselves (the holder may have died). If Redis cannot
// answer, Fetch falls back to Inner: tokens are not a security boundary, and
// Huawei being reachable is reason enough to serve.
type SharedFetcher struct {
	// Client is the Redis connection.
	Client redis.UniversalClient
	// Key holds the sealed token (see TokenKey); the lock is Key + ":lock".
	Key string
	// EncKey seals the token at rest (see DeriveKey); 32 bytes.
	EncKey []byte
	// Inner fetches from the upstream.
	Inner tokencache.Fetcher
	// MinLife: a shared token is used only with more than this left. Set it
	// to the cache's RefreshBefore, or the cache would find the token stale
	// at once and ask again.
	MinLife time.Duration
	// LockTTL is how long the fetch lock lives; 0 = DefaultLockTTL.
	LockTTL time.Duration
	// WaitMax bounds the wait for another instance's fetch; 0 = DefaultWaitMax.
	WaitMax time.Duration
	// PollInterval is how often a waiter looks; 0 = DefaultPollInterval.
	PollInterval time.Duration
	// Now is the clock for token lifetimes; nil = time.Now.
	Now func() time.Time
	// Logger receives warnings (Redis unreachable, lock holder silent,
	// unreadable entry); nil = none. It never receives a token.
	Logger *zap.Logger
}

// Fetch implements tokencache.Fetcher.
func (f *SharedFetcher) Fetch(ctx context.Context) (tokencache.Token, error) {
	tok, ok, err := f.load(ctx)
	if err != nil {
		return f.fetchLocal(ctx, "redis token store cannot be reached: fetching without it", err, false)
	}
	if ok {
		return tok, nil
	}
	timeout := time.NewTimer(orDefault(f.WaitMax, DefaultWaitMax))
	defer timeout.Stop()
	poll := time.NewTicker(orDefault(f.PollInterval, DefaultPollInterval))
	defer poll.Stop()
	for {
		lock, held, err := f.lock(ctx)
		if err != nil {
			return f.fetchLocal(ctx, "redis token store cannot be reached: fetching without it", err, false)
		}
		if held {
			return f.fetchHolding(ctx, lock)
		}
		select {
		case <-ctx.Done():
			return tokencache.Token{}, context.Cause(ctx)
		case <-timeout.C:
			return f.fetchLocal(ctx, "another instance holds the token lock but stored no token in time: fetching locally", nil, true)
		case <-poll.C:
		}
		if tok, ok, err = f.load(ctx); err != nil {
			return f.fetchLocal(ctx, "redis token store cannot be reached: fetching without it", err, false)
		} else if ok {
			return tok, nil
		}
	}
}

// load reads the shared token; ok is false when there is none usable (none,
// too close to expiry, or unreadable). err is a Redis failure.
func (f *SharedFetcher) load(ctx context.Context) (tokencache.Token, bool, error) {
	raw, err := f.Client.Get(ctx, f.Key).Bytes()
	if errors.Is(err, redis.Nil) {
		return tokencache.Token{}, false, nil
	}
	if err != nil {
		return tokencache.Token{}, false, fmt.Errorf("redisstore: read token: %w", err)
	}
	tok, err := open(f.EncKey, f.Key, raw)
	if err != nil {
		f.warn("shared token in redis cannot be opened (tampered, or sealed with another App secret): replacing it",
			zap.Error(err))
		return tokencache.Token{}, false, nil
	}
	return tok, tok.ExpiresAt.Sub(f.now()) > f.MinLife, nil
}

// lock tries to take the fetch lock; held reports success, value is what
// releases it.
func (f *SharedFetcher) lock(ctx context.Context) (value string, held bool, err error) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	value = hex.EncodeToString(b)
	held, err = f.Client.SetNX(ctx, lockKey(f.Key), value, orDefault(f.LockTTL, DefaultLockTTL)).Result()
	if err != nil {
		return "", false, fmt.Errorf("redisstore: take token lock: %w", err)
	}
	return value, held, nil
}

// fetchHolding runs with the lock held: look once more (the previous
// holder may have stored its token between our read and our lock), else
// fetch, store, release.
func (f *SharedFetcher) fetchHolding(ctx context.Context, lock string) (tokencache.Token, error) {
	defer f.unlock(ctx, lock)
	if tok, ok, err := f.load(ctx); err == nil && ok {
		return tok, nil
	}
	tok, err := f.Inner.Fetch(ctx)
	if err != nil {
		return tokencache.Token{}, err
	}
	f.store(ctx, tok)
	return tok, nil
}

// fetchLocal fetches without coordination, logging why; with share, the
// token is stored for the others.
func (f *SharedFetcher) fetchLocal(ctx context.Context, why string, cause error, share bool) (tokencache.Token, error) {
	if cause != nil {
		f.warn(why, zap.Error(cause))
	} else {
		f.warn(why)
	}
	tok, err := f.Inner.Fetch(ctx)
	if err == nil && share {
		f.store(ctx, tok)
	}
	return tok, err
}

// store seals tok into Redis until it expires. A failure only costs other
// instances a fetch of their own, so it is logged, not returned.
func (f *SharedFetcher) store(ctx context.Context, tok tokencache.Token) {
	if tok.FetchedAt.IsZero() {
		tok.FetchedAt = f.now()
	}
	ttl := tok.ExpiresAt.Sub(f.now())
	if tok.AccessToken == "" || ttl < time.Millisecond {
		return
	}
	sealed, err := seal(f.EncKey, f.Key, tok)
	if err == nil {
		err = f.Client.Set(ctx, f.Key, sealed, ttl).Err()
	}
	if err != nil {
		f.warn("shared token could not be stored in redis", zap.Error(err))
	}
}

// unlock releases the lock if it is still ours. It runs even when ctx has
// ended, so a cancelled caller does not leave the lock to expire.
func (f *SharedFetcher) unlock(ctx context.Context, lock string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultIOTimeout)
	defer cancel()
	if err := releaseScript.Run(ctx, f.Client, []string{lockKey(f.Key)}, lock).Err(); err != nil {
		f.warn("token lock could not be released; it expires by itself", zap.Error(err))
	}
}

func (f *SharedFetcher) warn(msg string, fields ...zap.Field) {
	if f.Logger != nil {
		f.Logger.Warn(msg, append(fields, zap.String("key", f.Key))...)
	}
}

func (f *SharedFetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Interface guard
var _ tokencache.Fetcher = (*SharedFetcher)(nil)
