package authserver

// The tests' Caddyfiles use every directive of the plugin.
import (
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule/fcm"
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule/hms"
)
