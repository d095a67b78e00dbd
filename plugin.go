// Package sinchhms is the package xcaddy imports: building Caddy with
// `xcaddy build --with github.com/hmsgate/caddy-sinch-hms` compiles in the
// modules registered by caddymodule (http.handlers.sinch_hms and the
// sinch-hms-assertion command). The code lives in the subpackages; see
// README.md for the layout.
package sinchhms

import (
	// Registers the Caddy modules, the Caddyfile directive and the CLI command.
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule"
)
