package fcm

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
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
//	    token_store memory | redis [<url>] [{
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
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		if d.Val() != "fcm_project" {
			if err := endpoint.Once(d, seen); err != nil {
				return err
			}
		}
		var err error
		switch d.Val() {
		case "bearer":
			h.Bearer, err = endpoint.ParseBearer(d)
		case "fcm_project":
			args := d.RemainingArgs()
			switch {
			case len(args) != 2:
				return d.Errf("fcm_project needs exactly a project number and the path of a service-account key file")
			case !projectNumberRE.MatchString(args[0]):
				return d.Errf("fcm_project: project number %q is not a number (Firebase console: Project settings → General)", args[0])
			}
			h.Projects = append(h.Projects, FCMProject{ProjectNumber: args[0], KeyFile: args[1]})
		case "google_token_url":
			err = endpoint.ParseSingle(d, &h.GoogleTokenURL)
		case "refresh_before":
			err = endpoint.ParseDuration(d, &h.RefreshBefore)
		case "token_store":
			err = endpoint.ParseStore(d, &h.TokenStore)
		default:
			return endpoint.Unknown(d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*FCMHandler)(nil)
