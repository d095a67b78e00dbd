package authlimit

import (
	"context"
	"errors"
	"net/netip"
	"time"
)

// Limiter decides whether a client authentication may be attempted, and
// learns its outcome. Implementations are safe for concurrent use and
// never fail: a backend that cannot answer must fall back rather than
// lock the real client out.
type Limiter interface {
	// Allow reports whether a secret presented for clientID ("" for an id
	// that is no configured client) from addr may be compared. When it may
	// not, retryAfter is how long until it may (at least one millisecond).
	Allow(ctx context.Context, clientID, addr string) (retryAfter time.Duration, ok bool)
	// Failed records a compared secret that was wrong (or an unknown id).
	Failed(ctx context.Context, clientID, addr string)
	// Succeeded records a correct secret: addr is no longer failing.
	Succeeded(ctx context.Context, clientID, addr string)
}

// Policy shapes the limits of one key (an address or a client_id).
type Policy struct {
	// Burst is how many failures may come at once. Default 10.
	Burst int
	// Interval is the time in which one failure is forgiven: the steady
	// rate is one guess per Interval. Default 1s.
	Interval time.Duration
	// LockoutAfter is the length of a failure streak (no success between)
	// after which every further failure pauses the key for Lockout.
	// Default 100.
	LockoutAfter int
	// Lockout is that pause. Default 5m.
	Lockout time.Duration
	// Forget is how long after its last failure a key is forgotten (its
	// streak and bucket with it). At least Lockout and Burst×Interval.
	// Default 15m.
	Forget time.Duration
}

// Defaults of a Policy.
const (
	DefaultBurst        = 10
	DefaultInterval     = time.Second
	DefaultLockoutAfter = 100
	DefaultLockout      = 5 * time.Minute
	DefaultForget       = 15 * time.Minute
)

// DefaultPolicy is the policy of zero fields.
var DefaultPolicy = Policy{}.WithDefaults()

// WithDefaults returns p with each zero field set to its default.
func (p Policy) WithDefaults() Policy {
	if p.Burst == 0 {
		p.Burst = DefaultBurst
	}
	if p.Interval == 0 {
		p.Interval = DefaultInterval
	}
	if p.LockoutAfter == 0 {
		p.LockoutAfter = DefaultLockoutAfter
	}
	if p.Lockout == 0 {
		p.Lockout = DefaultLockout
	}
	if p.Forget == 0 {
		p.Forget = max(DefaultForget, p.Lockout, time.Duration(p.Burst)*p.Interval)
	}
	return p
}

// Validate checks a policy after WithDefaults.
func (p Policy) Validate() error {
	switch {
	case p.Burst < 1:
		return errors.New("authlimit: burst must be at least 1")
	case p.Interval < time.Millisecond:
		return errors.New("authlimit: interval must be at least 1ms")
	case p.LockoutAfter < 1:
		return errors.New("authlimit: lockout_after must be at least 1")
	case p.Lockout < 0:
		return errors.New("authlimit: negative lockout")
	case p.Forget < p.Lockout || p.Forget < time.Duration(p.Burst)*p.Interval:
		return errors.New("authlimit: forget must be at least the lockout and burst × interval")
	}
	return nil
}

// State is the record of one key, in milliseconds since the Unix epoch so
// that the Redis script keeps the very same numbers.
type State struct {
	TAT    int64 // GCRA theoretical arrival time: the bucket is full when TAT <= now
	Streak int64 // failures since the last success
	Locked int64 // paused until then
	Last   int64 // time of the last failure; 0 = no state
}

// fresh reports whether s still counts at now (not forgotten).
func (p Policy) fresh(s State, now int64) bool {
	return s.Last != 0 && now-s.Last < p.Forget.Milliseconds()
}

// Wait is how long a key in state s must wait at now before one more
// failure may be attempted; zero or less means now.
func (p Policy) Wait(s State, now int64) int64 {
	if !p.fresh(s, now) {
		return 0
	}
	wait := s.TAT - now - int64(p.Burst-1)*p.Interval.Milliseconds()
	return max(wait, s.Locked-now)
}

// Failing reports whether the key in state s has failed since its last
// success, within Forget.
func (p Policy) Failing(s State, now int64) bool { return p.fresh(s, now) && s.Streak > 0 }

// Fail is s after one more failure at now.
func (p Policy) Fail(s State, now int64) State {
	if !p.fresh(s, now) {
		s = State{}
	}
	s.TAT = max(s.TAT, now) + p.Interval.Milliseconds()
	s.Streak++
	s.Last = now
	if s.Streak >= int64(p.LockoutAfter) {
		s.Locked = now + p.Lockout.Milliseconds()
	}
	return s
}

// Decide is the rule of the package doc: the address's own wait, or, for
// an address that is failing, the client's wait. It returns the wait in
// milliseconds, positive when the attempt is refused.
func (p Policy) Decide(addr, client State, now int64) int64 {
	if w := p.Wait(addr, now); w > 0 {
		return w
	}
	if p.Failing(addr, now) {
		return p.Wait(client, now)
	}
	return 0
}

// AddrKey reduces a remote address (host:port, or a bare IP) to the key it
// is limited by: the IP, or for IPv6 its /64 prefix. Anything else is kept
// as is, cut to 64 bytes.
func AddrKey(remote string) string {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return ipKey(ap.Addr())
	}
	if ip, err := netip.ParseAddr(remote); err == nil {
		return ipKey(ip)
	}
	if len(remote) > 64 {
		remote = remote[:64]
	}
	return remote
}

func ipKey(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return ip.String()
	}
	pfx, _ := ip.Prefix(64) // cannot fail for an IPv6 address
	return pfx.String()
}

// ToRetryAfter converts a wait in milliseconds to a duration of at least
// one millisecond.
func ToRetryAfter(wait int64) time.Duration { return time.Duration(max(wait, 1)) * time.Millisecond }
