// Package caddymodule is all the Caddy glue of caddy-sinch-hms, one
// package per Caddy module, as Caddy core gives caddyauth or encode theirs:
//
//	hms/         http.handlers.sinch_hms, its Caddyfile directive, the
//	             admin.api.sinch_hms routes and `caddy sinch-hms-assertion`
//	fcm/         http.handlers.sinch_fcm
//	authserver/  http.handlers.sinch_oauth_server and `caddy sinch-token-check`
//	endpoint/    what the three share: the refusal table, the request checks,
//	             the bearer and store blocks, secrets, the pooled state of each
//	             upstream application and the metrics helpers
//
// Importing this package registers every module, directive and command.
// The checks themselves live in plain-Go packages that import no Caddy.
package caddymodule

import (
	// The three modules; each registers itself.
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule/authserver"
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule/fcm"
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule/hms"
)
