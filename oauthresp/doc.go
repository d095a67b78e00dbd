// Package oauthresp speaks the HTTP side of an OAuth 2.0 token endpoint:
// strict parsing of the application/x-www-form-urlencoded request body and
// the RFC 6749 §5.1 / §5.2 and RFC 6750 §3 answers. It knows nothing of
// Caddy, Sinch or Huawei, so every token endpoint of the module (HMS, FCM,
// the embedded Authorization Server) answers the same way.
package oauthresp
