package authserver

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/hmsgate/caddy-sinch-hms/caddymodule/endpoint"
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
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		if d.Val() != "client" {
			if err := endpoint.Once(d, seen); err != nil {
				return err
			}
		}
		var err error
		switch d.Val() {
		case "client":
			args := d.RemainingArgs()
			if len(args) != 2 {
				return d.Errf("client needs exactly a client_id and a client_secret")
			}
			s.Clients = append(s.Clients, OAuthClient{ClientID: args[0], ClientSecret: args[1]})
		case "scope":
			err = endpoint.ParseArgs(d, &s.Scopes)
		case "token_lifetime":
			err = endpoint.ParseDuration(d, &s.TokenLifetime)
		case "signing_key":
			err = endpoint.ParseSingle(d, &s.SigningKey)
		case "issuer":
			err = endpoint.ParseSingle(d, &s.Issuer)
		case "audience":
			err = endpoint.ParseSingle(d, &s.Audience)
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
var _ caddyfile.Unmarshaler = (*OAuthServer)(nil)
