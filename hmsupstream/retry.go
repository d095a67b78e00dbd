package hmsupstream

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/hmsgate/caddy-sinch-hms/tokencache"
)

// Retry defaults. Sinch calls the endpoint only when it needs a token and
// does not wait long, so every attempt and pause of one fetch fits in
// DefaultDeadline: a caller gets an answer, token or 503, within a few
// seconds whatever Huawei does.
const (
	DefaultMaxAttempts = 3
	DefaultDeadline    = 4 * time.Second
	DefaultBaseBackoff = 200 * time.Millisecond
	DefaultMaxBackoff  = time.Second
	// minAttempt is the least time left for another attempt to be worth
	// starting.
	minAttempt = 250 * time.Millisecond
)

// RetryPolicy bounds the attempts of one fetch. The zero value means the
// defaults above.
type RetryPolicy struct {
	// MaxAttempts is the most token requests per fetch (1 = no retry).
	MaxAttempts int
	// Deadline bounds all attempts and the pauses between them.
	Deadline time.Duration
	// BaseBackoff and MaxBackoff shape the pause before attempt n+1: a
	// uniformly random duration in [0, min(MaxBackoff, BaseBackoff*2^(n-1))]
	// ("full jitter", so that many instances do not retry in step).
	BaseBackoff, MaxBackoff time.Duration
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.Deadline <= 0 {
		p.Deadline = DefaultDeadline
	}
	if p.BaseBackoff <= 0 {
		p.BaseBackoff = DefaultBaseBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = DefaultMaxBackoff
	}
	return p
}

// backoff returns the jittered pause after the given failed attempt (1-based).
func (p RetryPolicy) backoff(attempt int) time.Duration {
	ceiling := p.MaxBackoff
	if shift := attempt - 1; shift < 30 {
		ceiling = min(p.BaseBackoff<<shift, p.MaxBackoff)
	}
	return rand.N(ceiling + 1)
}

// FetchTokenRetrying is FetchToken with retries, all within Retry.Deadline:
// a KindUnavailable failure (5xx, throttling, network error, timeout,
// malformed answer) is retried after a jittered exponential backoff, or
// after Huawei's Retry-After when that fits in the deadline (when it does
// not, the error is returned at once, carrying the Retry-After, so the
// cache can pause calls for that long). A KindRejected failure (Huawei
// refusing the App ID or secret) is never retried. OnRetry, if set, is told
// of each failed attempt that will be retried.
func (c *Client) FetchTokenRetrying(ctx context.Context, cred Credentials) (tokencache.Token, error) {
	p := c.Retry.withDefaults()
	ctx, cancel := context.WithTimeout(ctx, p.Deadline)
	defer cancel()
	deadline, _ := ctx.Deadline()

	for attempt := 1; ; attempt++ {
		tok, err := c.FetchToken(ctx, cred)
		if err == nil {
			return tok, nil
		}
		wait, retry := p.next(attempt, err, time.Until(deadline))
		if !retry || ctx.Err() != nil {
			return tokencache.Token{}, err
		}
		if c.OnRetry != nil {
			c.OnRetry(cred.AppID, attempt, err, wait)
		}
		if !sleep(ctx, wait) {
			return tokencache.Token{}, err
		}
	}
}

// next decides whether to retry after attempt failed with err, with left
// until the deadline, and how long to pause first.
func (p RetryPolicy) next(attempt int, err error, left time.Duration) (time.Duration, bool) {
	if attempt >= p.MaxAttempts || tokencache.KindOf(err) == tokencache.KindRejected || throttled(err) {
		return 0, false
	}
	wait := p.backoff(attempt)
	if ra := tokencache.RetryAfterOf(err); ra > 0 {
		wait = ra
	}
	if left-wait < minAttempt {
		return 0, false
	}
	return wait, true
}

// sleep pauses for d unless ctx ends first; it reports whether it slept.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// throttled reports whether Huawei answered 503 or 429 without saying when
// to come back: it is shedding load (its limit is 1,000 tokens per 5 minutes
// per app), so asking again within the same second only makes that worse.
// With a Retry-After that fits in the deadline, the retry waits that long.
func throttled(err error) bool {
	var ue *tokencache.UpstreamError
	if !errors.As(err, &ue) || ue.RetryAfter > 0 {
		return false
	}
	return ue.StatusCode == http.StatusServiceUnavailable || ue.StatusCode == http.StatusTooManyRequests
}
