// Package caddymodule is the Caddy glue of caddy-sinch-hms.
package caddymodule
