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

// parseOAuthServerCaddyfile parses the directive and, without `issuer`,
// sets the issuer to the site's address: known when the Caddyfile is
// adapted, so the JSON config shows it. A site with no fixed host (`:8080`,
// a wildcard) or several needs `issuer`; the error names the directive's
// line.
func parseOAuthServerCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var s OAuthServer
	if err := s.UnmarshalCaddyfile(h.Dispenser); err != nil {
		return nil, err
	}
	if s.Issuer == "" {
		issuer, err := defaultIssuer(h)
		if err != nil {
			h.Reset()
			h.Next()
			return nil, h.Errf("no issuer: %v; set `issuer <https://your.host>` (the iss of issued tokens is never taken from a request's Host)", err)
		}
		s.Issuer = issuer
	}
	return &s, nil
}

// UnmarshalCaddyfile sets up the Authorization Server from Caddyfile
// tokens. Syntax:
//
//	sinch_oauth_server [<matcher>] {
//	    client <client_id> <client_secret> [{
//	        scope <scope>...        # this client's scopes (default: all of scope)
//	    }]
//	    scope <scope>...
//	    token_lifetime <duration>
//	    signing_key <path to Ed25519 PKCS#8 PEM>
//	    issuer <iss>                # default: the site's address
//	    audience <aud>              # default: the issuer
//	    limit_store memory|redis <url> [{ ... }]   # where guesses are counted
//	}
//
// client and signing_key repeat (the first signing_key signs; all are in
// the JWKS); the others may appear once. Secrets are best written as
// {env.NAME} or {file./path} placeholders.
func (s *OAuthServer) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // the directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := make(map[string]bool)
	for d.NextBlock(0) {
		if d.Val() != "client" && d.Val() != "signing_key" {
			if err := endpoint.Once(d, seen); err != nil {
				return err
			}
		}
		var err error
		switch d.Val() {
		case "client":
			err = s.parseClient(d)
		case "scope":
			err = endpoint.ParseArgs(d, &s.Scopes)
		case "token_lifetime":
			err = endpoint.ParseDuration(d, &s.TokenLifetime)
		case "signing_key":
			var path string
			if err = endpoint.ParseSingle(d, &path); err == nil {
				err = s.addSigningKey(d, path)
			}
		case "issuer":
			err = endpoint.ParseSingle(d, &s.Issuer)
		case "audience":
			err = endpoint.ParseSingle(d, &s.Audience)
		case "limit_store":
			err = endpoint.ParseStore(d, &s.LimitStore)
		default:
			return endpoint.Unknown(d)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// parseClient reads `client <id> <secret> [{ scope ... }]`.
func (s *OAuthServer) parseClient(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.Errf("client needs exactly a client_id and a client_secret")
	}
	c := OAuthClient{ClientID: args[0], ClientSecret: args[1]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch d.Val() {
		case "scope":
			if err := endpoint.ParseArgs(d, &c.Scopes); err != nil {
				return err
			}
		default:
			return d.Errf("client %s: unrecognized subdirective %q (client takes scope)", c.ClientID, d.Val())
		}
	}
	s.Clients = append(s.Clients, c)
	return nil
}

// addSigningKey adds a signing_key line: the first to SigningKey (the JSON
// of a one-key config is as before), the others to SigningKeys.
func (s *OAuthServer) addSigningKey(d *caddyfile.Dispenser, path string) error {
	for _, p := range s.keyFiles() {
		if p == path {
			return d.Errf("signing_key %s given twice", path)
		}
	}
	if s.SigningKey == "" {
		s.SigningKey = path
	} else {
		s.SigningKeys = append(s.SigningKeys, path)
	}
	return nil
}

// Interface guards
var _ caddyfile.Unmarshaler = (*OAuthServer)(nil)
