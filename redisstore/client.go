package redisstore

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
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

// Credentials are a username and password given beside the URL, never
// inside it: a password in a URL must be percent-encoded, and one holding
// `/`, `?`, `#`, `%` or `@` breaks the URL if it is not. Any bytes go here.
type Credentials struct {
	Username string
	Password string
}

// NewClient parses a Redis URL the way go-redis's ParseURL does
// (`redis://[user:password@]host[:port][/db]`, `rediss://` for TLS, `unix://`
// for a socket, options as query parameters such as `dial_timeout=3s`) and
// returns a client, with cred (if set) as its username and password. It
// does not connect: a Redis that is down at start-up must not stop the
// config from loading. The error never holds any part of the URL's
// userinfo nor of cred.
func NewClient(rawURL string, cred ...Credentials) (*redis.Client, error) {
	opts, err := ParseURL(rawURL, cred...)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opts), nil
}

// ParseURL is NewClient without the client: the options it would use.
func ParseURL(rawURL string, cred ...Credentials) (*redis.Options, error) {
	opts, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	for _, c := range cred {
		if c.Password != "" {
			if opts.Password != "" {
				return nil, errors.New("redis: the URL holds a password and a password is given beside it too: give it once, beside the URL")
			}
			opts.Password = c.Password
		}
		if c.Username != "" {
			if opts.Username != "" {
				return nil, errors.New("redis: the URL holds a username and a username is given beside it too: give it once")
			}
			opts.Username = c.Username
		}
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

// parseURL is go-redis's ParseURL with errors that show nothing of the URL
// but its scheme. A URL with a fragment is refused: Redis has no use for
// one, and a password holding `#` would otherwise parse, cut short, with
// the rest of it taken for a fragment (and the start for a port).
func parseURL(rawURL string) (*redis.Options, error) {
	if strings.Contains(rawURL, "#") {
		return nil, urlError(rawURL, "it holds '#'")
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, urlError(rawURL, reason(err))
	}
	return opts, nil
}

// urlError is the one error of an unparsable URL: generic, since a
// password in the URL that breaks it ends up in any part of it (host,
// port, path, query option), and so in any error quoting that part.
func urlError(rawURL, why string) error {
	msg := "redis URL: cannot parse (the URL is not shown: it may hold a password)"
	if scheme := safeScheme(rawURL); scheme != "" {
		msg += ", scheme " + strconv.Quote(scheme)
	}
	return fmt.Errorf("%s: %s; a password holding / ? # %% @ or a space must be percent-encoded in the URL, or given with the password option instead", msg, why)
}

// optionErrRE matches go-redis's errors about a query option's value; the
// name is one go-redis knows (it names the option it was reading), the
// value after it is not shown.
var optionErrRE = regexp.MustCompile(`^redis: invalid ([a-z_]{1,40}) (number|duration|boolean)`)

// reason says why go-redis refused a URL, in fixed words: never a part of
// the URL.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return "not a valid URL"
	}
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "redis: invalid URL scheme"):
		return "invalid URL scheme (supported: redis://, rediss://, unix://)"
	case strings.HasPrefix(msg, "redis: invalid database number"):
		return "invalid database number (the path must be /<number>)"
	case strings.HasPrefix(msg, "redis: invalid URL path"):
		return "invalid URL path (the path must be /<number>)"
	case strings.HasPrefix(msg, "redis: empty unix socket path"):
		return "empty unix socket path"
	case strings.HasPrefix(msg, "redis: unexpected option"):
		return "unknown query option"
	}
	if m := optionErrRE.FindStringSubmatch(msg); m != nil {
		return "query option " + m[1] + ": invalid " + m[2]
	}
	return "not a valid Redis URL"
}

// safeScheme is the URL's scheme when the URL starts with `<scheme>://`
// (so that it stands before any userinfo) and looks like one.
func safeScheme(rawURL string) string {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok || len(scheme) == 0 || len(scheme) > 10 {
		return ""
	}
	for i, r := range scheme {
		letter := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
		if !letter && (i == 0 || !(r >= '0' && r <= '9' || r == '+' || r == '-' || r == '.')) {
			return ""
		}
	}
	return scheme
}

// Redact describes the Redis a URL points at, for logs and error
// messages: `redis://host:port/db` (`rediss://` with TLS, `unix://path`),
// built from the parsed options, never from the URL's text, so that it
// holds no username, password, query or fragment. An unparsable URL is
// not shown at all.
func Redact(rawURL string) string {
	opts, err := parseURL(rawURL)
	if err != nil {
		return "(unparsable URL)"
	}
	return Describe(opts)
}

// Describe is Redact for parsed options.
func Describe(opts *redis.Options) string {
	if opts.Network == "unix" {
		return "unix://" + opts.Addr + "?db=" + strconv.Itoa(opts.DB)
	}
	scheme := "redis"
	if opts.TLSConfig != nil {
		scheme = "rediss"
	}
	return scheme + "://" + opts.Addr + "/" + strconv.Itoa(opts.DB)
}
