// Package sinchauth validates Sinch's "Alt B" OAuth 2.0 client assertions:
// the HS256 JWTs Sinch signs with a per-day key derived from the Sinch
// Application Secret when it asks a customer's endpoint for a Huawei Push Kit
// (HMS) access token.
//
// The package is plain Go with no Caddy dependency so that the checks can be
// tested, fuzzed and benchmarked on their own; the Caddy module only maps a
// rejection's [Reason] to an OAuth 2.0 error answer, a metric label and a log
// line.
//
// The order of the checks matters and is fixed by [Validator.Validate]:
// cheap structural checks first, then the signature, then the claims, and the
// nonce is recorded last, so that nothing unverified is trusted and a
// rejected assertion never consumes a nonce.
package sinchauth
