// Command caddy is Caddy with the sinch_hms module compiled in: the custom
// build main that Caddy documents, so that `go run ./cmd/caddy` builds from
// this checkout without looking our module path up on the module proxy.
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"

	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/hmsgate/caddy-sinch-hms"
)

func main() {
	caddycmd.Main()
}
