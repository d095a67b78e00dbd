package endpoint

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
)

// Defaults the modules share.
const (
	DefaultClockSkew     = 60 * time.Second
	DefaultRefreshBefore = 5 * time.Minute
)

// OrDefault is d, or def when d is zero (unset).
func OrDefault(d caddy.Duration, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return time.Duration(d)
}

// maxKeyFile bounds a key file read at provisioning.
const maxKeyFile = 64 << 10

// ResolveSecret expands `{env.NAME}` and `{file./path}` placeholders in a
// configured secret. Unlike ReplaceAll, a missing variable or file is an
// error: an empty secret would otherwise slip through as a valid one.
func ResolveSecret(raw string) (string, error) {
	if raw == "" {
		return "", errors.New("empty")
	}
	if err := checkSecretSources(raw); err != nil {
		return "", err
	}
	s, err := caddy.NewReplacer().ReplaceOrErr(raw, true, true)
	if err != nil {
		return "", fmt.Errorf("placeholder could not be resolved: %w", err)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("resolves to an empty value")
	}
	return s, nil
}

// secretPlaceholder finds the {env.*} and {file.*} placeholders of a value.
var secretPlaceholder = regexp.MustCompile(`\{(env|file)\.([^{}]+)\}`)

// checkSecretSources says which placeholder cannot be resolved and why,
// before the replacer would only report an empty value: a variable that is
// not set, a file that cannot be read. Names and paths are not secrets.
func checkSecretSources(raw string) error {
	for _, m := range secretPlaceholder.FindAllStringSubmatch(raw, -1) {
		switch m[1] {
		case "env":
			if _, ok := os.LookupEnv(m[2]); !ok {
				return fmt.Errorf("placeholder %s: environment variable %s is not set", m[0], m[2])
			}
		case "file":
			f, err := os.Open(m[2])
			if err != nil {
				return fmt.Errorf("placeholder %s: file cannot be read: %w", m[0], errors.Unwrap(err))
			}
			f.Close()
		}
	}
	return nil
}

// ReadKeyFile reads a small key file whose path may hold placeholders.
func ReadKeyFile(raw string) ([]byte, error) {
	path, err := caddy.NewReplacer().ReplaceOrErr(raw, true, true)
	if err != nil {
		return nil, fmt.Errorf("placeholder could not be resolved: %w", err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxKeyFile)
	}
	return b, nil
}

// CheckHTTPURL accepts "" or an absolute http(s) URL.
func CheckHTTPURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
