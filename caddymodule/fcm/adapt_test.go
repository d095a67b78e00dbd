package fcm

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"
)

// TestAdaptAltAEndpoints pins the Caddyfile → JSON of sinch_oauth_server and
// sinch_fcm: both order themselves (no `order` line) and placeholders stay
// literal in the JSON the admin API would serve.
func TestAdaptAltAEndpoints(t *testing.T) {
	caddytest.AssertAdapt(t, `:8080 {
	route /oauth2/token {
		sinch_oauth_server {
			client sinch {env.SINCH_OAUTH_CLIENT_SECRET}
			signing_key {env.SIGNING_KEY_PATH}
			issuer https://auth.example.com
		}
	}
	route /fcm {
		sinch_fcm {
			bearer {
				public_key /etc/caddy/as.pub
				issuer https://auth.example.com
				audience https://auth.example.com
			}
			fcm_project 123456789012 /etc/caddy/sa.json
		}
	}
}`, "caddyfile", `{
	"apps": {
		"http": {
			"servers": {
				"srv0": {
					"listen": [
						":8080"
					],
					"routes": [
						{
							"match": [
								{
									"path": [
										"/oauth2/token"
									]
								}
							],
							"handle": [
								{
									"handler": "subroute",
									"routes": [
										{
											"handle": [
												{
													"clients": [
														{
															"client_id": "sinch",
															"client_secret": "{env.SINCH_OAUTH_CLIENT_SECRET}"
														}
													],
													"handler": "sinch_oauth_server",
													"issuer": "https://auth.example.com",
													"signing_key": "{env.SIGNING_KEY_PATH}"
												}
											]
										}
									]
								}
							]
						},
						{
							"match": [
								{
									"path": [
										"/fcm"
									]
								}
							],
							"handle": [
								{
									"handler": "subroute",
									"routes": [
										{
											"handle": [
												{
													"bearer": {
														"audience": "https://auth.example.com",
														"issuer": "https://auth.example.com",
														"public_key": "/etc/caddy/as.pub"
													},
													"handler": "sinch_fcm",
													"projects": [
														{
															"key_file": "/etc/caddy/sa.json",
															"project_number": "123456789012"
														}
													]
												}
											]
										}
									]
								}
							]
						}
					]
				}
			}
		}
	}
}`)
}
