package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sinch_fcm", parseFCMCaddyfile)
	// Like sinch_hms: before basic_auth, so no `order` line is needed.
	httpcaddyfile.RegisterDirectiveOrder("sinch_fcm", httpcaddyfile.Before, "basic_auth")
}

func parseFCMCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var f FCMHandler
	err := f.UnmarshalCaddyfile(h.Dispenser)
	return &f, err
}

// UnmarshalCaddyfile sets up the FCM handler from Caddyfile tokens. Syntax:
//
//	sinch_fcm [<matcher>] {
//	    bearer {
//	        public_key <path to PEM>    # or: jwks_url <url>
//	        issuer <iss>
//	        audience <aud>
//	        scope <required scope>...
//	    }
//	    fcm_project <project_number> <path to service-account JSON key>
//	    google_token_url <url>
//	    refresh_before <duration>
//	    token_store memory | redis [<url>] [{    # see parseRedisStore
//	        url <url>
//	        username <user>
//	        password <password>
//	        key_prefix <prefix>
//	    }]
//	}
//
// fcm_project repeats; the others may appear once.
func (h *FCMHandler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	return parseBlock(d, h, fcmSubdirectives, map[string]bool{"fcm_project": true})
}

var fcmSubdirectives = map[string]func(h *FCMHandler, d *caddyfile.Dispenser) error{
	"bearer": func(h *FCMHandler, d *caddyfile.Dispenser) error {
		cfg, err := parseBearer(d)
		if err != nil {
			return err
		}
		h.Bearer = cfg
		return nil
	},
	"fcm_project": func(h *FCMHandler, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("fcm_project needs exactly a project number and the path of a service-account key file")
		}
		if !projectNumberRE.MatchString(args[0]) {
			return d.Errf("fcm_project: project number %q is not a number (Firebase console: Project settings → General)", args[0])
		}
		h.Projects = append(h.Projects, FCMProject{ProjectNumber: args[0], KeyFile: args[1]})
		return nil
	},
	"google_token_url": func(h *FCMHandler, d *caddyfile.Dispenser) error {
		return parseSingle(d, &h.GoogleTokenURL)
	},
	"refresh_before": func(h *FCMHandler, d *caddyfile.Dispenser) error {
		return parseDuration(d, &h.RefreshBefore)
	},
	"token_store": func(h *FCMHandler, d *caddyfile.Dispenser) error {
		return parseStore(d, &h.TokenStore)
	},
}

// Interface guards
var _ caddyfile.Unmarshaler = (*FCMHandler)(nil)
