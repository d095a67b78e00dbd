// Package bearerauth verifies OAuth 2.0 bearer access tokens issued by a
// customer's own Authorization Server ("Alt A" of Sinch's Huawei OAuth 2.0
// flow): JWT access tokens (RFC 9068) through a JWKS or a fixed public key,
// and opaque tokens through RFC 7662 token introspection.
//
// It is plain Go with no Caddy import, so that its checks can be tested and
// fuzzed on their own; caddymodule turns its errors into RFC 6750 answers.
//
// Every check fails closed: an error of any kind is a rejected token. A
// rejection carries a Reason from a small fixed set (for logs and metrics)
// and a Detail for the operator; neither ever holds the token itself.
package bearerauth
