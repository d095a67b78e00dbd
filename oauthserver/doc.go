// Package oauthserver is a minimal OAuth 2.0 Authorization Server for one
// grant: client credentials (RFC 6749 §4.4). It authenticates confidential
// clients by client_secret_post or client_secret_basic (RFC 6749 §2.3.1),
// checks the requested scope against an allow-list (the server's, or a
// client's own through Config.ClientScopes) and issues RFC 9068 JWT access
// tokens signed with Ed25519, whose public keys it publishes as a JWKS.
//
// It exists so that a customer without an Authorization Server of its own
// can still offer Sinch the "Alt A" bearer flow: the module's sinch_hms and
// sinch_fcm handlers verify these tokens. It knows nothing of Caddy.
//
// For the glue:
//
//   - New(Config{Clients, ClientScopes, Scopes, TokenLifetime, Keys,
//     Issuer, Audience, Limiter}) once per config load; Server.Token(ctx,
//     TokenRequest{Form, Authorization, Addr}) per POST; Server.JWKS() for
//     GET. Reasons() is the fixed set of Error.Reason values (metric
//     labels).
//   - Issuer and Audience are fixed configuration: default the issuer from
//     the site's configured host name (or require it), never from a
//     request's Host. Exchange, which takes them per call, is deprecated
//     and does not limit guessing.
//   - Keys: the first signs, all are in the JWKS with their RFC 7638
//     thumbprint as kid. Rotation: [old] → [old, new] on every instance and
//     verifier → [new, old] → a TokenLifetime later [new].
//   - Limiter (package authlimit): consulted before any secret is
//     compared; over the limit Token answers 429 invalid_client with
//     RetryAfter set, reason "rate_limited". nil = an in-memory limiter;
//     with a Redis store configured, pass a redisstore.Limiter so that
//     every instance counts the same guesses. Addr should be the client IP
//     Caddy trusts (its client_ip variable), else the connection's remote
//     address.
package oauthserver
