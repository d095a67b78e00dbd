package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults applied by NewClient when the URL does not set them. A request
// waits on Redis while Sinch waits on us: a dead Redis must fail fast
// rather than after go-redis's 5s defaults and retries.
const (
	DefaultDialTimeout = 2 * time.Second
	DefaultIOTimeout   = time.Second
	DefaultMaxRetries  = 1
	// DefaultDialerRetries: go-redis dials 5 times, 100ms apart, per
	// attempt; against a Redis that refuses connections that alone keeps a
	// request waiting half a second before its 503.
	DefaultDialerRetries = 2
)

// DefaultPrefix starts every key this package writes.
const DefaultPrefix = "sinch_hms:"

// NewClient parses a Redis URL the way go-redis's ParseURL does
// (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, `unix://`
// for a socket, options as query parameters such as `dial_timeout=3s`) and
// returns a client. It does not connect: a Redis that is down at start-up
// must not stop the config from loading. The error never holds the password.
func NewClient(rawURL string) (*redis.Client, error) {
	opts, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opts), nil
}

// ParseURL is NewClient without the client: the options it would use.
func ParseURL(rawURL string) (*redis.Options, error) {
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("redis URL %s: %w", Redact(rawURL), scrub(err))
	}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DefaultDialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = DefaultIOTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = DefaultIOTimeout
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = DefaultMaxRetries
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = DefaultDialerRetries
	}
	return opts, nil
}

// Redact returns rawURL with its password replaced by "xxxxx", for logs and
// error messages; an unparsable URL is not shown at all.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// scrub drops an error text that quotes the URL (net/url does), so that a
// password in it does not reach a log.
func scrub(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return errors.New(ue.Err.Error())
	}
	return err
}
