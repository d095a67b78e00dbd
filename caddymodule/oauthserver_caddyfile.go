package caddymodule

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("sinch_oauth_server", parseOAuthServerCaddyfile)
	// A terminal handler, ordered like sinch_hms so no `order` line is needed.
	httpcaddyfile.RegisterDirectiveOrder("sinch_oauth_server", httpcaddyfile.Before, "basic_auth")
}

func parseOAuthServerCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var s OAuthServer
	err := s.UnmarshalCaddyfile(h.Dispenser)
	return &s, err
}

// UnmarshalCaddyfile sets up the Authorization Server from Caddyfile
// tokens. Syntax:
//
//	sinch_oauth_server [<matcher>] {
//	    client <client_id> <client_secret>
//	    scope <scope>...
//	    token_lifetime <duration>
//	    signing_key <path to Ed25519 PKCS#8 PEM>
//	    issuer <iss>
//	    audience <aud>
//	}
//
// client repeats; the others may appear once. Secrets are best written as
// {env.NAME} or {file./path} placeholders.
func (s *OAuthServer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	return parseBlock(d, s, oauthServerSubdirectives, map[string]bool{"client": true})
}

var oauthServerSubdirectives = map[string]func(s *OAuthServer, d *caddyfile.Dispenser) error{
	"client": func(s *OAuthServer, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) != 2 {
			return d.Errf("client needs exactly a client_id and a client_secret")
		}
		s.Clients = append(s.Clients, OAuthClient{ClientID: args[0], ClientSecret: args[1]})
		return nil
	},
	"scope": func(s *OAuthServer, d *caddyfile.Dispenser) error {
		args := d.RemainingArgs()
		if len(args) == 0 {
			return d.ArgErr()
		}
		s.Scopes = append(s.Scopes, args...)
		return nil
	},
	"token_lifetime": func(s *OAuthServer, d *caddyfile.Dispenser) error {
		return parseDuration(d, &s.TokenLifetime)
	},
	"signing_key": func(s *OAuthServer, d *caddyfile.Dispenser) error {
		return parseSingle(d, &s.SigningKey)
	},
	"issuer": func(s *OAuthServer, d *caddyfile.Dispenser) error {
		return parseSingle(d, &s.Issuer)
	},
	"audience": func(s *OAuthServer, d *caddyfile.Dispenser) error {
		return parseSingle(d, &s.Audience)
	},
}

// Interface guards
var _ caddyfile.Unmarshaler = (*OAuthServer)(nil)
