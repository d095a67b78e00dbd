package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// The Alt A subdirectives of sinch_hms join the table of caddyfile.go
// here, so that the bearer feature stays in its own files. (Package-level
// variables are initialised before any init function runs.)
func init() {
	subdirectives["bearer"] = func(h *Handler, d *caddyfile.Dispenser) error {
		cfg, err := parseBearer(d)
		if err != nil {
			return err
		}
		h.Bearer = cfg
		return nil
	}
	subdirectives["forward_credentials"] = func(h *Handler, d *caddyfile.Dispenser) error {
		if d.NextArg() {
			return d.ArgErr()
		}
		h.ForwardCredentials = true
		return nil
	}
}

// parseBearer parses a `bearer` block; d is positioned on `bearer`.
// Syntax:
//
//	bearer {
//	    jwks_url <url>                 # or: public_key <path to PEM>
//	    issuer <iss>
//	    audience <aud>
//	    scope <required scope>...
//	    introspection_url <url>        # for opaque tokens
//	    introspection_client <client_id> <client_secret>
//	    clock_skew <duration>          # default 60s
//	    jwks_refresh_interval <duration>      # default 1h
//	    jwks_min_refresh_interval <duration>  # default 1m
//	}
//
// Each subdirective may appear once. Placeholders are kept for Provision.
func parseBearer(d *caddyfile.Dispenser) (*BearerConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	b := new(BearerConfig)
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if seen[name] {
			return nil, d.Errf("bearer: subdirective %q given more than once", name)
		}
		seen[name] = true
		parse, ok := bearerSubdirectives[name]
		if !ok {
			return nil, d.Errf("bearer: unrecognized subdirective %q", name)
		}
		if err := parse(b, d); err != nil {
			return nil, err
		}
	}
	if err := b.validate(); err != nil {
		return nil, d.Errf("%v", err)
	}
	return b, nil
}

var bearerSubdirectives = map[string]func(b *BearerConfig, d *caddyfile.Dispenser) error{
	"jwks_url":          func(b *BearerConfig, d *caddyfile.Dispenser) error { return parseSingle(d, &b.JWKSURL) },
	"public_key":        func(b *BearerConfig, d *caddyfile.Dispenser) error { return parseSingle(d, &b.PublicKey) },
	"issuer":            func(b *BearerConfig, d *caddyfile.Dispenser) error { return parseSingle(d, &b.Issuer) },
	"audience":          func(b *BearerConfig, d *caddyfile.Dispenser) error { return parseSingle(d, &b.Audience) },
	"introspection_url": func(b *BearerConfig, d *caddyfile.Dispenser) error { return parseSingle(d, &b.IntrospectionURL) },
	"scope": func(b *BearerConfig, d *caddyfile.Dispenser) error {
		b.Scopes = d.RemainingArgs()
		if len(b.Scopes) == 0 {
			return d.ArgErr()
		}
		return nil
	},
	"introspection_client": func(b *BearerConfig, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("bearer: introspection_client needs exactly a client id and a client secret")
		}
		b.IntrospectionClientID, b.IntrospectionClientSecret = args[0], args[1]
		return nil
	},
	"clock_skew":            func(b *BearerConfig, d *caddyfile.Dispenser) error { return parseDuration(d, &b.ClockSkew) },
	"jwks_refresh_interval": func(b *BearerConfig, d *caddyfile.Dispenser) error { return parseDuration(d, &b.JWKSRefreshInterval) },
	"jwks_min_refresh_interval": func(b *BearerConfig, d *caddyfile.Dispenser) error {
		return parseDuration(d, &b.JWKSMinRefreshInterval)
	},
}
