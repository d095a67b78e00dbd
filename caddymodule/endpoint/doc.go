// Package endpoint is what the three token endpoints of caddy-sinch-hms
// (sinch_hms, sinch_fcm, sinch_oauth_server) share, named for what it is:
//
//   - refusal.go: the one refusal table (reason label, HTTP status, OAuth
//     error) every module answers, logs and counts with;
//   - request.go: the token request checks they share (method, form,
//     grant_type, scope, the bearer credential);
//   - meter.go: counting, logging and writing a request's outcome;
//   - bearer.go: the `bearer { }` block (Alt A) and its verifier;
//   - store.go: the `replay_store` / `token_store` blocks and pooled Redis
//     clients;
//   - upstream.go, status.go, live.go: one pooled state per upstream
//     application (HMS app or FCM project): its token cache bound to its
//     fetcher, instrumentation, status and background refresher, created
//     and destroyed together, and the list the admin API reads;
//   - config.go, caddyfile.go: secrets, key files and the Caddyfile helpers.
//
// It is Caddy glue: the checks themselves live in the plain-Go packages
// (sinchauth, bearerauth, oauthresp, tokencache, hmsupstream, fcmupstream,
// oauthserver, redisstore), which import no Caddy.
package endpoint
