package caddymodule

import (
	"errors"
	"fmt"
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
