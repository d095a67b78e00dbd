package hms

import (
	"fmt"
	"strings"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
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
//	    replay_store memory|redis [<url>] [{
//	        url <url>
//	        username <user>
//	        password <password>
//	        key_prefix <prefix>
//	    }]
//	    bearer {                   # Alt A
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
// sinch_application and hms_application repeat; every other subdirective
// may appear once. Secrets are best written as {env.NAME} or {file./path}
// placeholders, which are expanded when the config is provisioned and so
// never appear in the adapted JSON.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	file, line := d.File(), d.Line()
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		if name := d.Val(); name != "sinch_application" && name != "hms_application" {
			if err := endpoint.Once(d, seen); err != nil {
				return err
			}
		}
		var err error
		switch d.Val() {
		case "sinch_application":
			err = h.parseSinchApplication(d)
		case "audience":
			err = endpoint.ParseArgs(d, &h.Audiences)
		case "clock_skew":
			err = endpoint.ParseDuration(d, &h.ClockSkew)
		case "max_assertion_lifetime":
			err = endpoint.ParseDuration(d, &h.MaxAssertionLifetime)
		case "replay_store":
			err = endpoint.ParseStore(d, &h.ReplayStore)
		case "bearer":
			h.Bearer, err = endpoint.ParseBearer(d)
		case "hms_application":
			err = h.parseHMSApplication(d)
		case "huawei_token_url":
			if err = endpoint.ParseSingle(d, &h.HuaweiTokenURL); err == nil {
				if err = endpoint.CheckHTTPURL(h.HuaweiTokenURL); err != nil {
					err = d.Errf("huawei_token_url: %v", err)
				}
			}
		case "refresh_before":
			err = endpoint.ParseDuration(d, &h.RefreshBefore)
		case "token_store":
			err = endpoint.ParseStore(d, &h.TokenStore)
		case "forward":
			err = endpoint.ParseFlag(d, &h.Forward)
		case "forward_credentials":
			err = endpoint.ParseFlag(d, &h.ForwardCredentials)
		case "disable_metrics":
			err = endpoint.ParseFlag(d, &h.DisableMetrics)
		default:
			return endpoint.Unknown(d)
		}
		if err != nil {
			return err
		}
	}
	// A block that could never hand out a token, reported with the
	// directive's line (Validate says the same for JSON configs).
	for _, problem := range []struct {
		bad bool
		err error
	}{
		{len(h.HMSApplications) == 0, errNoHMSApp},
		{len(h.SinchApplications) == 0 && h.Bearer == nil, errNoCredential},
	} {
		if problem.bad {
			return fmt.Errorf("%w, at %s:%d", problem.err, file, line)
		}
	}
	return nil
}

// parseSinchApplication reads `sinch_application <key> <secret>...`. A
// secret written literally is decoded here, so that a bad one is reported
// with its line; one written as a placeholder is checked in Provision.
func (h *Handler) parseSinchApplication(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) < 2 {
		return d.Errf("sinch_application needs an application key and at least one secret")
	}
	for i, secret := range args[1:] {
		if strings.Contains(secret, "{") {
			continue
		}
		if _, err := sinchauth.DecodeSecret(secret); err != nil {
			return d.Errf("sinch_application %s: secret #%d: %v", args[0], i+1, err)
		}
	}
	h.SinchApplications = append(h.SinchApplications, SinchApplication{ApplicationKey: args[0], Secrets: args[1:]})
	return nil
}

// parseHMSApplication reads `hms_application <App ID> <App secret>`.
func (h *Handler) parseHMSApplication(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	switch {
	case len(args) != 2:
		return d.Errf("hms_application needs exactly an HMS App ID and an App secret")
	case args[1] == "":
		return d.Errf("hms_application %s: the App secret is empty", args[0])
	}
	for _, app := range h.HMSApplications {
		if app.AppID == args[0] {
			return d.Errf("hms_application %s configured twice", args[0])
		}
	}
	h.HMSApplications = append(h.HMSApplications, HMSApplication{AppID: args[0], AppSecret: args[1]})
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*Handler)(nil)
