package authserver

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
	"github.com/hmsgate/caddy-sinch-hms/oauthserver"
)

// minClientSecretLen is the shortest client secret accepted, in
// characters: guesses are limited (a few per second per address), but a
// long random secret is what makes guessing hopeless.
const minClientSecretLen = 16

// Validate checks the configuration without changing it.
func (s *OAuthServer) Validate() error {
	switch {
	case len(s.Clients) == 0:
		return errors.New("no client configured: nobody could get a token")
	case len(s.keyFiles()) == 0:
		return errors.New("signing_key is required (an Ed25519 PKCS#8 PEM file shared by all instances)")
	case s.Issuer == "":
		return errors.New("issuer is required: the iss of issued tokens is fixed configuration, never a request's Host (the Caddyfile defaults it to the site's address)")
	case time.Duration(s.TokenLifetime) < 0:
		return errors.New("token_lifetime must not be negative")
	}
	for i, c := range s.Clients {
		if c.Scopes != nil && len(c.Scopes) == 0 {
			return fmt.Errorf("clients[%d]: an empty scope list: give it scopes or none", i)
		}
	}
	if err := s.LimitStore.Validate(); err != nil {
		return fmt.Errorf("limit_store: %w", err)
	}
	return nil
}

// keyFiles are the signing key files, the one that signs first.
func (s *OAuthServer) keyFiles() []string {
	var files []string
	if s.SigningKey != "" {
		files = append(files, s.SigningKey)
	}
	return append(files, s.SigningKeys...)
}

// resolveClients resolves the clients' secrets and collects their scopes.
func (s *OAuthServer) resolveClients() (map[string]string, map[string][]string, error) {
	clients := make(map[string]string, len(s.Clients))
	scopes := make(map[string][]string)
	for i, c := range s.Clients {
		if c.ClientID == "" {
			return nil, nil, fmt.Errorf("clients[%d]: client_id is empty", i)
		}
		if _, dup := clients[c.ClientID]; dup {
			return nil, nil, fmt.Errorf("client %q configured twice", c.ClientID)
		}
		secret, err := endpoint.ResolveSecret(c.ClientSecret)
		if err != nil {
			return nil, nil, fmt.Errorf("client %q: secret: %w", c.ClientID, err)
		}
		// Checked on the resolved value: a placeholder may stand for
		// anything. The error names the client, never the secret.
		if n := utf8.RuneCountInString(secret); n < minClientSecretLen {
			return nil, nil, fmt.Errorf("client %q: client_secret is shorter than %d characters (%d): use a long random secret, e.g. openssl rand -base64 32",
				c.ClientID, minClientSecretLen, n)
		}
		clients[c.ClientID] = secret
		if len(c.Scopes) > 0 {
			scopes[c.ClientID] = c.Scopes
		}
	}
	return clients, scopes, nil
}

// loadSigningKeys reads the PEM key files (placeholders expanded).
func loadSigningKeys(paths []string) ([]ed25519.PrivateKey, error) {
	keys := make([]ed25519.PrivateKey, 0, len(paths))
	for _, path := range paths {
		pemBytes, err := endpoint.ReadKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("signing_key: %w", err)
		}
		key, err := oauthserver.ParsePrivateKey(pemBytes)
		if err != nil {
			return nil, fmt.Errorf("signing_key %s: %w", path, err)
		}
		keys = append(keys, key)
	}
	return keys, nil
}
