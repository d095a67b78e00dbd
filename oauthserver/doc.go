// Package oauthserver is a minimal OAuth 2.0 Authorization Server for one
// grant: client credentials (RFC 6749 §4.4). It authenticates confidential
// clients by client_secret_post or client_secret_basic (RFC 6749 §2.3.1),
// checks the requested scope against an allow-list and issues RFC 9068 JWT
// access tokens signed with Ed25519, whose public key it publishes as a JWKS.
//
// It exists so that a customer without an Authorization Server of its own
// can still offer Sinch the "Alt A" bearer flow: the module's sinch_hms and
// sinch_fcm handlers verify these tokens. It knows nothing of Caddy.
package oauthserver
