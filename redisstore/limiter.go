package redisstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hmsgate/caddy-sinch-hms/authlimit"
)

// LimiterConfig configures a Limiter.
type LimiterConfig struct {
	// Client is the Redis connection (a *redis.Client, cluster or ring).
	Client redis.UniversalClient
	// Prefix starts every key; "" = DefaultPrefix.
	Prefix string
	// Policy is the limit; zero fields take authlimit's defaults. Every
	// instance sharing a Redis and Prefix must use the same policy.
	Policy authlimit.Policy
	// MaxKeys bounds the in-memory fallback; 0 = authlimit.DefaultMaxKeys.
	MaxKeys int
	// Timeout bounds one Redis call on the request path; 0 =
	// DefaultLimiterTimeout.
	Timeout time.Duration
	// Now is the clock (its milliseconds are what the script compares,
	// so instances should keep their clocks in sync); nil = time.Now.
	Now func() time.Time
	// OnError is told of each failed Redis call (for a warning); nil =
	// nothing. The error holds no address or client id.
	OnError func(error)
}

// DefaultLimiterTimeout bounds a limiter's Redis call: a token request
// waits on it before its secret is checked.
const DefaultLimiterTimeout = 500 * time.Millisecond

// Limiter is an authlimit.Limiter shared by every instance that uses the
// same Redis and Prefix: an attacker's guesses count on all of them.
//
// It fails open to memory, never closed: when Redis cannot answer (and for
// two seconds after, so an outage costs one slow call per instance rather
// than one per request), Allow
// asks an in-process authlimit.Memory limiter that has seen every failure
// of this instance (Failed and Succeeded always record there too). Failing
// closed would lock Sinch out whenever Redis is down, which is what this
// limit must never do; failing open without a limit would remove the
// bound for as long as the outage lasts. The fallback keeps a bound per
// instance (N instances: N times the rate) and the secret comparison itself
// never depends on Redis.
//
// Keys: prefix + "authlimit:{authlimit}:a:<sha256 of the address>" and
// ":c:<sha256 of the client id>", hashes of the GCRA state (tat, streak,
// locked, last) that expire Forget after the last failure. The one hash
// tag puts them all on one Cluster shard, so a single script sees an
// address and a client together; token requests are few (one per token
// lifetime per client), so the shard is not a hot spot. Addresses and ids
// are hashed: keys have one shape and leak neither.
type Limiter struct {
	client   redis.UniversalClient
	prefix   string
	policy   authlimit.Policy
	timeout  time.Duration
	now      func() time.Time
	onError  func(error)
	fallback *authlimit.Memory
	// downUntil (Unix ms, real time) skips Redis for a moment after a
	// failed call, so an outage costs one slow call, not one per request.
	downUntil atomic.Int64
}

// limiterBackoff is how long Redis is left alone after a failed call.
const limiterBackoff = 2 * time.Second

// NewLimiter checks cfg and returns a Limiter. It does not connect.
func NewLimiter(cfg LimiterConfig) (*Limiter, error) {
	if cfg.Client == nil {
		return nil, errors.New("redisstore: limiter without a Redis client")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mem, err := authlimit.NewMemory(authlimit.MemoryConfig{Policy: cfg.Policy, MaxKeys: cfg.MaxKeys, Now: cfg.Now})
	if err != nil {
		return nil, err
	}
	l := &Limiter{client: cfg.Client, prefix: cfg.Prefix, policy: mem.Policy(), timeout: cfg.Timeout,
		now: cfg.Now, onError: cfg.OnError, fallback: mem}
	if l.prefix == "" {
		l.prefix = DefaultPrefix
	}
	if l.timeout <= 0 {
		l.timeout = DefaultLimiterTimeout
	}
	return l, nil
}

// LimiterKeys are the Redis keys of an address and a client id.
func LimiterKeys(prefix, clientID, addr string) (addrKey, clientKey string) {
	h := func(s string) string {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:16])
	}
	return prefix + "authlimit:{authlimit}:a:" + h(addr), prefix + "authlimit:{authlimit}:c:" + h(clientID)
}

// limiterScript is authlimit.Policy's arithmetic (Decide, Fail, the end of
// a streak) over two keys. KEYS: address, client. ARGV: op ("allow",
// "fail", "ok"), now, burst, interval, lockout_after, lockout, forget (ms).
// "allow" answers the wait in ms (positive: refused); the others 0.
var limiterScript = redis.NewScript(`
local op = ARGV[1]
local now, burst, interval = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local after, lockout, forget = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
local function load(k)
	local v = redis.call("HMGET", k, "tat", "streak", "locked", "last")
	local s = {tat = tonumber(v[1]) or 0, streak = tonumber(v[2]) or 0, locked = tonumber(v[3]) or 0, last = tonumber(v[4]) or 0}
	if s.last == 0 or now - s.last >= forget then
		return {tat = 0, streak = 0, locked = 0, last = 0}
	end
	return s
end
local function wait(s)
	if s.last == 0 then return 0 end
	return math.max(s.tat - now - (burst - 1) * interval, s.locked - now)
end
if op == "allow" then
	local a = load(KEYS[1])
	local w = wait(a)
	if w <= 0 and a.streak > 0 then
		w = wait(load(KEYS[2]))
	end
	return math.max(w, 0)
end
if op == "fail" then
	for _, k in ipairs(KEYS) do
		local s = load(k)
		s.tat = math.max(s.tat, now) + interval
		s.streak = s.streak + 1
		s.last = now
		if s.streak >= after then s.locked = now + lockout end
		redis.call("HSET", k, "tat", s.tat, "streak", s.streak, "locked", s.locked, "last", s.last)
		redis.call("PEXPIRE", k, forget)
	end
	return 0
end
if redis.call("EXISTS", KEYS[1]) == 1 then
	redis.call("HSET", KEYS[1], "streak", 0)
end
return 0`)

func (l *Limiter) run(ctx context.Context, op, clientID, addr string) (int64, error) {
	if time.Now().UnixMilli() < l.downUntil.Load() {
		return 0, errSkipped
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	a, c := LimiterKeys(l.prefix, clientID, addr)
	p := l.policy
	n, err := limiterScript.Run(ctx, l.client, []string{a, c}, op, l.now().UnixMilli(), p.Burst,
		p.Interval.Milliseconds(), p.LockoutAfter, p.Lockout.Milliseconds(), p.Forget.Milliseconds()).Int64()
	if err != nil {
		l.downUntil.Store(time.Now().Add(limiterBackoff).UnixMilli())
		err = fmt.Errorf("redisstore: auth limiter %s (Redis left alone for %v): %w", op, limiterBackoff, err)
		if l.onError != nil {
			l.onError(err)
		}
	}
	return n, err
}

// errSkipped: Redis failed a moment ago and was not asked.
var errSkipped = errors.New("redisstore: auth limiter: Redis failed a moment ago")

// Allow implements authlimit.Limiter: Redis's answer, or the in-memory
// fallback's when Redis cannot answer.
func (l *Limiter) Allow(ctx context.Context, clientID, addr string) (time.Duration, bool) {
	wait, err := l.run(ctx, "allow", clientID, addr)
	if err != nil {
		return l.fallback.Allow(ctx, clientID, addr)
	}
	if wait > 0 {
		return authlimit.ToRetryAfter(wait), false
	}
	return 0, true
}

// Failed implements authlimit.Limiter, in Redis and in the fallback.
func (l *Limiter) Failed(ctx context.Context, clientID, addr string) {
	l.fallback.Failed(ctx, clientID, addr)
	_, _ = l.run(ctx, "fail", clientID, addr)
}

// Succeeded implements authlimit.Limiter, in Redis and in the fallback.
func (l *Limiter) Succeeded(ctx context.Context, clientID, addr string) {
	l.fallback.Succeeded(ctx, clientID, addr)
	_, _ = l.run(ctx, "ok", clientID, addr)
}

// Interface guard
var _ authlimit.Limiter = (*Limiter)(nil)
