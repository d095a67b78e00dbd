package endpoint

import (
	"slices"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Caddyfile helpers the three directives share.

// Once refuses a subdirective given a second time: d is on its name, seen
// holds the names met so far in the block. Repeatable subdirectives are
// not passed to it.
func Once(d *caddyfile.Dispenser, seen map[string]bool) error {
	if seen[d.Val()] {
		return d.Errf("subdirective %q given more than once", d.Val())
	}
	seen[d.Val()] = true
	return nil
}

// Unknown is the error of a subdirective the block does not know.
func Unknown(d *caddyfile.Dispenser) error {
	return d.Errf("unrecognized subdirective %q", d.Val())
}

// ParseSingle reads the one argument of the subdirective d is on into dst.
func ParseSingle(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// ParseDuration reads the one positive duration of the subdirective d is
// on into dst.
func ParseDuration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	var s string
	if err := ParseSingle(d, &s); err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(s)
	if err != nil {
		return d.Errf("%s: bad duration %q: %v", d.Val(), s, err)
	}
	if dur <= 0 {
		return d.Errf("duration %q must be positive", s)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// ParseBearer parses a `bearer` block; d is positioned on `bearer`.
// Syntax:
//
//	bearer {
//	    jwks_url <url>                 # or: public_key <path to PEM or JWK Set>...
//	    issuer <iss>...
//	    audience <aud>...
//	    scope <required scope>...
//	    introspection_url <url>        # for opaque tokens
//	    introspection_client <client_id> <client_secret>
//	    clock_skew <duration>          # default 60s
//	    jwks_refresh_interval <duration>      # default 1h
//	    jwks_min_refresh_interval <duration>  # default 1m
//	}
//
// public_key, issuer and audience repeat (or take several values): every
// key verifies (chosen by kid), every issuer and audience is accepted.
// The others may appear once. Placeholders are kept for Provision.
func ParseBearer(d *caddyfile.Dispenser) (*BearerConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	b := new(BearerConfig)
	seen := make(map[string]bool)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if seen[d.Val()] && !bearerRepeatable[d.Val()] {
			return nil, d.Errf("bearer: subdirective %q given more than once", d.Val())
		}
		seen[d.Val()] = true
		var err error
		switch d.Val() {
		case "jwks_url":
			err = ParseSingle(d, &b.JWKSURL)
		case "public_key":
			err = parseOneAndMore(d, &b.PublicKey, &b.PublicKeys)
		case "issuer":
			err = parseOneAndMore(d, &b.Issuer, &b.Issuers)
		case "audience":
			err = parseOneAndMore(d, &b.Audience, &b.Audiences)
		case "scope":
			err = ParseArgs(d, &b.Scopes)
		case "introspection_url":
			err = ParseSingle(d, &b.IntrospectionURL)
		case "introspection_client":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return nil, d.Errf("bearer: introspection_client needs exactly a client id and a client secret")
			}
			b.IntrospectionClientID, b.IntrospectionClientSecret = args[0], args[1]
		case "clock_skew":
			err = ParseDuration(d, &b.ClockSkew)
		case "jwks_refresh_interval":
			err = ParseDuration(d, &b.JWKSRefreshInterval)
		case "jwks_min_refresh_interval":
			err = ParseDuration(d, &b.JWKSMinRefreshInterval)
		default:
			return nil, d.Errf("bearer: unrecognized subdirective %q", d.Val())
		}
		if err != nil {
			return nil, err
		}
	}
	if err := b.Validate(); err != nil {
		return nil, d.Errf("%v", err)
	}
	return b, nil
}

// bearerRepeatable are the bearer subdirectives that may repeat.
var bearerRepeatable = map[string]bool{"public_key": true, "issuer": true, "audience": true}

// parseOneAndMore reads the values of a repeatable subdirective: the first
// of the block into one (so a one-value config's JSON is as before), the
// others into more. A value given twice is an error.
func parseOneAndMore(d *caddyfile.Dispenser, one *string, more *[]string) error {
	name := d.Val()
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	for _, v := range args {
		if v == "" {
			return d.Errf("bearer: %s is empty", name)
		}
		if v == *one || slices.Contains(*more, v) {
			return d.Errf("bearer: %s %s given twice", name, v)
		}
		if *one == "" {
			*one = v
		} else {
			*more = append(*more, v)
		}
	}
	return nil
}

// ParseFlag sets a subdirective that takes no argument.
func ParseFlag(d *caddyfile.Dispenser, dst *bool) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	*dst = true
	return nil
}

// ParseArgs appends the one or more arguments of the subdirective d is on
// to dst.
func ParseArgs(d *caddyfile.Dispenser, dst *[]string) error {
	args := d.RemainingArgs()
	if len(args) == 0 {
		return d.ArgErr()
	}
	*dst = append(*dst, args...)
	return nil
}
