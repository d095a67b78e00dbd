package caddymodule

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/caddyserver/caddy/v2"

	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

// resolveSecret expands `{env.NAME}` and `{file./path}` placeholders in a
// configured secret. Unlike ReplaceAll, a missing variable or file is an
// error: an empty secret would otherwise slip through as a valid one.
func resolveSecret(raw string) (string, error) {
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

// decodeSinchSecret resolves and base64-decodes a Sinch Application Secret.
func decodeSinchSecret(raw string) ([]byte, error) {
	s, err := resolveSecret(raw)
	if err != nil {
		return nil, err
	}
	secret, err := sinchauth.DecodeSecret(s)
	if err != nil {
		return nil, err
	}
	return secret, nil
}
