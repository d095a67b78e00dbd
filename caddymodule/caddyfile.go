package caddymodule

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hmsgate/caddy-sinch-hms/sinchauth"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sinch_hms", parseCaddyfile)
	// Like caddy-ratelimit: an auth handler runs before basic_auth (and so
	// before reverse_proxy and respond), and users need no `order` line.
	httpcaddyfile.RegisterDirectiveOrder("sinch_hms", httpcaddyfile.Before, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var handler Handler
	err := handler.UnmarshalCaddyfile(h.Dispenser)
	return &handler, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	sinch_hms [<matcher>] {
//	    sinch_application <application_key> <secret_base64> [<secret_base64>...]
//	    audience <url>...
//	    clock_skew <duration>
//	    max_assertion_lifetime <duration>
//	    replay_store memory|redis [<url>] [{    # see parseRedisStore
//	        url <url>
//	        username <user>
//	        password <password>
//	        key_prefix <prefix>
//	    }]
//	    bearer {                   # Alt A; see parseBearer
//	        jwks_url <url> | public_key <path>
//	        issuer <iss>
//	        audience <aud>
//	        scope <scope>...
//	        introspection_url <url>
//	        introspection_client <client_id> <client_secret>
//	    }
//	    hms_application <hms_app_id> <hms_app_secret>
//	    huawei_token_url <url>
//	    refresh_before <duration>
//	    token_store memory|redis [<url>] [{ ... }]   # as replay_store
//	    forward
//	    forward_credentials
//	    disable_metrics
//	}
//
// bearer and forward_credentials are registered in bearer_caddyfile.go.
// sinch_application and hms_application repeat; every other subdirective
// may appear once. Secrets are best written as {env.NAME} or {file./path}
// placeholders, which are expanded when the config is provisioned and so
// never appear in the adapted JSON.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	file, line := d.File(), d.Line()
	if err := parseBlock(d, h, subdirectives, repeatable); err != nil {
		return err
	}
	return h.checkBlock(file, line)
}

// parseBlock parses the block of the directive d is on: each subdirective
// goes to its parser in parsers (positioned on its name); an unknown one, or
// one not in repeatable given twice, is an error naming its line. The three
// directives of the module share it.
func parseBlock[T any](d *caddyfile.Dispenser, h T, parsers map[string]func(T, *caddyfile.Dispenser) error,
	repeatable map[string]bool) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		name := d.Val()
		if !repeatable[name] && seen[name] {
			return d.Errf("subdirective %q given more than once", name)
		}
		seen[name] = true
		parse, ok := parsers[name]
		if !ok {
			return d.Errf("unrecognized subdirective %q", name)
		}
		if err := parse(h, d); err != nil {
			return err
		}
	}
	return nil
}

// checkBlock reports, with the directive's line, a block that could never
// hand out a token. Validate says the same for JSON configs, which have no
// lines to name.
func (h *Handler) checkBlock(file string, line int) error {
	var problem string
	switch {
	case len(h.HMSApplications) == 0:
		problem = "sinch_hms: no hms_application configured: there would be no token to hand out"
	case len(h.SinchApplications) == 0 && h.Bearer == nil:
		problem = "sinch_hms: no sinch_application (Alt B) and no bearer (Alt A) configured: Sinch could not authenticate"
	default:
		return nil
	}
	return fmt.Errorf("%s, at %s:%d", problem, file, line)
}

// repeatable are the subdirectives that may be given more than once.
var repeatable = map[string]bool{"sinch_application": true, "hms_application": true}

// subdirectives parse one line (or block) each; d is positioned on the
// subdirective's name.
var subdirectives = map[string]func(h *Handler, d *caddyfile.Dispenser) error{
	"sinch_application": func(h *Handler, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) < 2 {
			return d.Errf("sinch_application needs an application key and at least one secret")
		}
		for i, secret := range args[1:] {
			if err := checkLiteralSecret(secret); err != nil {
				return d.Errf("sinch_application %s: secret #%d: %v", args[0], i+1, err)
			}
		}
		h.SinchApplications = append(h.SinchApplications, SinchApplication{ApplicationKey: args[0], Secrets: args[1:]})
		return nil
	},
	"audience": func(h *Handler, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		h.Audiences = append(h.Audiences, args...)
		return nil
	},
	"clock_skew": func(h *Handler, d *caddyfile.Dispenser) error {
		return parseDuration(d, &h.ClockSkew)
	},
	"max_assertion_lifetime": func(h *Handler, d *caddyfile.Dispenser) error {
		return parseDuration(d, &h.MaxAssertionLifetime)
	},
	"replay_store": func(h *Handler, d *caddyfile.Dispenser) error {
		return parseStore(d, &h.ReplayStore)
	},
	"hms_application": func(h *Handler, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("hms_application needs exactly an HMS App ID and an App secret")
		}
		if args[1] == "" {
			return d.Errf("hms_application %s: the App secret is empty", args[0])
		}
		for _, app := range h.HMSApplications {
			if app.AppID == args[0] {
				return d.Errf("hms_application %s configured twice", args[0])
			}
		}
		h.HMSApplications = append(h.HMSApplications, HMSApplication{AppID: args[0], AppSecret: args[1]})
		return nil
	},
	"huawei_token_url": func(h *Handler, d *caddyfile.Dispenser) error {
		if err := parseSingle(d, &h.HuaweiTokenURL); err != nil {
			return err
		}
		if err := checkHTTPURL(h.HuaweiTokenURL); err != nil {
			return d.Errf("huawei_token_url: %v", err)
		}
		return nil
	},
	"refresh_before": func(h *Handler, d *caddyfile.Dispenser) error {
		return parseDuration(d, &h.RefreshBefore)
	},
	"token_store": func(h *Handler, d *caddyfile.Dispenser) error {
		return parseStore(d, &h.TokenStore)
	},
	"forward": func(h *Handler, d *caddyfile.Dispenser) error {
		if d.NextArg() {
			return d.ArgErr()
		}
		h.Forward = true
		return nil
	},
	"disable_metrics": func(h *Handler, d *caddyfile.Dispenser) error {
		if d.NextArg() {
			return d.ArgErr()
		}
		h.DisableMetrics = true
		return nil
	},
}

func parseSingle(d *caddyfile.Dispenser, dst *string) error {
	if !d.NextArg() {
		return d.ArgErr()
	}
	*dst = d.Val()
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

func parseDuration(d *caddyfile.Dispenser, dst *caddy.Duration) error {
	var s string
	if err := parseSingle(d, &s); err != nil {
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

func parseStore(d *caddyfile.Dispenser, dst **StoreConfig) error {
	name := d.Val()
	if !d.NextArg() {
		return d.ArgErr()
	}
	switch backend := d.Val(); backend {
	case "memory":
		*dst = &StoreConfig{Backend: backend}
	case "redis":
		return parseRedisStore(d, name, dst)
	default:
		if !optionName.MatchString(backend) { // a URL, maybe with a password, without `redis` before it
			return d.Errf("%s: unknown backend (not shown: it may hold a password; supported: memory, redis <url>)", name)
		}
		return d.Errf("%s: unknown backend %q (supported: memory, redis)", name, backend)
	}
	if d.NextArg() {
		return d.ArgErr()
	}
	return nil
}

// checkLiteralSecret decodes a Sinch secret written literally in the
// Caddyfile, so that a bad one is reported with its line number. Secrets
// written as placeholders are checked when they are resolved, in Provision.
func checkLiteralSecret(secret string) error {
	if strings.Contains(secret, "{") {
		return nil
	}
	_, err := sinchauth.DecodeSecret(secret)
	return err
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
