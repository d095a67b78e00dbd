// Package bearerauth verifies OAuth 2.0 bearer access tokens issued by a
// customer's own Authorization Server ("Alt A" of Sinch's Huawei OAuth 2.0
// flow): JWT access tokens (RFC 9068) through a JWKS or fixed public keys,
// and opaque tokens through RFC 7662 token introspection.
//
// It is plain Go with no Caddy import, so that its checks can be tested and
// fuzzed on their own; caddymodule turns its errors into RFC 6750 answers.
//
// Key sources (JWTConfig.Keys):
//
//   - NewJWKS: the AS's jwks_url, refreshed in the background and on an
//     unknown kid (rate-limited); a token must name its key by kid.
//   - NewStaticKeys: fixed public keys (several `public_key` files, or
//     ParsePublicKeysPEM of one file holding several blocks), each known by
//     its RFC 7638 thumbprint — the kid the embedded Authorization Server
//     (package oauthserver) writes. With several keys a token must name one
//     by kid (ReasonMissingKID, ReasonUnknownKey); with one, as with
//     NewStaticKey, it need not.
//   - NewJWKSFromJSON: a JWK Set file, checked as a fetched JWKS is.
//
// Signing-key rotation of the embedded server (no valid token refused at
// any step): give server and verifiers [old, new] and reload all; then
// [new, old]; a token lifetime later [new]. TestSigningKeyRotation walks it.
//
// Issuers and audiences: JWTConfig and IntrospectionConfig take one
// Issuer/Audience and further Issuers/Audiences; iss must equal one of
// them and aud must be, or contain, one of them.
//
// Introspection: positive answers are cached (CacheTTL, never past exp),
// refusals the AS's answer justifies for NegativeCacheTTL (30s), each cache
// bounded by CacheSize and keyed by the token's SHA-256, never the token.
// Calls on the AS are bounded by a token bucket (Rate per second, Burst at
// once; default 10/s, 20): an opaque token in neither cache over the bound
// is refused with ReasonIntrospectionThrottled, so 300 forged tokens cost
// at most Burst calls. Temporary(err) is true for that reason and for
// ReasonIntrospection: the token was not checked, and the caller should
// answer 503 temporarily_unavailable with Retry-After, not 401 (a good
// token must not look revoked because of someone else's flood).
//
// Every check fails closed: an error of any kind is a rejected token. A
// rejection carries a Reason from a small fixed set (Reasons(), for logs
// and metrics) and a Detail for the operator; neither ever holds the token
// itself.
package bearerauth
