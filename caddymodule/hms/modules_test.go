package hms

// The tests' Caddyfiles use every directive of the plugin.
import (
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule/authserver"
	_ "github.com/hmsgate/caddy-sinch-hms/caddymodule/fcm"
)
